package io.machinery.cli;

import io.machinery.dashboard.Dashboard;
import io.machinery.internal.GoDurations;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code machinery dashboard}: serves the web dashboard over the deployment the global options
 * name, prints its address and blocks until interrupted (Ctrl-C).
 *
 * <p>Design notes: the dashboard is the library's own {@link Dashboard} on the session's server, so
 * the CLI and an embedded dashboard show the same. The command is the application here, so it
 * installs a shutdown hook (the library never does): on Ctrl-C the hook interrupts the command's
 * thread and waits for it to close the dashboard and the server's connections, instead of the JVM
 * dropping them mid-request. Run from code (the tests), interrupting the thread that runs the
 * command ends it the same way, with exit code 0, and the hook is removed again. The token can come
 * from {@value #TOKEN_ENV} so that it does not show in the process list. {@code --read-timeout} and
 * {@code --max-concurrent-reads} are the builder's read bounds, checked by it: a value it refuses
 * is a usage error that names the option.
 */
@Command(
    name = "dashboard",
    description =
        "Serve the web dashboard of this deployment (queues, tasks, workers, periodic entries) until"
            + " interrupted")
final class DashboardCommand extends CliCommand {
  /** The environment variable read when {@code --token} is absent. */
  static final String TOKEN_ENV = "MACHINERY_DASHBOARD_TOKEN";

  @Option(
      names = "--port",
      paramLabel = "PORT",
      description = "port to listen on (default ${DEFAULT-VALUE}; 0 picks a free one)")
  int port = Dashboard.DEFAULT_PORT;

  @Option(
      names = "--bind",
      paramLabel = "ADDRESS",
      description =
          "address to listen on (default ${DEFAULT-VALUE}: this host only); anything else exposes"
              + " task data, so reads need the token too (see --open-reads): put TLS in front")
  String bind = Dashboard.DEFAULT_BIND_ADDRESS;

  @Option(
      names = "--token",
      paramLabel = "TOKEN",
      description =
          "token that actions (purge, pause, requeue, cancel, ...) must carry, at least 8"
              + " characters; default $"
              + TOKEN_ENV
              + "; without one every action is refused")
  @Nullable String token;

  @Option(names = "--read-only", description = "hide and refuse every action")
  boolean readOnly;

  @Option(
      names = "--open-reads",
      description =
          "bound beyond this host, serve reads without the token (for a proxy in front that"
              + " authenticates every request); actions still need it")
  boolean openReads;

  @Option(
      names = "--read-timeout",
      paramLabel = "DURATION",
      description =
          "how long a read waits for the broker and the result backend before the page says they"
              + " are slow or down, a Go duration from 1ms to 1h (default 10s)")
  @Nullable String readTimeout;

  @Option(
      names = "--max-concurrent-reads",
      paramLabel = "N",
      description =
          "reads that may wait for the broker at once, 1 to 10000 (default ${DEFAULT-VALUE});"
              + " beyond that a read is refused at once")
  int maxConcurrentReads = Dashboard.DEFAULT_MAX_CONCURRENT_READS;

  @Override
  int run(Session session) {
    Dashboard.Builder builder =
        Dashboard.builder(session.server()).port(port).readOnly(readOnly).openReads(openReads);
    try {
      builder.bindAddress(bind);
      String secret = token != null ? token : session.io().env().get(TOKEN_ENV);
      if (secret != null && !secret.isEmpty()) {
        builder.token(secret);
      }
    } catch (IllegalArgumentException e) {
      throw new CliException(MachineryCli.EXIT_USAGE, String.valueOf(e.getMessage()), e);
    }
    readBounds(builder);
    Dashboard dashboard;
    try {
      dashboard = builder.build().start();
    } catch (IllegalStateException e) { // bound beyond this host with nothing to guard reads
      throw new CliException(
          MachineryCli.EXIT_USAGE,
          "a dashboard bound to "
              + bind
              + " serves task data to the network: give --token (reads need it too there), or"
              + " --open-reads if a proxy in front authenticates every request",
          e);
    } catch (UncheckedIOException e) {
      throw new CliException(MachineryCli.EXIT_USAGE, String.valueOf(e.getMessage()), e);
    }
    CountDownLatch closed = new CountDownLatch(1);
    Thread hook = stopHook(Thread.currentThread(), closed);
    try (dashboard) {
      boolean hasToken = token != null || session.io().env().get(TOKEN_ENV) != null;
      String mode =
          readOnly
              ? "read-only"
              : hasToken ? "actions need the token" : "actions disabled: no --token";
      if (!dashboard.address().getAddress().isLoopbackAddress() && !openReads) {
        mode += ", reads need the token";
      }
      if (session.json()) {
        Render.json(
            session.io().out(),
            Render.JSON
                .createObjectNode()
                .put("url", dashboard.uri().toString())
                .put("mode", mode));
      } else {
        session.io().out().println("dashboard on " + dashboard.uri() + " (" + mode + ")");
        session.io().out().println("Ctrl-C stops it");
      }
      session.io().out().flush();
      Runtime.getRuntime().addShutdownHook(hook);
      new CountDownLatch(1).await();
    } catch (InterruptedException e) {
      // the way to stop: the dashboard is closed above, the session by CliCommand
    } finally {
      closed.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is exiting and runs the hook, which waited for closed
      }
    }
    return MachineryCli.EXIT_OK;
  }

  /**
   * Sets {@code --read-timeout} (a Go duration) and {@code --max-concurrent-reads}; the builder
   * checks their ranges, and a value it refuses is a usage error naming the option.
   */
  private void readBounds(Dashboard.Builder builder) {
    String option = "--max-concurrent-reads " + maxConcurrentReads;
    try {
      builder.maxConcurrentReads(maxConcurrentReads);
      if (readTimeout != null) {
        option = "--read-timeout " + readTimeout;
        Duration value;
        try {
          value = GoDurations.parse(readTimeout);
        } catch (RuntimeException e) {
          throw new IllegalArgumentException("not a Go duration such as 30s or 2m", e);
        }
        builder.readTimeout(value);
      }
    } catch (IllegalArgumentException e) {
      throw new CliException(MachineryCli.EXIT_USAGE, option + ": " + e.getMessage(), e);
    }
  }

  /** On Ctrl-C: interrupt the command and give it a few seconds to close the dashboard. */
  private static Thread stopHook(Thread command, CountDownLatch closed) {
    return new Thread(
        () -> {
          command.interrupt();
          try {
            closed.await(5, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        },
        "machinery-dashboard-stop");
  }
}
