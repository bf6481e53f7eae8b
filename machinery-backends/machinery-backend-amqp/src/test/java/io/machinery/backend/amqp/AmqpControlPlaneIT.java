package io.machinery.backend.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The AMQP control plane's own cases: a changed time to live, very long ids and queue names,
 * foreign messages.
 */
class AmqpControlPlaneIT {
  private final String prefix = "cpit-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  private final AmqpBackend backend =
      AmqpBackend.builder(
              Config.builder()
                  .broker(TestEndpoints.amqpUrl())
                  .resultBackend(TestEndpoints.amqpUrl())
                  .build())
          .managementUrl(TestEndpoints.rabbitManagementUrl())
          .build();
  private final ControlPlane plane = backend.controlPlane().orElseThrow();

  @AfterEach
  void close() {
    backend.close();
  }

  private WorkerStatus status(String id, int busy) {
    Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
    return new WorkerStatus(
        id, "host", 1, "tag", "q", 4, busy, false, now, now, List.of(), List.of(), Map.of(), "", "",
        Map.of(), false);
  }

  private List<WorkerStatus> mine() {
    return plane.workers().stream().filter(w -> w.id().startsWith(prefix)).toList();
  }

  @Test
  void announcingWithAnotherTimeToLiveReplacesTheStatus() {
    plane.announce(status(prefix + "w", 1), Duration.ofMinutes(1));
    WorkerStatus later = status(prefix + "w", 2);

    plane.announce(
        later, Duration.ofMinutes(2)); // RabbitMQ refuses the old queue's arguments: replaced

    assertThat(mine()).containsExactly(later);
    plane.withdraw(prefix + "w");
    assertThat(mine()).isEmpty();
  }

  @Test
  void anIdTooLongForAQueueNameIsStoredUnderItsHash() {
    String id = prefix + "x".repeat(300);
    assertThat(AmqpControlPlane.workerQueue(id).getBytes(StandardCharsets.UTF_8).length)
        .isLessThanOrEqualTo(255);

    plane.announce(status(id, 0), Duration.ofMinutes(1));
    assertThat(mine()).extracting(WorkerStatus::id).containsExactly(id);
    plane.withdraw(id);
    assertThat(mine()).isEmpty();
  }

  @Test
  void aQueueNameTooLongToPauseIsRefused() {
    assertThatThrownBy(() -> plane.pause("q".repeat(240)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("too long");
  }

  @Test
  void aForeignMessageInAControlQueueIsNotListed() throws Exception {
    String id = prefix + "foreign";
    plane.announce(status(id, 0), Duration.ofMinutes(1));
    try (Connection connection =
            AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection();
        Channel channel = connection.createChannel()) {
      channel.confirmSelect();
      // x-max-length 1 drops the status: the queue now holds only something that is not one
      channel.basicPublish(
          "",
          AmqpControlPlane.workerQueue(id),
          null,
          "not a status".getBytes(StandardCharsets.UTF_8));
      channel.waitForConfirmsOrDie(5_000);
    }

    assertThat(mine()).isEmpty();
    plane.withdraw(id);
  }

  /**
   * A worker's heartbeat asks {@code isPaused(its queue)}: that must be one passive declaration of
   * the queue's marker, never the management API (seconds on a vhost with many result queues).
   * Proven with a management URL nothing answers: membership still works, a listing fails clearly.
   */
  @Test
  void theHeartbeatsPauseCheckNeedsNoManagementApi() {
    String queue = prefix + "paused";
    try (AmqpBackend noManagement =
        AmqpBackend.builder(
                Config.builder()
                    .broker(TestEndpoints.amqpUrl())
                    .resultBackend(TestEndpoints.amqpUrl())
                    .build())
            .managementUrl("http://127.0.0.1:9") // discard port: nothing answers HTTP there
            .build()) {
      ControlPlane withoutApi = noManagement.controlPlane().orElseThrow();
      assertThat(withoutApi.isPaused(queue)).isFalse();

      withoutApi.pause(queue);
      long started = System.nanoTime();
      boolean paused = withoutApi.isPaused(queue);
      double millis = (System.nanoTime() - started) / 1e6;
      assertThat(paused).isTrue();
      assertThat(plane.pausedQueues()).contains(queue); // the listing (management API) agrees
      assertThatThrownBy(() -> withoutApi.pausedQueues())
          .isInstanceOf(io.machinery.MachineryException.class);

      withoutApi.resume(queue);
      assertThat(withoutApi.isPaused(queue)).isFalse();
      System.out.printf(
          "[AmqpControlPlaneIT] pause check of one queue without the management API: %.1f ms%n",
          millis);
    } finally {
      plane.resume(queue);
    }
  }
}
