package io.machinery.backend.memcache;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A TCP proxy in front of a real memcached (text protocol) that forwards every command, except that
 * the first command line matching {@link #cutOn} is not forwarded: the proxy drops that client
 * connection instead (a network blip at exactly that command). Later connections are forwarded as
 * usual.
 */
final class CuttingProxy implements AutoCloseable {
  private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
  private final InetSocketAddress upstream;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final AtomicInteger cuts = new AtomicInteger();
  private volatile Predicate<String> cutOn = line -> false;
  private volatile boolean forwardFirst;

  CuttingProxy(InetSocketAddress upstream) throws IOException {
    this.upstream = upstream;
    Thread.ofPlatform().daemon().name("cutting-proxy").start(this::accept);
  }

  int port() {
    return server.getLocalPort();
  }

  /** Arms the cut: the next command line matching {@code predicate} drops its connection. */
  void cutOn(Predicate<String> predicate) {
    forwardFirst = false;
    cutOn = predicate;
  }

  /**
   * Arms the cut after the command: the next command matching {@code predicate} reaches memcached
   * (which carries it out), and then the client's connection drops before the answer reaches it.
   */
  void cutAfter(Predicate<String> predicate) {
    forwardFirst = true;
    cutOn = predicate;
  }

  int cuts() {
    return cuts.get();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket up = new Socket(upstream.getHostString(), upstream.getPort());
        sockets.add(client);
        sockets.add(up);
        Thread.ofPlatform().daemon().start(() -> pump(up, client));
        Thread.ofPlatform().daemon().start(() -> commands(client, up));
      } catch (IOException e) {
        // closed
      }
    }
  }

  private static void pump(Socket from, Socket to) {
    try {
      from.getInputStream().transferTo(to.getOutputStream());
    } catch (IOException e) {
      // one side went away
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private void commands(Socket client, Socket up) {
    boolean closeUpstream = true;
    try {
      InputStream in = new BufferedInputStream(client.getInputStream());
      OutputStream out = up.getOutputStream();
      while (true) {
        byte[] line = line(in);
        if (line == null) {
          return;
        }
        String text = new String(line, StandardCharsets.US_ASCII).strip();
        Predicate<String> cut = cutOn;
        boolean cutHere = cut.test(text);
        if (cutHere) {
          cutOn = l -> false;
          cuts.incrementAndGet();
          if (!forwardFirst) {
            return; // finally: both sides closed, the command never reaches memcached
          }
        }
        out.write(line);
        String[] tokens = text.split(" ");
        if (isStorage(tokens[0]) && tokens.length >= 5) {
          int bytes = Integer.parseInt(tokens[4]);
          out.write(in.readNBytes(bytes + 2));
        }
        out.flush();
        if (cutHere) {
          // memcached has the whole command before it sees the end of the stream: it carries it
          // out; its answer finds the client gone
          // (the upstream side stays open until the answer has come: the pump closes it)
          closeUpstream = false;
          client.close();
          return;
        }
      }
    } catch (IOException e) {
      // one side went away
    } finally {
      closeQuietly(client);
      if (closeUpstream) {
        closeQuietly(up);
      }
    }
  }

  private static boolean isStorage(String command) {
    return switch (command) {
      case "set", "add", "replace", "append", "prepend", "cas" -> true;
      default -> false;
    };
  }

  /** A line with its CRLF; null at the end of the stream. */
  private static byte[] line(InputStream in) throws IOException {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    int previous = -1;
    for (int b = in.read(); b != -1; b = in.read()) {
      buffer.write(b);
      if (previous == '\r' && b == '\n') {
        return buffer.toByteArray();
      }
      previous = b;
    }
    return null;
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket socket : sockets) {
      closeQuietly(socket);
    }
  }
}
