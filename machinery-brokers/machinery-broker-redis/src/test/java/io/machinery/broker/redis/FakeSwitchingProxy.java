package io.machinery.broker.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A fake of a failover behind one address (a DNS name or a TCP proxy that moves to the new
 * primary), which no real server here does: forwards every connection to one Redis port until
 * {@link #switchTo} cuts every open connection and sends the new ones to another.
 *
 * <p>Thread-safe; a virtual thread per direction of each connection. {@link #close()} stops it.
 */
final class FakeSwitchingProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final List<Socket> open = new CopyOnWriteArrayList<>();
  private volatile int target;

  private FakeSwitchingProxy(int target) throws IOException {
    this.target = target;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().name("fake-proxy-accept").start(this::accept);
  }

  /** A proxy on a free port of 127.0.0.1 to the Redis on {@code target}. */
  static FakeSwitchingProxy to(int target) throws IOException {
    return new FakeSwitchingProxy(target);
  }

  /** Its {@code redis://} URL. */
  String url() {
    return "redis://127.0.0.1:" + listener.getLocalPort();
  }

  /** Cuts every open connection; new ones go to the Redis on {@code port}. */
  void switchTo(int port) {
    target = port;
    for (Socket socket : open) {
      closeQuietly(socket);
    }
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        Socket server = new Socket(InetAddress.getLoopbackAddress(), target);
        open.add(client);
        open.add(server);
        pump(client, server);
        pump(server, client);
      } catch (IOException e) {
        // closed, or the target refused: the client sees its connection fail
      }
    }
  }

  private void pump(Socket from, Socket to) {
    Thread.ofVirtual()
        .name("fake-proxy-pump")
        .start(
            () -> {
              try (InputStream in = from.getInputStream();
                  OutputStream out = to.getOutputStream()) {
                in.transferTo(out);
              } catch (IOException e) {
                // cut
              } finally {
                closeQuietly(from);
                closeQuietly(to);
                open.remove(from);
                open.remove(to);
              }
            });
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // closing anyway
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
    switchTo(target);
  }
}
