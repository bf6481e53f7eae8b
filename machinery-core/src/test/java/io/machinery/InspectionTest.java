package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.WorkerStatus;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The facade finds tasks wherever they are and answers what the memory deployment can tell. */
class InspectionTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();
  private final Inspection inspection = Inspection.of(server);
  private final CountDownLatch release = new CountDownLatch(1);

  InspectionTest() {
    server.registerTask(
        "block",
        TaskFunction.of(
            () -> {
              release.await();
              return "done";
            }));
  }

  @AfterEach
  void tearDown() {
    release.countDown();
    server.close();
    broker.close();
    backend.close();
  }

  @Test
  void aTaskIsFoundPendingDelayedRunningDeadLetteredOrByItsStateAlone() {
    AsyncResult pending = server.sendTask(Signature.builder("block").build());
    AsyncResult delayed =
        server.sendTask(
            Signature.builder("block").eta(Instant.now().plus(Duration.ofHours(1))).build());

    Inspection.TaskReport report = inspection.task(pending.taskUuid());
    assertThat(report.location()).isEqualTo(Inspection.Location.PENDING);
    assertThat(report.message().orElseThrow().name()).isEqualTo("block");
    assertThat(report.state().orElseThrow().state()).isEqualTo(State.PENDING);
    assertThat(report.attempts()).isEqualTo(1);
    assertThat(inspection.task(delayed.taskUuid()).location())
        .isEqualTo(Inspection.Location.DELAYED);

    Worker worker =
        server
            .workerBuilder("insp")
            .concurrency(1)
            .heartbeatInterval(Duration.ofMillis(100))
            .build();
    worker.launchAsync();
    Inspection.TaskReport running =
        await()
            .atMost(PATIENCE)
            .until(
                () -> inspection.task(pending.taskUuid()),
                r -> r.location() == Inspection.Location.RUNNING);
    assertThat(running.workerId()).isEqualTo(worker.controlPlaneId());
    assertThat(inspection.inFlight(""))
        .extracting(t -> t.task().uuid())
        .containsExactly(pending.taskUuid());
    assertThat(inspection.inFlight("another_queue")).isEmpty();

    release.countDown();
    pending.get(PATIENCE);
    Inspection.TaskReport finished = inspection.task(pending.taskUuid());
    assertThat(finished.location()).isEqualTo(Inspection.Location.NOT_FOUND);
    assertThat(finished.scanComplete()).isTrue();
    assertThat(finished.state().orElseThrow().state()).isEqualTo(State.SUCCESS);
  }

  @Test
  void aDeadLetterIsFoundWithItsReason() {
    server
        .workerBuilder("insp-dead")
        .concurrency(1)
        .maxUnregisteredRequeues(1)
        .build()
        .launchAsync();
    Signature unknown = server.sendTask(Signature.builder("nobody_runs_this").build()).signature();

    Inspection.TaskReport report =
        await()
            .atMost(PATIENCE)
            .until(
                () -> inspection.task(unknown.uuid()),
                r -> r.location() == Inspection.Location.DEAD_LETTERED);
    assertThat(report.deadLetter().orElseThrow().reason()).contains("not registered");
    assertThat(report.message().orElseThrow().name()).isEqualTo("nobody_runs_this");
    assertThat(inspection.deadLetters("", 0, 10)).hasSize(1);
  }

  @Test
  void queuesArePausedThroughTheControlPlaneAndPeriodicEntriesAreListed() {
    inspection.pause("");
    assertThat(inspection.pausedQueues()).containsExactly(config.defaultQueue());
    inspection.resume(config.defaultQueue());
    assertThat(inspection.pausedQueues()).isEmpty();

    server.registerPeriodicTask("0 3 * * *", "nightly", Signature.builder("block").build());
    assertThat(inspection.periodic())
        .extracting(WorkerStatus.ScheduledEntry::name)
        .containsExactly("nightly");
    assertThat(inspection.periodic().get(0).nextFire()).isNotNull();
  }

  @Test
  void aMissingPartIsReportedNotFaked() {
    try (Server bare =
        Server.builder()
            .config(config)
            .broker(new DelegatingBroker(broker) /* no inspector, no control plane */)
            .backend(backend)
            .build()) {
      Inspection limited = Inspection.of(bare);
      assertThat(limited.canInspectQueues()).isFalse();
      assertThat(limited.hasControlPlane()).isFalse();
      assertThatThrownBy(limited::queues)
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("cannot inspect");
      assertThatThrownBy(limited::workers)
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("no control plane");
      assertThat(limited.task("task_x").scanComplete()).isFalse();
    }
  }

  @Test
  void anUndecodableMessageDoesNotHideTheTasksBehindIt() {
    broker.publish(
        Signature.builder("x").routingKey(config.defaultQueue()).build(),
        "{not json".getBytes(StandardCharsets.UTF_8));
    AsyncResult behind = server.sendTask(Signature.builder("block").build());
    assertThat(inspection.task(behind.taskUuid()).location())
        .isEqualTo(Inspection.Location.PENDING);
  }
}
