package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.Inspector;
import io.machinery.spi.WorkerStatus;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An AMQP-only deployment (AMQP broker and backend) gets its control plane from the AMQP backend:
 * workers are listed with their running tasks, follow pauses across the deployment, and are gone
 * when they stop.
 */
class AmqpOnlyControlPlaneIT {
  private static final Duration PATIENCE =
      Duration.ofSeconds(60); // management API listings take seconds with many queues
  private static final Duration BEAT = Duration.ofMillis(200);

  private final Config config =
      BrokerContract.uniqueQueue(
          Config.builder()
              .broker(TestEndpoints.amqpUrl())
              .resultBackend(TestEndpoints.amqpUrl())
              .build(),
          "cp_amqp_");
  private final AmqpBroker broker =
      AmqpBroker.builder(config).managementUrl(TestEndpoints.rabbitManagementUrl()).build();
  private final AmqpBackend backend =
      AmqpBackend.builder(config).managementUrl(TestEndpoints.rabbitManagementUrl()).build();
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();
  private final CountDownLatch release = new CountDownLatch(1);

  AmqpOnlyControlPlaneIT() {
    RabbitAdmin.track(config.defaultQueue());
    server.registerTask(
        "block",
        TaskFunction.of(
            () -> {
              release.await();
              return "done";
            }));
    server.registerTask("quick", TaskFunction.of(() -> "quick"));
  }

  @AfterEach
  void tearDown() {
    release.countDown();
    server.close();
    broker.close();
    backend.close();
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  @Test
  void withoutTheManagementApiWorkersStillRunTasks() {
    try (AmqpBackend unlisted =
            AmqpBackend.builder(config).managementUrl("http://127.0.0.1:1").build();
        Server bare = Server.builder().config(config).broker(broker).backend(unlisted).build()) {
      bare.registerTask("quick", TaskFunction.of(() -> "quick"));
      Worker worker =
          bare.workerBuilder("cp-no-mgmt").concurrency(1).heartbeatInterval(BEAT).build();
      worker.launchAsync();

      assertThat(bare.sendTask(Signature.builder("quick").build()).get(PATIENCE))
          .containsExactly("quick");
      worker.quit();
    }
  }

  private WorkerStatus nextBeatOf(ControlPlane plane, Worker worker) {
    Instant now = Instant.now();
    String id = worker.controlPlaneId().orElseThrow();
    return await()
        .atMost(PATIENCE)
        .until(
            () ->
                plane.workers().stream()
                    .filter(w -> w.id().equals(id) && w.heartbeatAt().isAfter(now))
                    .findFirst()
                    .orElse(null),
            status -> status != null);
  }

  @Test
  void workersAreListedAndFollowPausesThroughRabbitMq() {
    ControlPlane plane = server.controlPlane().orElseThrow();
    Inspector inspector = broker.inspector().orElseThrow();
    assertThat(plane).isSameAs(backend.controlPlane().orElseThrow());
    Worker worker = server.workerBuilder("cp-amqp").concurrency(2).heartbeatInterval(BEAT).build();
    worker.launchAsync();
    AsyncResult running = server.sendTask(Signature.builder("block").build());

    WorkerStatus status =
        await().atMost(PATIENCE).until(() -> nextBeatOf(plane, worker), s -> s.busy() == 1);
    assertThat(status.queue()).isEqualTo(config.defaultQueue());
    assertThat(status.running())
        .extracting(WorkerStatus.RunningTask::uuid)
        .containsExactly(running.taskUuid());

    plane.pause(config.defaultQueue());
    await().atMost(PATIENCE).until(worker::isPaused);
    release.countDown();
    assertThat(running.get(PATIENCE)).containsExactly("done");
    AsyncResult later = server.sendTask(Signature.builder("quick").build());
    nextBeatOf(plane, worker);
    assertThat(nextBeatOf(plane, worker).paused()).isTrue();
    assertThat(inspector.queue("").pending()).as("not fetched while paused").isEqualTo(1);

    plane.resume(config.defaultQueue());
    assertThat(later.get(PATIENCE)).containsExactly("quick");
    String id = worker.controlPlaneId().orElseThrow();
    worker.quit();
    assertThat(plane.workers())
        .extracting(WorkerStatus::id)
        .as("withdrawn on stop")
        .doesNotContain(id);
  }
}
