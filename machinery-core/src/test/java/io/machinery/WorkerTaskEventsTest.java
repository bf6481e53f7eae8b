package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.embedded.MemoryControlPlane;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.TaskEvent;
import io.machinery.spi.WorkerStatus;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A worker with {@code taskEvents(true)} records each task's transitions in the control plane
 * (memory broker), {@link Inspection#history} reads them, a worker without it records nothing, and
 * a control plane that keeps no events is refused when the worker is built.
 */
class WorkerTaskEventsTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();
  private final Inspection inspection = Inspection.of(server);
  private final AtomicInteger flakyRuns = new AtomicInteger();

  WorkerTaskEventsTest() {
    server.registerTask(
        "flaky",
        TaskFunction.of(
            () -> {
              if (flakyRuns.incrementAndGet() == 1) {
                throw new IllegalStateException("disk full");
              }
              return "ok";
            }));
    server.registerTask(
        "broken",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("no such invoice");
            }));
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    backend.close();
  }

  private static List<String> steps(List<TaskEvent> events) {
    return events.stream().map(e -> e.kind() + "#" + e.attempt()).toList();
  }

  private void awaitCompleted(String uuid) {
    await()
        .atMost(PATIENCE)
        .until(() -> server.backend().getState(uuid).map(TaskState::isCompleted).orElse(false));
  }

  @Test
  void eachTransitionIsRecordedWithAttemptErrorTimeAndWorker() {
    Worker worker = server.workerBuilder("events").taskEvents(true).build();
    worker.launchAsync();
    String flaky = server.sendTask(Signature.builder("flaky").retryCount(1).build()).taskUuid();
    String broken = server.sendTask(Signature.create("broken")).taskUuid();

    assertThat(inspection.keepsTaskHistory()).isTrue();
    await()
        .atMost(PATIENCE)
        .until(
            () -> inspection.history(flaky).size() == 6 && inspection.history(broken).size() == 3);
    List<TaskEvent> history = inspection.history(flaky);
    assertThat(steps(history))
        .containsExactly(
            "RECEIVED#1", "STARTED#1", "RETRY#1", "RECEIVED#2", "STARTED#2", "SUCCESS#2");
    assertThat(history.get(2).error()).contains("disk full");
    assertThat(history).allSatisfy(e -> assertThat(e.taskName()).isEqualTo("flaky"));
    assertThat(history)
        .extracting(TaskEvent::workerId)
        .containsOnly(worker.controlPlaneId().orElseThrow());
    for (int i = 1; i < history.size(); i++) {
      assertThat(history.get(i).at()).isAfterOrEqualTo(history.get(i - 1).at());
    }
    List<TaskEvent> failed = inspection.history(broken);
    assertThat(steps(failed)).containsExactly("RECEIVED#1", "STARTED#1", "FAILURE#1");
    assertThat(failed.get(2).error()).contains("no such invoice");
    worker.quit();
  }

  @Test
  void theLastEventsAreWrittenWhenTheWorkerQuits() {
    Worker worker = server.workerBuilder("quits").taskEvents(true).build();
    worker.launchAsync();
    String uuid = server.sendTask(Signature.create("broken")).taskUuid();
    awaitCompleted(uuid);
    worker.quit();
    assertThat(steps(inspection.history(uuid))).endsWith("FAILURE#1");
  }

  @Test
  void workersRecordNothingByDefault() {
    Worker worker = server.workerBuilder("quiet").build();
    worker.launchAsync();
    String uuid = server.sendTask(Signature.create("broken")).taskUuid();
    awaitCompleted(uuid);
    worker.quit();
    assertThat(inspection.history(uuid)).isEmpty();
  }

  @Test
  void aControlPlaneWithoutTaskEventsIsRefusedWhenTheWorkerIsBuilt() {
    try (Server plain =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .controlPlane(new NoEventsControlPlaneFake())
            .build()) {
      assertThat(Inspection.of(plain).keepsTaskHistory()).isFalse();
      assertThatThrownBy(() -> plain.workerBuilder("w").taskEvents(true).build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("NoEventsControlPlaneFake keeps none");
      assertThatThrownBy(() -> Inspection.of(plain).history("task_x"))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("keeps no task events");
    }
  }

  /**
   * A fake: a control plane that keeps workers and pauses but no task events, like the AMQP-only
   * one (which lives in another module).
   */
  private static final class NoEventsControlPlaneFake implements ControlPlane {
    private final MemoryControlPlane inner = MemoryControlPlane.create(Clock.systemUTC());

    @Override
    public void announce(WorkerStatus status, Duration ttl) {
      inner.announce(status, ttl);
    }

    @Override
    public void withdraw(String workerId) {
      inner.withdraw(workerId);
    }

    @Override
    public List<WorkerStatus> workers() {
      return inner.workers();
    }

    @Override
    public void pause(String queue) {
      inner.pause(queue);
    }

    @Override
    public void resume(String queue) {
      inner.resume(queue);
    }

    @Override
    public Set<String> pausedQueues() {
      return inner.pausedQueues();
    }
  }
}
