package io.machinery.testkit;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A redis-server process a test starts for what the shared test servers do not offer (Sentinel,
 * TLS, a unix socket, a server the test may stop), on 127.0.0.1 and a free port; closing it stops
 * that process (by its handle, SIGTERM, so it saves its data) and nothing else. Starting it again
 * on the same directory and port brings the same data back when the arguments ask for persistence
 * ({@code --appendonly yes}).
 */
public final class OwnRedisServer implements AutoCloseable {
  private final Process process;
  private final int port;
  private final Path directory;

  private OwnRedisServer(Process process, int port, Path directory) {
    this.process = process;
    this.port = port;
    this.directory = directory;
  }

  /** The port it listens on. */
  public int port() {
    return port;
  }

  /** Its working directory (data, {@code redis.log}). */
  public Path directory() {
    return directory;
  }

  /** A TCP port free on 127.0.0.1 right now. */
  public static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /**
   * Starts {@code redis-server <args>} in a fresh directory; {@code port} is what it listens on
   * (TCP or TLS).
   */
  public static OwnRedisServer start(Path directory, int port, List<String> args)
      throws IOException {
    TestEndpoints.requireTool(
        Files.isExecutable(Path.of("/usr/bin/redis-server")) || onPath("redis-server"),
        "no redis-server binary to start a server of this test's own");
    List<String> command = new ArrayList<>(List.of("redis-server"));
    command.addAll(args);
    Process process =
        new ProcessBuilder(command)
            .directory(directory.toFile())
            .redirectErrorStream(true)
            .redirectOutput(directory.resolve("redis.log").toFile())
            .start();
    OwnRedisServer server = new OwnRedisServer(process, port, directory);
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              if (!process.isAlive()) {
                throw new IllegalStateException(
                    "redis-server exited: " + Files.readString(directory.resolve("redis.log")));
              }
              try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return true;
              } catch (IOException e) {
                return false;
              }
            });
    return server;
  }

  /**
   * Starts a plain server of a test's own (TCP on 127.0.0.1 and a free port, nothing saved), for a
   * test that counts what reaches Redis ({@code INFO}) without other tests' traffic.
   */
  public static OwnRedisServer startPlain(Path directory) throws IOException {
    int port = freePort();
    return start(directory, port, plainArgs(port));
  }

  /**
   * The arguments of a plain server on {@code port} (TCP on 127.0.0.1, no snapshots), then {@code
   * more} ({@code "--appendonly", "yes"} for one whose data outlives a restart, {@code
   * "--maxmemory", "4mb"}, ...).
   */
  public static List<String> plainArgs(int port, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of("--port", Integer.toString(port), "--bind", "127.0.0.1", "--save", ""));
    args.addAll(List.of(more));
    return List.copyOf(args);
  }

  /** Its {@code redis://} URL (for a server listening on plain TCP). */
  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  private static boolean onPath(String binary) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, binary))) {
        return true;
      }
    }
    return false;
  }

  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and waits until it is gone. */
  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
