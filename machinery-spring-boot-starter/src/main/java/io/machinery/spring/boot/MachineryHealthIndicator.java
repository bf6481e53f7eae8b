package io.machinery.spring.boot;

import io.machinery.Server;
import io.machinery.Worker;
import io.machinery.config.Redaction;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Actuator health of Machinery: UP when the broker and the backend answer and every worker of this application
 * is consuming.
 *
 * <p>Design notes: there is no ping in the SPI, so the probes are the cheapest reads each technology has: the
 * broker lists the pending tasks of a queue nobody uses ({@link #PROBE_QUEUE}: an empty LRANGE on Redis, a
 * passive declare that finds nothing on AMQP), and the backend reads the state of a task id no sender makes
 * ({@link #PROBE_TASK}: a GET of a missing key on Redis). Probing the real default queue would decode the whole
 * queue on every health call. Details carry URLs without credentials.
 */
final class MachineryHealthIndicator extends AbstractHealthIndicator {
  static final String PROBE_QUEUE = "machinery_health_probe";
  static final String PROBE_TASK = "task_00000000-0000-0000-0000-000000000000";

  private final Server server;
  private final @Nullable MachineryWorkers workers;

  MachineryHealthIndicator(Server server, @Nullable MachineryWorkers workers) {
    super("Machinery health check failed");
    this.server = server;
    this.workers = workers;
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) {
    builder.withDetail("broker", Redaction.redactUrl(server.config().broker()))
        .withDetail("resultBackend", Redaction.redactUrl(server.config().resultBackend()));
    server.broker().pendingTasks(PROBE_QUEUE);
    server.backend().getState(PROBE_TASK);
    if (workers == null) {
      builder.up().withDetail("workers", "none in this application (machinery.worker.enabled=false)");
      return;
    }
    List<Worker> running = workers.workers();
    List<String> stopped = running.stream().filter(w -> !w.isRunning()).map(Worker::consumerTag).toList();
    builder.withDetail("workers", running.stream().map(Worker::consumerTag).toList());
    if (!workers.isRunning() || running.isEmpty() || !stopped.isEmpty()) {
      builder.down().withDetail("stoppedWorkers", workers.isRunning() ? stopped : List.of("all"));
    } else {
      builder.up();
    }
  }
}
