package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.TaskBreaker.State;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Breaker openings between running workers through their heartbeats, on the memory broker's control
 * plane: a shared breaker opened by one worker's failed runs parks the key's tasks on a worker that
 * saw no failure, and an operator's opening and closing reach every worker.
 */
class WorkerSharedBreakerTest {
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final Duration OPEN_FOR = Duration.ofMinutes(10);

  private final AtomicInteger runs = new AtomicInteger();

  /** The breaker deferrals each worker's listener saw, by task UUID. */
  private final Map<String, TaskDeferral> deferred = new ConcurrentHashMap<>();

  private MemoryBroker broker;
  private Server server;
  private ControlPlane plane;

  @BeforeEach
  void start() {
    broker = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    server =
        Server.builder()
            .broker(broker)
            .backend(MemoryBackend.create(Config.DEFAULT, Clock.systemUTC()))
            .listener(
                new TaskListener() {
                  @Override
                  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
                    deferred.put(signature.uuid(), deferral);
                  }
                })
            .build();
    server.registerTask(
        "charge",
        TaskFunction.withContext(
            List.of(),
            false,
            (context, args) -> {
              runs.incrementAndGet();
              throw new IOException("payment provider: connection refused");
            }));
    plane = server.controlPlane().orElseThrow();
  }

  @AfterEach
  void stop() {
    server.close();
    broker.close();
  }

  private Worker worker(String queue, boolean shared) {
    Worker worker =
        server
            .workerBuilder(queue)
            .queue(queue)
            .concurrency(1)
            .heartbeatInterval(Duration.ofMillis(100))
            .breaker(
                "charge",
                TaskBreaker.builder()
                    .window(2)
                    .minimumRuns(2)
                    .openFor(OPEN_FOR)
                    .shared(shared)
                    .build())
            .build();
    worker.launchAsync();
    return worker;
  }

  private Signature charge(String queue) {
    Signature signature = Signature.builder("charge").routingKey(queue).retryCount(0).build();
    server.sendTask(signature);
    return signature;
  }

  private String idOf(Worker worker) {
    return plane.workers().stream()
        .filter(w -> w.consumerTag().equals(worker.consumerTag()))
        .map(WorkerStatus::id)
        .findFirst()
        .orElseThrow();
  }

  @Test
  void aSharedBreakerOpenedByOneWorkersRunsParksTheKeyOnAWorkerThatSawNoFailure() {
    Worker first = worker("billing-a", true);
    Worker second = worker("billing-b", true);
    charge("billing-a");
    charge("billing-a");
    await().atMost(PATIENCE).until(() -> first.breakerStates().get("charge") == State.OPEN);

    await().atMost(PATIENCE).until(() -> plane.openBreakers().containsKey("charge"));
    ControlPlane.BreakerOpening opening = plane.openBreakers().get("charge");
    assertThat(opening.openedBy()).isEqualTo(idOf(first));
    assertThat(opening.reason()).isEqualTo(ControlPlane.BreakerWindow.reason(2, 2));
    await().atMost(PATIENCE).until(() -> second.breakerStates().get("charge") == State.OPEN);

    Signature parked = charge("billing-b");
    await().atMost(PATIENCE).until(() -> deferred.containsKey(parked.uuid()));
    assertThat(deferred.get(parked.uuid()).reason()).isEqualTo(TaskDeferral.Reason.BREAKER);
    assertThat(runs).hasValue(2); // only the two failed runs of the first worker
    // the second worker's heartbeat lists the key open, as the CLI and dashboard show it
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                plane.workers().stream()
                    .filter(w -> w.consumerTag().equals(second.consumerTag()))
                    .anyMatch(w -> w.breakers().containsKey("charge")));
  }

  @Test
  void anOperatorsOpeningAndClosingReachEveryWorker() {
    Worker first = worker("billing-a", false);
    Worker second = worker("billing-b", false);
    Inspection.of(server).openBreaker("charge", OPEN_FOR, "provider maintenance", "ops");
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                first.breakerStates().get("charge") == State.OPEN
                    && second.breakerStates().get("charge") == State.OPEN);
    Signature parked = charge("billing-a");
    await().atMost(PATIENCE).until(() -> deferred.containsKey(parked.uuid()));
    assertThat(runs).hasValue(0);

    Inspection.of(server).closeBreaker("charge");
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                first.breakerStates().get("charge") == State.CLOSED
                    && second.breakerStates().get("charge") == State.CLOSED);
  }

  /**
   * A worker started while its key is open (an autoscaler adding workers to a queue that grows
   * during an outage) reads the openings before its first delivery: it runs none of the key's
   * tasks, where one on its own would spend {@code minimumRuns} failed runs to learn of it.
   */
  @Test
  void aWorkerStartedDuringAnOpeningRunsNoneOfTheKeysTasks() {
    Worker first = worker("billing-a", true);
    charge("billing-a");
    charge("billing-a");
    await().atMost(PATIENCE).until(() -> plane.openBreakers().containsKey("charge"));
    List<Signature> waiting =
        List.of(charge("billing-b"), charge("billing-b"), charge("billing-b"));

    Worker late = worker("billing-b", false);
    assertThat(late.breakerStates()).containsEntry("charge", State.OPEN); // before its first task
    await()
        .atMost(PATIENCE)
        .until(() -> waiting.stream().allMatch(task -> deferred.containsKey(task.uuid())));
    assertThat(runs).hasValue(2);
    assertThat(first.breakerStates()).containsEntry("charge", State.OPEN);
  }
}
