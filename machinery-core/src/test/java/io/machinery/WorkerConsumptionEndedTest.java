package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Consumption;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeliveryHandler;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A worker whose consumer ends by itself ({@link DeliveryHandler#consumptionEnded}) starts a new
 * one, trying again while the broker's server fails it; a broker closed under the worker stops it
 * (its running task finishes first) and fails its future with why. Each broker's side (telling the
 * handler when it is closed under a consumer) is in the broker contract kit.
 */
class WorkerConsumptionEndedTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  /**
   * A memory broker whose consumers can be ended as a dead fetch loop would end them, and whose
   * starts after the first can fail a given number of times as a server's error would.
   */
  private static final class EndingConsumers extends DelegatingBroker {
    private final List<Consumption> consumptions = new CopyOnWriteArrayList<>();
    private final List<DeliveryHandler> handlers = new CopyOnWriteArrayList<>();
    final List<Long> startedAt = new CopyOnWriteArrayList<>();
    final AtomicInteger attempts = new AtomicInteger();
    private volatile int failuresAfterTheFirst;

    EndingConsumers(MemoryBroker memory, int failuresAfterTheFirst) {
      super(memory);
      this.failuresAfterTheFirst = failuresAfterTheFirst;
    }

    /** The memory broker's control plane (pause and resume), which DelegatingBroker leaves out. */
    @Override
    public Optional<ControlPlane> controlPlane() {
      return delegate.controlPlane();
    }

    /** No start fails from now on. */
    void mend() {
      failuresAfterTheFirst = 0;
    }

    @Override
    public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
      int attempt = attempts.incrementAndGet();
      if (attempt > 1 && attempt <= 1 + failuresAfterTheFirst) {
        throw new MachineryException("LOADING Redis is loading the dataset in memory");
      }
      // counted before the consumer exists: it may deliver a task, and the test read started(),
      // before super.startConsuming has returned
      startedAt.add(System.nanoTime());
      handlers.add(handler);
      Consumption c = super.startConsuming(tag, queue, handler);
      consumptions.add(c);
      return c;
    }

    /** Ends the latest consumer as a fetch loop that died would: it fetches nothing more. */
    void endLatest(Throwable cause) {
      consumptions.getLast().stopFetching(TIMEOUT);
      handlers.getLast().consumptionEnded(cause);
    }

    /** Consumers started, or being started (see startConsuming). */
    int started() {
      return startedAt.size();
    }
  }

  @Test
  void aConsumerThatEndsByItselfIsReplaced() throws Exception {
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    EndingConsumers broker = new EndingConsumers(memory, 0);
    try (memory;
        Server server = Server.builder().broker(broker).build()) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      Worker worker = server.workerBuilder("w").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(server.sendTask(add(1, 2)).get(TIMEOUT)).containsExactly(3L);

      broker.endLatest(new IllegalStateException("fetch loop failed: a bug"));
      await().atMost(TIMEOUT).until(() -> broker.started() == 2 && !worker.isStarting());
      assertThat(server.sendTask(add(2, 3)).get(TIMEOUT))
          .as("a task sent after the first consumer ended")
          .containsExactly(5L);
      assertThat(worker.isRunning()).isTrue();
      assertThat(done).isNotDone();
      worker.quit();
      assertThat(done).isCompleted().isNotCompletedExceptionally();
    }
  }

  @Test
  void consumersThatEndBeforeTheyDeliverAreReplacedAfterABackOff() throws Exception {
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    EndingConsumers broker = new EndingConsumers(memory, 0);
    try (memory;
        Server server = Server.builder().broker(broker).build()) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      Worker worker = server.workerBuilder("w").build();
      worker.launchAsync();
      broker.endLatest(new IllegalStateException("fetch loop failed: a bug"));
      await().atMost(TIMEOUT).until(() -> broker.started() == 2 && !worker.isStarting());

      long secondEnded = System.nanoTime();
      broker.endLatest(new IllegalStateException("fetch loop failed again"));
      assertThat(worker.isStarting()).as("waiting to start the third consumer").isTrue();
      await().atMost(TIMEOUT).until(() -> broker.started() == 3 && !worker.isStarting());
      assertThat(broker.startedAt.get(2) - secondEnded)
          .as("the second consumer ended before it delivered: the third waits a back-off")
          .isGreaterThanOrEqualTo(Worker.START_BACKOFF.delay(1).toNanos());

      assertThat(server.sendTask(add(1, 2)).get(TIMEOUT)).containsExactly(3L);
      long thirdEnded = System.nanoTime();
      broker.endLatest(new IllegalStateException("fetch loop failed after a delivery"));
      await().atMost(TIMEOUT).until(() -> broker.started() == 4 && !worker.isStarting());
      assertThat(broker.startedAt.get(3) - thirdEnded)
          .as("the third consumer delivered a task: the fourth starts at once, not after 2 s")
          .isLessThan(Worker.START_BACKOFF.delay(2).toNanos());
      assertThat(server.sendTask(add(2, 3)).get(TIMEOUT)).containsExactly(5L);
      worker.quit();
    }
  }

  @Test
  void aConsumerThatRanPastTheProvenAgeWithoutATaskIsReplacedAtOnce() throws Exception {
    ManualClock clock = ManualClock.atNow();
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    EndingConsumers broker = new EndingConsumers(memory, 0);
    try (memory;
        Server server = Server.builder().broker(broker).clock(clock).build()) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      Worker worker = server.workerBuilder("w").build();
      worker.launchAsync();
      broker.endLatest(new IllegalStateException("fetch loop failed: a bug"));
      await().atMost(TIMEOUT).until(() -> broker.started() == 2 && !worker.isStarting());

      clock.advance(Worker.PROVEN_CONSUMER_AGE); // an idle queue: no task, but half a minute up
      long secondEnded = System.nanoTime();
      broker.endLatest(new IllegalStateException("fetch loop failed after a quiet while"));
      await().atMost(TIMEOUT).until(() -> broker.started() == 3 && !worker.isStarting());
      assertThat(broker.startedAt.get(2) - secondEnded)
          .as("the second consumer ran the proven age by the server's clock: no back-off")
          .isLessThan(Worker.START_BACKOFF.delay(1).toNanos());
      assertThat(server.sendTask(add(1, 2)).get(TIMEOUT)).containsExactly(3L);
      worker.quit();
    }
  }

  @Test
  void aReplacementTheServerFailsIsTriedAgain() throws Exception {
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    EndingConsumers broker = new EndingConsumers(memory, 1);
    try (memory;
        Server server = Server.builder().broker(broker).build()) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      Worker worker = server.workerBuilder("w").build();
      worker.launchAsync();
      broker.endLatest(new IllegalStateException("fetch loop failed: a bug"));
      AsyncResult sum = server.sendTask(add(4, 5));
      await().atMost(TIMEOUT).until(() -> broker.attempts.get() >= 2);
      assertThat(sum.get(TIMEOUT)).as("run by the replacement's retry").containsExactly(9L);
      assertThat(broker.attempts).hasValue(3);
      assertThat(broker.started()).isEqualTo(2);
      worker.quit();
    }
  }

  @Test
  void aQueuePausedWhileTheReplacementIsTriedStaysPausedUntilResumed() throws Exception {
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    EndingConsumers broker = new EndingConsumers(memory, 1_000_000);
    try (memory;
        Server server = Server.builder().broker(broker).build()) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      ControlPlane plane = server.controlPlane().orElseThrow();
      Worker worker = server.workerBuilder("w").heartbeatInterval(Duration.ofMillis(100)).build();
      worker.launchAsync();
      broker.endLatest(new IllegalStateException("fetch loop failed: a bug"));
      await().atMost(TIMEOUT).until(() -> broker.attempts.get() >= 2); // a replacement failed

      plane.pause(Config.DEFAULT.defaultQueue());
      await().atMost(TIMEOUT).until(worker::isPaused);
      broker.mend();
      // the retry after 1 s finds the queue paused and starts nothing
      await().atMost(TIMEOUT).until(() -> !worker.isStarting());
      AsyncResult sum = server.sendTask(add(1, 1));
      assertThat(broker.started()).as("no consumer while paused").isEqualTo(1);
      assertThat(sum.state()).isEqualTo(State.PENDING);

      plane.resume(Config.DEFAULT.defaultQueue());
      assertThat(sum.get(TIMEOUT)).containsExactly(2L);
      assertThat(broker.started()).isEqualTo(2);
      worker.quit();
    }
  }

  @Test
  void aBrokerClosedUnderTheWorkerStopsItAfterItsRunningTask() throws Exception {
    MemoryBroker memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try (memory;
        Server server = Server.builder().broker(memory).build()) {
      server.registerTask(
          "held",
          TaskFunction.of(
              Long.class,
              n -> {
                entered.countDown();
                return release.await(30, TimeUnit.SECONDS) ? n : -1L;
              }));
      Worker worker = server.workerBuilder("w").build();
      CompletableFuture<Void> done = worker.launchAsync();
      AsyncResult held = server.sendTask(Signature.create("held", Arg.of(7L)));
      assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();

      memory.close();
      assertThat(done).as("a running task keeps the worker until it ends").isNotDone();
      release.countDown();
      assertThat(held.get(TIMEOUT)).containsExactly(7L);
      await().atMost(TIMEOUT).until(done::isDone);
      assertThatThrownBy(done::join)
          .as("the future says why the worker stopped")
          .hasCauseInstanceOf(IllegalStateException.class)
          .hasMessageContaining("the memory broker is closed");
      assertThat(worker.isRunning()).isFalse();
    }
  }

  @Test
  void duringAMoveTheOldBrokerClosedUnderTheWorkerLeavesItConsumingTheNewOne() throws Exception {
    MemoryBroker old = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    MemoryBroker fresh = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    try (fresh;
        old;
        Server server = Server.builder().broker(MigratingBroker.of(old, fresh)).build()) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      Worker worker = server.workerBuilder("w").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(server.sendTask(add(1, 2)).get(TIMEOUT)).containsExactly(3L);

      old.close();
      await().atMost(TIMEOUT).until(() -> !worker.isStarting());
      assertThat(server.sendTask(add(3, 4)).get(TIMEOUT))
          .as("sent to the new broker after the old one closed")
          .containsExactly(7L);
      assertThat(done).isNotDone();
      worker.quit();
      assertThat(done).isCompleted().isNotCompletedExceptionally();
    }
  }

  private static Signature add(long a, long b) {
    return Signature.create("add", Arg.of(a), Arg.of(b));
  }
}
