package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Consumption;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeliveryHandler;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A worker whose broker's server fails the start keeps trying (as Go's does) until it starts or is
 * stopped; a start failure that trying again cannot mend (a consumer the server refuses for good, a
 * closed broker) fails the launch at once. The Redis broker's {@code RedisWorkerStartIT} shows the
 * same with a real server down and out of memory.
 */
class WorkerStartTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** A memory broker whose first {@code failures} starts fail as a server's error would. */
  private static final class FailingStarts extends DelegatingBroker {
    private final AtomicInteger failures;
    private final RuntimeException error;
    final AtomicInteger attempts = new AtomicInteger();
    final AtomicInteger started = new AtomicInteger();

    FailingStarts(MemoryBroker memory, int failures, RuntimeException error) {
      super(memory);
      this.failures = new AtomicInteger(failures);
      this.error = error;
    }

    /** The next {@code n} starts fail. */
    void failNext(int n) {
      failures.set(n);
    }

    /** The memory broker's control plane (workers listed), which DelegatingBroker leaves out. */
    @Override
    public Optional<ControlPlane> controlPlane() {
      return delegate.controlPlane();
    }

    @Override
    public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
      attempts.incrementAndGet();
      if (failures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw error;
      }
      started.incrementAndGet();
      return super.startConsuming(tag, queue, handler);
    }
  }

  /**
   * What the tests share: a server on a memory broker whose first {@code failures} starts fail with
   * {@code error}, with the task {@code add} registered. Closing it closes the server, then the
   * broker.
   */
  private record Setup(MemoryBroker memory, FailingStarts broker, Server server)
      implements AutoCloseable {
    static Setup failingFirst(int failures, RuntimeException error) {
      MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
      FailingStarts broker = new FailingStarts(memory, failures, error);
      Server server = Server.builder().broker(broker).build();
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      return new Setup(memory, broker, server);
    }

    /** The first {@code failures} starts fail as Redis out of memory does. */
    static Setup outOfMemoryFirst(int failures) {
      return failingFirst(failures, new MachineryException("OOM command not allowed"));
    }

    ControlPlane plane() {
      return server.controlPlane().orElseThrow();
    }

    /** Worker "w", its heartbeat (and so its listing on the control plane) every 100 ms. */
    Worker listedWorker() {
      return server.workerBuilder("w").heartbeatInterval(Duration.ofMillis(100)).build();
    }

    @Override
    public void close() {
      try (memory) {
        server.close();
      }
    }
  }

  @Test
  void aStartTheServerFailsIsTriedAgainUntilTheWorkerConsumes() throws Exception {
    try (Setup setup = Setup.outOfMemoryFirst(2)) {
      Server server = setup.server();
      FailingStarts broker = setup.broker();
      Worker worker = server.workerBuilder("w").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).as("the launch after a failed first start").isNotDone();
      assertThat(worker.isRunning()).isTrue();
      assertThat(worker.isStarting()).isTrue();
      AsyncResult sum = server.sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L)));
      assertThat(sum.get(TIMEOUT)).containsExactly(5L);
      assertThat(broker.attempts).hasValue(3);
      assertThat(broker.started).hasValue(1);
      await().atMost(TIMEOUT).until(() -> !worker.isStarting());
      worker.quit();
      assertThat(done).isCompleted();
    }
  }

  @Test
  void aWorkerTryingToStartIsListedAsStartingUntilItConsumes() throws Exception {
    try (Setup setup = Setup.outOfMemoryFirst(2)) {
      FailingStarts broker = setup.broker();
      ControlPlane plane = setup.plane();
      Worker worker = setup.listedWorker();
      worker.launchAsync();
      await()
          .atMost(TIMEOUT)
          .untilAsserted(
              () ->
                  assertThat(plane.workers())
                      .as("announced though its consumer failed to start")
                      .singleElement()
                      .satisfies(status -> assertThat(status.starting()).isTrue()));
      await()
          .atMost(TIMEOUT)
          .until(() -> broker.started.get() == 1 && !plane.workers().getFirst().starting());
      worker.quit();
      assertThat(plane.workers()).isEmpty();
    }
  }

  @Test
  void aConsumerStartedByAResumeDuringTheRetriesIsTheOnlyOne() throws Exception {
    try (Setup setup = Setup.outOfMemoryFirst(1)) {
      FailingStarts broker = setup.broker();
      ControlPlane plane = setup.plane();
      Worker worker = setup.listedWorker();
      worker.launchAsync(); // the first start fails; the next try is 1 s later
      plane.pause(Config.DEFAULT.defaultQueue());
      await().atMost(TIMEOUT).until(worker::isPaused); // the heartbeat follows the flag
      plane.resume(Config.DEFAULT.defaultQueue());
      await().atMost(TIMEOUT).until(() -> broker.started.get() == 1); // the resume started it
      await().atMost(TIMEOUT).until(() -> !worker.isStarting()); // the retry has run
      assertThat(broker.started).as("the retry found the resumed consumer").hasValue(1);
      assertThat(
              setup.server().sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L))).get(TIMEOUT))
          .containsExactly(3L);
      worker.quit();
    }
  }

  @Test
  void aResumeWhoseStartFailsIsTriedAgainAndListedAsStartingMeanwhile() throws Exception {
    try (Setup setup = Setup.outOfMemoryFirst(0)) {
      FailingStarts broker = setup.broker();
      ControlPlane plane = setup.plane();
      Worker worker = setup.listedWorker();
      worker.launchAsync();
      await().atMost(TIMEOUT).until(() -> broker.started.get() == 1);
      plane.pause(Config.DEFAULT.defaultQueue());
      await().atMost(TIMEOUT).until(worker::isPaused);
      broker.failNext(2);
      plane.resume(Config.DEFAULT.defaultQueue());
      await()
          .atMost(TIMEOUT)
          .untilAsserted(
              () ->
                  assertThat(plane.workers())
                      .as("listed as starting, not paused, while the resume is tried again")
                      .singleElement()
                      .satisfies(
                          status -> {
                            assertThat(status.starting()).isTrue();
                            assertThat(status.paused()).isFalse();
                          }));
      assertThat(
              setup.server().sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L))).get(TIMEOUT))
          .containsExactly(3L);
      assertThat(broker.attempts)
          .as("the first start, two failed tries, the one that worked")
          .hasValue(4);
      assertThat(broker.started).hasValue(2);
      await().atMost(TIMEOUT).until(() -> !worker.isStarting());
      worker.quit();
    }
  }

  @Test
  void quitStopsTheAttemptsAndCompletesTheLaunchNormally() throws Exception {
    try (Setup setup =
        Setup.failingFirst(Integer.MAX_VALUE, new MachineryException("unreachable"))) {
      FailingStarts broker = setup.broker();
      Worker worker = setup.server().workerBuilder("w").build();
      CompletableFuture<Void> done = worker.launchAsync();
      await().atMost(TIMEOUT).until(() -> broker.attempts.get() >= 2); // one retry seen
      worker.quit();
      assertThat(done).isCompleted().isNotCompletedExceptionally();
      assertThat(worker.isRunning()).isFalse();
      assertThat(worker.isStarting()).isFalse();
      int attemptsAtQuit = broker.attempts.get();
      // the retrying thread is gone: it was interrupted in its wait and no attempt follows
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  Thread.getAllStackTraces().keySet().stream()
                      .noneMatch(t -> t.getName().equals("machinery-start-w")));
      assertThat(broker.attempts).hasValue(attemptsAtQuit);
      assertThat(broker.started).hasValue(0);
    }
  }

  @Test
  void aConsumerTheServerRefusesForGoodFailsTheLaunchAtOnce() {
    try (Setup setup =
        Setup.failingFirst(
            1, new ConsumerRefusedException("PRECONDITION_FAILED - inequivalent arg", null))) {
      Server server = setup.server();
      FailingStarts broker = setup.broker();
      Worker worker = server.workerBuilder("w").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).isCompletedExceptionally();
      assertThatThrownBy(done::join)
          .hasCauseInstanceOf(ConsumerRefusedException.class)
          .hasMessageContaining("PRECONDITION_FAILED");
      assertThat(worker.isRunning()).isFalse();
      assertThat(broker.attempts).hasValue(1);
      assertThat(server.controlPlane().orElseThrow().workers())
          .as("not left listed as starting")
          .isEmpty();
    }
  }

  @Test
  void aClosedBrokerFailsTheLaunchAtOnce() {
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    try (Server server = Server.builder().broker(memory).build()) {
      memory.close();
      Worker worker = server.workerBuilder("w").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).as("the launch on a closed broker, at once").isCompletedExceptionally();
      assertThatThrownBy(done::join).hasMessageContaining("the memory broker is closed");
      assertThat(worker.isRunning()).isFalse();
    }
  }
}
