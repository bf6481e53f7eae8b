package io.machinery.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A test server of {@code scripts/services.sh} frozen with {@code SIGSTOP} until {@link #close()}
 * sends {@code SIGCONT}: to a client it is a server that stopped answering (hung, or a host gone
 * without a reset), its connections open and unread. Only for tests tagged {@code disruptive}: the
 * server is shared.
 *
 * <pre>{@code
 * try (FrozenServer frozen = FrozenServer.freeze("mongodb", TestEndpoints.mongodbUri())) {
 *   // calls into it now wait for their timeouts
 * }
 * }</pre>
 */
public final class FrozenServer implements AutoCloseable {
  private final long pid;
  private boolean thawed;

  private FrozenServer(long pid) {
    this.pid = pid;
  }

  /**
   * Freezes the process of {@code service} (its pid file {@code $MACHINERY_RUN_DIR/<service>/
   * <service>.pid}); skips the test, or fails it where services are required, unless that file
   * exists and {@code endpoint} is on this machine.
   */
  public static FrozenServer freeze(String service, String endpoint) throws IOException {
    String runDir = System.getenv().getOrDefault("MACHINERY_RUN_DIR", "/tmp/machinery-services");
    Path pidFile = Path.of(runDir, service, service + ".pid");
    TestEndpoints.requireTool(
        Files.isReadable(pidFile)
            && endpoint.matches("([a-z+]+://)?(127\\.0\\.0\\.1|localhost)[:/].*"),
        "the services.sh " + service + " on this machine (" + pidFile + ") to freeze");
    long pid = Long.parseLong(Files.readString(pidFile).strip());
    signal("STOP", pid);
    return new FrozenServer(pid);
  }

  /** Thaws the server ({@code SIGCONT}); idempotent. */
  @Override
  public void close() throws IOException {
    if (!thawed) {
      signal("CONT", pid);
      thawed = true;
    }
  }

  private static void signal(String name, long pid) throws IOException {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
    try {
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        throw new IOException("kill -" + name + " " + pid + " failed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted sending SIG" + name + " to " + pid, e);
    }
  }
}
