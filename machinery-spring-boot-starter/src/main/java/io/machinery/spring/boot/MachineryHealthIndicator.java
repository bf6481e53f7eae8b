package io.machinery.spring.boot;

import io.machinery.HealthCheck;
import io.machinery.Server;
import io.machinery.Worker;
import io.machinery.config.Redaction;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Actuator health of Machinery: UP when the broker and the backend answer and every worker of this
 * application is consuming (not stopped, nor still trying to start: {@link Worker#isStarting()},
 * nor waited for or failed for a task bean made after the start: see {@link MachineryWorkers}).
 *
 * <p>Design notes: the broker and backend probes are core's {@link HealthCheck} (cheapest reads,
 * each on its own thread and DOWN after its timeout, so a hung connection cannot hang the health
 * endpoint). The workers are judged from {@link MachineryWorkers} rather than from the report's
 * worker lists, because the Server keeps every worker it ever launched: after a context stop and
 * start, the stopped ones of the first run would read DOWN for ever. Details carry URLs without
 * credentials.
 */
final class MachineryHealthIndicator extends AbstractHealthIndicator {
  private final Server server;
  private final HealthCheck check;
  private final @Nullable MachineryWorkers workers;

  MachineryHealthIndicator(Server server, @Nullable MachineryWorkers workers) {
    super("Machinery health check failed");
    this.server = server;
    this.check = HealthCheck.create(server);
    this.workers = workers;
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) {
    builder
        .withDetail("broker", Redaction.redactUrl(server.config().broker()))
        .withDetail("resultBackend", Redaction.redactUrl(server.config().resultBackend()));
    HealthCheck.Report report = check.check();
    boolean up = report.brokerError() == null && report.backendError() == null;
    if (report.brokerError() != null) {
      builder.withDetail("brokerError", report.brokerError());
    }
    if (report.backendError() != null) {
      builder.withDetail("backendError", report.backendError());
    }
    if (workers == null) {
      builder.withDetail("workers", "none in this application (machinery.worker.enabled=false)");
    } else {
      List<Worker> running = workers.workers();
      List<String> stopped =
          running.stream().filter(w -> !w.isRunning()).map(Worker::consumerTag).toList();
      builder.withDetail("workers", running.stream().map(Worker::consumerTag).toList());
      if (!workers.isRunning() || running.isEmpty() || !stopped.isEmpty()) {
        builder.withDetail("stoppedWorkers", workers.isRunning() ? stopped : List.of("all"));
        up = false;
      }
      // launched, but without a consumer: their broker's server failed the start, or a consumer
      // that ended by itself is being replaced; or not launched yet, for a task bean made after
      // the start; they take no task meanwhile
      List<String> starting = new ArrayList<>();
      running.stream().filter(Worker::isStarting).map(Worker::consumerTag).forEach(starting::add);
      starting.addAll(workers.lateStartingTags());
      if (!starting.isEmpty()) {
        builder.withDetail("startingWorkers", starting);
        up = false;
      }
      // needed by a task bean made after the start, and could not start: its queue has no consumer
      Map<String, String> failed = workers.lateStartFailures();
      if (!failed.isEmpty()) {
        builder.withDetail("failedWorkers", failed);
        up = false;
      }
    }
    if (up) {
      builder.up();
    } else {
      builder.down();
    }
  }
}
