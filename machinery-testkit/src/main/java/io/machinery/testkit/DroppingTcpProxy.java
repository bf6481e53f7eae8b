package io.machinery.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy (to Redis, say) for tests of lost connections: {@link #cut()} closes every connection
 * and refuses new ones (as a Redis restart or a network partition would), {@link #resume()} listens
 * again on the same port.
 */
public final class DroppingTcpProxy implements AutoCloseable {
  private final String targetHost;
  private final int targetPort;
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
  private volatile ServerSocket server;
  private final int port;

  private DroppingTcpProxy(String targetHost, int targetPort) throws IOException {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.server = listen(0);
    this.port = server.getLocalPort();
    acceptOn(server);
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

  private static ServerSocket listen(int port) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress("127.0.0.1", port));
    return s;
  }

  private void acceptOn(ServerSocket s) {
    Thread.ofVirtual()
        .name("dropping-proxy-accept")
        .start(
            () -> {
              while (!s.isClosed()) {
                try {
                  Socket client = s.accept();
                  Socket upstream = new Socket(targetHost, targetPort);
                  sockets.add(client);
                  sockets.add(upstream);
                  pump(client, upstream);
                  pump(upstream, client);
                } catch (IOException e) {
                  // closed by cut()
                }
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
              }
            });
  }

  /** Closes every connection and stops listening: connects are refused until {@link #resume}. */
  public void cut() {
    closeQuietly(server);
    for (Socket s : sockets) {
      closeQuietly(s);
    }
    sockets.clear();
  }

  /** Listens again on the same port. */
  public void resume() throws IOException {
    server = listen(port);
    acceptOn(server);
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
