package io.machinery.client.redis;

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
 * A redis-server process a test starts for a topology the shared test servers do not offer (Sentinel, TLS,
 * unix socket), on 127.0.0.1 and a free port; closing it stops that process (by its handle) and nothing else.
 */
final class OwnRedisServer implements AutoCloseable {
  private final Process process;
  final int port;
  final Path directory;

  private OwnRedisServer(Process process, int port, Path directory) {
    this.process = process;
    this.port = port;
    this.directory = directory;
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** Starts {@code redis-server <args>} in a fresh directory; {@code port} is what it listens on (TCP or TLS). */
  static OwnRedisServer start(Path directory, int port, List<String> args) throws IOException {
    io.machinery.testkit.TestEndpoints.requireTool(Files.isExecutable(Path.of("/usr/bin/redis-server")) || onPath("redis-server"),
        "no redis-server binary to start a server of this test's own");
    List<String> command = new ArrayList<>(List.of("redis-server"));
    command.addAll(args);
    Process process = new ProcessBuilder(command).directory(directory.toFile())
        .redirectErrorStream(true).redirectOutput(directory.resolve("redis.log").toFile()).start();
    OwnRedisServer server = new OwnRedisServer(process, port, directory);
    await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
      if (!process.isAlive()) {
        throw new IllegalStateException("redis-server exited: " + Files.readString(directory.resolve("redis.log")));
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

  private static boolean onPath(String binary) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, binary))) {
        return true;
      }
    }
    return false;
  }

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
