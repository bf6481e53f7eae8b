package io.machinery.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy (to Redis, say) for tests of lost connections and failovers: {@link #cut()} closes
 * every connection and refuses new ones (as a Redis restart or a network partition would), {@link
 * #resume()} listens again on the same port, and {@link #switchTo} sends the connections made from
 * then on to another server while those made before stay where they are (as when a failover moves a
 * DNS name or a virtual IP), unless {@link #dropConnections} ends those too. Not a fake: the bytes
 * reach the real servers.
 */
public final class DroppingTcpProxy implements AutoCloseable {
  private volatile InetSocketAddress target;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private final AtomicInteger accepted = new AtomicInteger();
  private volatile ServerSocket server;

  /**
   * The thread accepting on {@link #server}. A virtual thread parked in {@code accept()} keeps the
   * listening socket open after {@code close()} until it runs again, so {@link #cut} waits for it:
   * otherwise a {@link #resume} right after found the port still taken.
   */
  private volatile Thread acceptor;

  private final int port;

  private DroppingTcpProxy(String targetHost, int targetPort) throws IOException {
    this.target = InetSocketAddress.createUnresolved(targetHost, targetPort);
    this.server = listen(0);
    this.port = server.getLocalPort();
    this.acceptor = acceptOn(server);
  }

  /**
   * Starts a proxy to {@code targetHost:targetPort} on a free port of 127.0.0.1.
   *
   * @param targetHost the server's host
   * @param targetPort the server's port
   * @return the proxy, listening; close it
   * @throws IOException when it cannot listen
   */
  public static DroppingTcpProxy start(String targetHost, int targetPort) throws IOException {
    return new DroppingTcpProxy(targetHost, targetPort);
  }

  /**
   * The port the proxy listens on (the same after {@link #resume}).
   *
   * @return the port
   */
  public int port() {
    return port;
  }

  /**
   * Sends the connections made from now on to {@code host:port}; those made before stay on the
   * server they reach.
   *
   * @param host the new server's host
   * @param port the new server's port
   */
  public void switchTo(String host, int port) {
    target = InetSocketAddress.createUnresolved(host, port);
  }

  /**
   * How many connections the proxy has accepted so far (a client's reconnects among them).
   *
   * @return the count
   */
  public int accepted() {
    return accepted.get();
  }

  private static ServerSocket listen(int port) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress("127.0.0.1", port));
    return s;
  }

  private Thread acceptOn(ServerSocket s) {
    return Thread.ofVirtual()
        .name("dropping-proxy-accept")
        .start(
            () -> {
              while (!s.isClosed()) {
                Socket client;
                try {
                  client = s.accept();
                } catch (IOException e) {
                  continue; // closed by cut()
                }
                accepted.incrementAndGet();
                InetSocketAddress to = target;
                Socket upstream = new Socket();
                try {
                  upstream.connect(new InetSocketAddress(to.getHostString(), to.getPort()));
                } catch (IOException e) {
                  closeQuietly(client); // the target refused: the client sees its connection end
                  continue;
                }
                sockets.add(client);
                sockets.add(upstream);
                pump(client, upstream);
                pump(upstream, client);
              }
            });
  }

  private void pump(Socket from, Socket to) {
    Thread.ofVirtual()
        .name("dropping-proxy-pump")
        .start(
            () -> {
              byte[] buffer = new byte[8192];
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                  out.write(buffer, 0, n);
                  out.flush();
                }
              } catch (IOException e) {
                // cut
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                sockets.remove(from);
                sockets.remove(to);
              }
            });
  }

  /**
   * Closes every open connection and goes on listening: with {@link #switchTo} first, a failover
   * behind one address (a DNS name or a virtual IP moved to the new primary) that also ends the
   * connections to the old one, so that clients reconnect to the new one.
   */
  public void dropConnections() {
    for (Socket s : sockets) {
      closeQuietly(s);
    }
  }

  /** Closes every connection and stops listening: connects are refused until {@link #resume}. */
  public void cut() {
    closeQuietly(server);
    try {
      acceptor.join(java.time.Duration.ofSeconds(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Socket s : sockets) {
      closeQuietly(s);
    }
    sockets.clear();
  }

  /** Listens again on the same port. */
  public void resume() throws IOException {
    server = listen(port);
    acceptor = acceptOn(server);
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // ignore
    }
  }

  @Override
  public void close() {
    cut();
  }
}
