package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.WorkerStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A worker announces itself to the control plane and follows its queue's pause flag (memory
 * broker).
 */
class WorkerControlPlaneTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);
  private static final Duration BEAT = Duration.ofMillis(100);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();
  private final ControlPlane plane = server.controlPlane().orElseThrow();
  private final CountDownLatch release = new CountDownLatch(1);

  WorkerControlPlaneTest() {
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

  private Worker launch(String tag) {
    Worker worker = server.workerBuilder(tag).concurrency(2).heartbeatInterval(BEAT).build();
    worker.launchAsync();
    return worker;
  }

  /**
   * With the default queue paused: a task sent now is still PENDING two heartbeats later, and runs
   * once the queue is resumed.
   */
  private void takesNothingUntilResumed(Server sender, Worker worker) {
    AsyncResult later = sender.sendTask(Signature.builder("quick").build());
    nextBeatOf(worker);
    nextBeatOf(worker);
    assertThat(later.state()).as("not fetched while paused").isEqualTo(State.PENDING);

    plane.resume(config.defaultQueue());
    assertThat(later.get(PATIENCE)).containsExactly("quick");
  }

  /** Waits for a heartbeat taken after now, so what the worker did in between is settled. */
  private WorkerStatus nextBeatOf(Worker worker) {
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
  void aHeartbeatSaysWhereTheWorkerStoresResultsWithoutCredentials() {
    Worker worker = launch("cp-results");
    assertThat(nextBeatOf(worker).resultBackend())
        .as("the in-process backend, whatever URL the config holds")
        .isEqualTo("memory://");

    Config moving =
        Config.builder()
            .resultBackend("mongodb://admin:s3cret@new-host:27017/results")
            .migrateFromResultBackend("redis://:s3cret@old-host:6379/2")
            .build();
    try (Server configured =
        Server.builder()
            .config(moving)
            .broker(broker)
            .backend(MigratingBackend.of(new FaultyBackend(MemoryBackend.create()), backend))
            .build()) {
      assertThat(WorkerHeartbeat.resultBackendOf(configured))
          .isEqualTo("redis://old-host:6379 -> memory://");
    }
    try (Server plain =
        Server.builder()
            .config(moving)
            .broker(broker)
            .backend(new FaultyBackend(MemoryBackend.create()))
            .build()) {
      assertThat(WorkerHeartbeat.resultBackendOf(plain))
          .as("a backend that is not a MigratingBackend: the config's URL")
          .isEqualTo("mongodb://new-host:27017");
    }
    try (Server built =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(MigratingBackend.of(new FaultyBackend(MemoryBackend.create()), backend))
            .build()) {
      assertThat(WorkerHeartbeat.resultBackendOf(built))
          .as("a move built in code: the old backend's URL is nowhere")
          .isEqualTo("another result backend -> memory://");
    }
  }

  @Test
  void aHeartbeatSaysWhichBrokerTheWorkerTakesTasksFromWithoutCredentials() {
    Worker worker = launch("cp-broker");
    assertThat(nextBeatOf(worker).broker())
        .as("the in-process broker, whatever URL the config holds")
        .isEqualTo("memory://");

    Config moving =
        Config.builder()
            .broker("amqp://guest:s3cret@new-host:5672/")
            .migrateFromBroker("redis://:s3cret@old-host:6379/2")
            .build();
    try (Server plain =
        Server.builder().config(moving).broker(new DelegatingBroker(broker)).build()) {
      assertThat(WorkerHeartbeat.brokerOf(plain))
          .as("a broker that is not a MigratingBroker: the config's URL")
          .isEqualTo("amqp://new-host:5672");
    }
    MemoryBroker old = MemoryBroker.create(config, Clock.systemUTC());
    try (MigratingBroker toAmqp = MigratingBroker.of(old, new DelegatingBroker(broker));
        Server configured = Server.builder().config(moving).broker(toAmqp).build()) {
      assertThat(WorkerHeartbeat.brokerOf(configured))
          .isEqualTo("memory:// -> amqp://new-host:5672");
    }
    MemoryBroker hidden = MemoryBroker.create(config, Clock.systemUTC());
    try (MigratingBroker inCode =
            MigratingBroker.of(
                new DelegatingBroker(hidden), MemoryBroker.create(config, Clock.systemUTC()));
        Server built = Server.builder().config(config).broker(inCode).build()) {
      assertThat(WorkerHeartbeat.brokerOf(built))
          .as("a move built in code: the old broker's URL is nowhere")
          .isEqualTo("another broker -> memory://");
    } finally {
      hidden.close();
    }
  }

  @Test
  void aHeartbeatCarriesTheBreakersThatAreNotClosed() {
    server.registerTask(
        "refused",
        TaskFunction.of(
            () -> {
              throw new java.io.IOException("connection refused");
            }));
    Worker worker =
        server
            .workerBuilder("cp-breakers")
            .heartbeatInterval(BEAT)
            .breaker(
                "refused", TaskBreaker.builder().window(1).openFor(Duration.ofHours(1)).build())
            .breaker("quick", TaskBreaker.builder().build())
            .build();
    worker.launchAsync();
    assertThat(nextBeatOf(worker).breakers()).isEmpty();
    server.sendTask(Signature.create("quick")).get(PATIENCE);
    server.sendTask(Signature.create("refused"));

    assertThat(
            await()
                .atMost(PATIENCE)
                .until(() -> nextBeatOf(worker), s -> !s.breakers().isEmpty())
                .breakers())
        .containsExactly(java.util.Map.entry("refused", TaskBreaker.State.OPEN));
  }

  @Test
  void aWorkerIsListedWithItsRunningTasksUntilItStops() {
    Worker worker = launch("cp-list");
    AsyncResult running = server.sendTask(Signature.builder("block").build());

    WorkerStatus status =
        await().atMost(PATIENCE).until(() -> nextBeatOf(worker), s -> s.busy() == 1);

    assertThat(status.consumerTag()).isEqualTo("cp-list");
    assertThat(status.queue()).isEqualTo(config.defaultQueue());
    assertThat(status.concurrency()).isEqualTo(2);
    assertThat(status.pid()).isEqualTo(ProcessHandle.current().pid());
    assertThat(status.paused()).isFalse();
    assertThat(status.running())
        .extracting(WorkerStatus.RunningTask::uuid)
        .containsExactly(running.taskUuid());
    assertThat(status.running())
        .extracting(WorkerStatus.RunningTask::name)
        .containsExactly("block");

    release.countDown();
    running.get(PATIENCE);
    worker.quit();
    assertThat(plane.workers()).as("withdrawn on stop").isEmpty();
  }

  @Test
  void aWorkerLaunchedOnAPausedQueueFetchesNothingUntilItIsResumed() {
    plane.pause(config.defaultQueue());
    Worker worker = launch("cp-paused");
    AsyncResult task = server.sendTask(Signature.builder("quick").build());

    WorkerStatus status = nextBeatOf(worker);
    nextBeatOf(worker);

    assertThat(status.paused()).isTrue();
    assertThat(worker.isPaused()).isTrue();
    assertThat(task.state()).isEqualTo(State.PENDING);

    plane.resume(config.defaultQueue());
    assertThat(task.get(PATIENCE)).containsExactly("quick");
    assertThat(worker.isPaused()).isFalse();
  }

  @Test
  void pausingLetsRunningTasksFinishAndStopsFetchingNewOnes() {
    Worker worker = launch("cp-pause-running");
    AsyncResult running = server.sendTask(Signature.builder("block").build());
    await().atMost(PATIENCE).until(() -> worker.runningTasks() == 1);

    plane.pause(config.defaultQueue());
    await().atMost(PATIENCE).until(worker::isPaused);
    release.countDown();
    assertThat(running.get(PATIENCE)).containsExactly("done");

    takesNothingUntilResumed(server, worker);
    worker.quit();
    assertThat(worker.isRunning()).isFalse();
  }

  /**
   * A consumer whose {@code stopFetching} throws is still retired and closed when its queue is
   * paused, and the worker still stops. Before, the throw skipped the retirement (the consumer went
   * on fetching while the worker called itself paused, and a resume started a second one beside
   * it), and left a stop half-done: {@code quit()} threw, the worker's future never completed, and
   * the server's close waited on it for ever.
   */
  @Test
  void aPauseWhoseStopFetchingThrowsStillClosesTheConsumer() {
    AtomicInteger closes = new AtomicInteger();
    Broker stopFails =
        new DelegatingBroker(broker) {
          @Override
          public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
            Consumption real = delegate.startConsuming(tag, queue, handler);
            return new Consumption() {
              @Override
              public void stopFetching(Duration timeout) {
                throw new IllegalStateException("injected: stopFetching");
              }

              @Override
              public void close() {
                closes.incrementAndGet();
                real.close();
              }
            };
          }
        };
    try (Server pausable =
        Server.builder()
            .config(config)
            .broker(stopFails)
            .backend(backend)
            .controlPlane(plane)
            .build()) {
      pausable.registerTask("quick", TaskFunction.of(() -> "quick"));
      Worker worker =
          pausable
              .workerBuilder("cp-stop-fails")
              .concurrency(1)
              .heartbeatInterval(BEAT)
              // a consumer that could not stop fetching holds its slot: the stop waits this long
              .gracefulTimeout(Duration.ofSeconds(1))
              .build();
      worker.launchAsync();
      assertThat(pausable.sendTask(Signature.builder("quick").build()).get(PATIENCE))
          .containsExactly("quick");

      plane.pause(config.defaultQueue());
      await().atMost(PATIENCE).until(worker::isPaused);
      await().atMost(PATIENCE).until(() -> closes.get() == 1);
      takesNothingUntilResumed(pausable, worker);
      worker.quit();
    }
  }

  @Test
  void aWorkerWithoutAControlPlaneRuns() {
    try (Server bare =
        Server.builder()
            .config(config)
            .broker(new DelegatingBroker(broker) /* no control plane */)
            .backend(backend)
            .build()) {
      bare.registerTask("quick", TaskFunction.of(() -> "quick"));
      assertThat(bare.controlPlane()).isEmpty();
      Worker worker = bare.workerBuilder("cp-none").concurrency(1).heartbeatInterval(BEAT).build();
      worker.launchAsync();
      assertThat(bare.sendTask(Signature.builder("quick").build()).get(PATIENCE))
          .containsExactly("quick");
      assertThat(worker.controlPlaneId()).isEmpty();
      worker.quit();
    }
  }
}
