package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.TaskBreaker.State;
import io.machinery.config.Config;
import io.machinery.embedded.EagerBackend;
import io.machinery.embedded.EagerBroker;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Circuit breakers in a running worker on the memory broker, whose delays follow a clock the test
 * moves: an open breaker parks tasks (they do not run and keep their retries) until its time is up,
 * however long real time takes.
 */
class WorkerBreakerTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private static final Duration OPEN_FOR = Duration.ofMinutes(1);

  private final ManualClock clock = ManualClock.at(Instant.parse("2026-12-03T12:00:00Z"));
  private final AtomicBoolean down = new AtomicBoolean(true);
  private final AtomicInteger runs = new AtomicInteger();

  /** The attempt each task succeeded at, by UUID. */
  private final Map<String, Integer> succeededAt = new ConcurrentHashMap<>();

  private MemoryBroker broker;
  private MemoryBackend backend;
  private Server server;
  private Worker worker;

  @BeforeEach
  void start() {
    broker = MemoryBroker.create(Config.DEFAULT, clock);
    backend = MemoryBackend.create(Config.DEFAULT, clock);
    server = Server.builder().broker(broker).backend(backend).clock(clock).build();
    server.registerTask(
        "call",
        TaskFunction.withContext(
            List.of(),
            false,
            (context, args) -> {
              runs.incrementAndGet();
              if (down.get()) {
                throw new IOException("connection refused");
              }
              succeededAt.put(context.signature().uuid(), context.attempt());
              return "ok";
            }));
    worker =
        server
            .workerBuilder("breaker")
            .concurrency(1)
            .breaker(
                "call", TaskBreaker.builder().window(4).minimumRuns(4).openFor(OPEN_FOR).build())
            .build();
    worker.launchAsync();
  }

  @AfterEach
  void stop() {
    server.close();
    broker.close();
    backend.close();
  }

  private List<AsyncResult> send(int tasks, int retryCount) {
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < tasks; i++) {
      results.add(server.sendTask(Signature.builder("call").retryCount(retryCount).build()));
    }
    return results;
  }

  /** Every task sent waits in the delayed set: parked, or a retry. */
  private void awaitDelayed(int tasks) {
    await().atMost(TIMEOUT).until(() -> broker.delayedTasks().size() == tasks);
  }

  /**
   * Four tasks fail (the breaker's minimum) and wait for their retries, the breaker opens, then six
   * more tasks are parked.
   */
  private List<AsyncResult> openTheBreakerAndPark(int retryCount) {
    List<AsyncResult> results = send(4, retryCount);
    awaitDelayed(4);
    assertThat(runs).hasValue(4);
    assertThat(worker.breakerStates()).containsExactly(Map.entry("call", State.OPEN));
    results.addAll(send(6, retryCount));
    awaitDelayed(10);
    assertThat(runs).hasValue(4);
    return results;
  }

  @Test
  void anOpenBreakerParksTasksThatKeepTheirRetriesAndATrialClosesItWhenTheDownstreamIsBack() {
    List<AsyncResult> results = openTheBreakerAndPark(3);
    List<Signature> delayed = broker.delayedTasks();
    assertThat(delayed.stream().filter(s -> s.headers().containsKey(MessageHeaders.BREAKER)))
        .hasSize(6)
        .allSatisfy(s -> assertThat(s.retryCount()).isEqualTo(3));

    down.set(false);
    clock.advance(OPEN_FOR.plus(OPEN_FOR.dividedBy(4))); // every parked task and retry is due
    await().atMost(TIMEOUT).until(() -> worker.breakerStates().get("call") == State.CLOSED);
    clock.advance(OPEN_FOR); // the tasks parked while the trial ran are due
    for (AsyncResult result : results) {
      assertThat(result.get(TIMEOUT)).containsExactly("ok");
    }
    assertThat(runs).hasValue(14); // 4 failures, then each of the 10 once
    assertThat(succeededAt.values().stream().filter(attempt -> attempt == 1)).hasSize(6);
    assertThat(succeededAt.values().stream().filter(attempt -> attempt == 2)).hasSize(4);
  }

  @Test
  void whileTheDownstreamStaysDownEachOpenSpellCostsOneTrialRunAndNoTaskEndsInFailure() {
    List<AsyncResult> results = openTheBreakerAndPark(5); // a trial spends a retry
    for (int spell = 1; spell <= 3; spell++) {
      clock.advance(OPEN_FOR.plus(OPEN_FOR.dividedBy(4)));
      int expected = 4 + spell;
      await().atMost(TIMEOUT).until(() -> runs.get() == expected);
      awaitDelayed(10);
      assertThat(runs).hasValue(expected);
      assertThat(worker.breakerStates()).containsEntry("call", State.OPEN);
    }
    assertThat(results)
        .allSatisfy(r -> assertThat(r.state()).isNotEqualTo(io.machinery.State.FAILURE));
  }

  @Test
  void anErrorTheBreakerDoesNotCountLetsTheTasksRun() throws Exception {
    try (MemoryBroker ownBroker = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
        MemoryBackend ownBackend = MemoryBackend.create(Config.DEFAULT, Clock.systemUTC());
        Server other = Server.builder().broker(ownBroker).backend(ownBackend).build()) {
      AtomicInteger calls = new AtomicInteger();
      other.registerTask(
          "validate",
          TaskFunction.of(
              () -> {
                calls.incrementAndGet();
                throw new IllegalArgumentException("bad customer id");
              }));
      Worker validating =
          other
              .workerBuilder("validating")
              .concurrency(1)
              .breaker(
                  "validate",
                  TaskBreaker.builder()
                      .window(1)
                      .countsAsFailure(e -> e instanceof IOException)
                      .build())
              .build();
      validating.launchAsync();
      for (int i = 0; i < 3; i++) {
        AsyncResult result = other.sendTask(Signature.create("validate"));
        assertThatThrownBy(() -> result.get(TIMEOUT)).hasMessageContaining("bad customer id");
      }
      assertThat(calls).hasValue(3);
      assertThat(validating.breakerStates()).containsEntry("validate", State.CLOSED);
    }
  }

  @Test
  void onTheEagerBrokerAParkedTaskWaitsInTheSendersThread() {
    AtomicInteger calls = new AtomicInteger();
    try (EagerBroker eager = EagerBroker.create(Config.DEFAULT);
        EagerBackend eagerBackend = EagerBackend.create();
        Server inline = Server.builder().broker(eager).backend(eagerBackend).build()) {
      inline.registerTask(
          "call",
          TaskFunction.of(
              () -> {
                if (calls.incrementAndGet() == 1) {
                  throw new IOException("connection refused");
                }
                return "ok";
              }));
      Worker eagerWorker =
          inline
              .workerBuilder("eager")
              .breaker(
                  "call", TaskBreaker.builder().window(1).openFor(Duration.ofMillis(100)).build())
              .build();
      eagerWorker.launchAsync();
      assertThatThrownBy(() -> inline.sendTask(Signature.create("call")).get(TIMEOUT))
          .hasMessageContaining("connection refused");
      assertThat(eagerWorker.breakerStates()).containsEntry("call", State.OPEN);
      long begin = System.nanoTime();
      assertThat(inline.sendTask(Signature.create("call")).get(TIMEOUT)).containsExactly("ok");
      assertThat(Duration.ofNanos(System.nanoTime() - begin))
          .isGreaterThanOrEqualTo(Duration.ofMillis(50)); // waited for the trial
      assertThat(eagerWorker.breakerStates()).containsEntry("call", State.CLOSED);
      assertThat(eager.deadLetters()).isEmpty();
    }
  }
}
