package io.machinery.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Chain;
import io.machinery.ChainAsyncResult;
import io.machinery.Chord;
import io.machinery.ChordAsyncResult;
import io.machinery.Group;
import io.machinery.RetryTaskLaterException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskBreaker;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.config.Config;
import io.machinery.periodic.PeriodicConfig;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A server on the memory broker driven through virtual time: minutes and hours of ETAs, retries,
 * limits, breakers and periodic ticks pass in milliseconds, each task starting at the virtual
 * instant it was due, and the driver returns only when everything runnable has run.
 */
class VirtualTimeTest {
  private static final Instant T0 = Instant.parse("2026-12-03T12:00:00Z");

  private final ManualClock clock = ManualClock.at(T0);

  /** The virtual instants at which "flaky" ran. */
  private final Queue<Instant> runs = new ConcurrentLinkedQueue<>();

  private Server server;

  private Server start(PeriodicConfig periodic) {
    server = Server.builder().clock(clock).periodic(periodic).build();
    server.registerTask(
        "add", TaskFunction.varargs(long[].class, numbers -> LongStream.of(numbers).sum()));
    return server;
  }

  private Server start() {
    return start(PeriodicConfig.builder().backgroundThread(false).build());
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** Fails {@code failures} times, then returns "ok"; records when it ran. */
  private void registerFlaky(int failures) {
    AtomicInteger calls = new AtomicInteger();
    server.registerTask(
        "flaky",
        TaskFunction.of(
            () -> {
              runs.add(clock.instant());
              if (calls.incrementAndGet() <= failures) {
                throw new IOException("down");
              }
              return "ok";
            }));
  }

  /** The README's example: a week of retries and daily reports in milliseconds. */
  @Test
  void readmeExample() {
    AtomicInteger reports = new AtomicInteger();
    // README:virtual-time:begin
    ManualClock clock = ManualClock.at("2026-01-01T00:00:00Z");
    Instant start = clock.instant();
    List<Instant> attempts = new CopyOnWriteArrayList<>();
    try (Server server =
        Server.builder()
            .clock(clock) // the memory broker and backend it creates follow this clock
            .periodic(PeriodicConfig.builder().backgroundThread(false).build())
            .build()) {
      server.registerTask(
          "charge",
          TaskFunction.of(
              () -> {
                attempts.add(clock.instant());
                if (attempts.size() < 3) {
                  throw new IOException("payment provider down");
                }
                return "charged";
              }));
      server.registerTask("report", TaskFunction.of(() -> reports.incrementAndGet()));
      server.registerPeriodicTask("0 9 * * *", "daily-report", Signature.create("report"));
      server.newWorker("test", 4).launchAsync();
      VirtualTime time = VirtualTime.of(server);

      AsyncResult charge = server.sendTask(Signature.builder("charge").retryCount(5).build());
      time.advance(Duration.ofMinutes(1)); // runs what falls due, at the instant it is due
      assertThat(charge.state()).isEqualTo(State.SUCCESS);
      assertThat(attempts) // Go's Fibonacci back-off: retried 1 s, then 2 s after a failure
          .containsExactly(start, start.plusSeconds(1), start.plusSeconds(3));

      time.advance(Duration.ofDays(7)); // a week of daily reports, in milliseconds
      assertThat(reports).hasValue(7);
    }
    // README:virtual-time:end
  }

  @Test
  void retriesRunAtTheirFibonacciDelaysAndTheClockEndsAtTheTarget() {
    start();
    registerFlaky(3);
    server.newWorker("vt", 2).launchAsync();
    VirtualTime time = VirtualTime.of(server);

    AsyncResult result = server.sendTask(Signature.builder("flaky").retryCount(5).build());
    assertThat(time.advance(Duration.ofMinutes(1))).isEqualTo(T0.plusSeconds(60));

    assertThat(result.state()).isEqualTo(State.SUCCESS);
    // Go's back-off: 1, 2, 3 s after each failure
    assertThat(runs).containsExactly(T0, T0.plusSeconds(1), T0.plusSeconds(3), T0.plusSeconds(6));
  }

  @Test
  void aTaskWithAnEtaRunsAtItsEtaAndNotBefore() {
    start();
    registerFlaky(0);
    server.newWorker("vt", 2).launchAsync();
    VirtualTime time = VirtualTime.of(server);
    AsyncResult result =
        server.sendTask(Signature.builder("flaky").eta(T0.plus(Duration.ofHours(1))).build());

    time.advance(Duration.ofMinutes(59).plusSeconds(59));
    assertThat(runs).isEmpty();
    assertThat(result.state()).isEqualTo(State.PENDING);

    time.advance(Duration.ofSeconds(1));
    assertThat(runs).containsExactly(T0.plus(Duration.ofHours(1)));
    assertThat(result.state()).isEqualTo(State.SUCCESS);
  }

  @Test
  void aTaskAskingToRunLaterRunsWhenItAsked() {
    start();
    AtomicBoolean asked = new AtomicBoolean();
    server.registerTask(
        "later",
        TaskFunction.of(
            () -> {
              runs.add(clock.instant());
              if (asked.compareAndSet(false, true)) {
                throw new RetryTaskLaterException("not yet", Duration.ofHours(2));
              }
              return "done";
            }));
    server.newWorker("vt", 2).launchAsync();
    VirtualTime time = VirtualTime.of(server);

    AsyncResult result = server.sendTask(Signature.builder("later").build());
    time.advance(Duration.ofHours(2).plusMinutes(30));

    assertThat(runs).containsExactly(T0, T0.plus(Duration.ofHours(2)));
    assertThat(result.state()).isEqualTo(State.SUCCESS);

    time.advance(Duration.ofHours(1));
    assertThat(server.backend().getState(result.taskUuid()))
        .as("results expire in virtual time too (an hour after they are stored, by default)")
        .isEmpty();
  }

  @Test
  void aRateLimitSpreadsRunsOverVirtualSeconds() {
    start();
    registerFlaky(0);
    server
        .workerBuilder("vt")
        .concurrency(4)
        .limit("flaky", TaskLimit.builder().rate(1, Duration.ofSeconds(1)).burst(1).build())
        .build()
        .launchAsync();
    VirtualTime time = VirtualTime.of(server);

    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      results.add(server.sendTask(Signature.builder("flaky").build()));
    }
    time.advance(Duration.ofMinutes(1));

    assertThat(results).allSatisfy(r -> assertThat(r.state()).isEqualTo(State.SUCCESS));
    List<Instant> at = List.copyOf(runs);
    assertThat(at).hasSize(5);
    for (int i = 1; i < at.size(); i++) {
      assertThat(Duration.between(at.get(i - 1), at.get(i)))
          .as("one run a second")
          .isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    }
  }

  /**
   * A task with an expiry runs only while it is not due: behind a rate limit's backlog, the tasks
   * that would start after their time fail as expired instead of running late.
   */
  @Test
  void tasksThatWouldStartAfterTheirExpiryFailWithoutRunning() {
    start();
    registerFlaky(1);
    server
        .workerBuilder("vt")
        .concurrency(4)
        .limit("flaky", TaskLimit.builder().rate(1, Duration.ofMinutes(1)).burst(1).build())
        .build()
        .launchAsync();
    VirtualTime time = VirtualTime.of(server);
    Instant expires = T0.plus(Duration.ofMinutes(2)).plusSeconds(30);

    List<AsyncResult> backlog = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      backlog.add(
          server.sendTask(Signature.builder("flaky").retryCount(1).expiresAt(expires).build()));
    }
    time.advance(Duration.ofMinutes(10));

    assertThat(runs).as("one a minute until the expiry, then none").hasSize(3);
    assertThat(runs).allSatisfy(at -> assertThat(at).isBefore(expires));
    assertThat(backlog)
        .filteredOn(r -> r.state() == State.FAILURE)
        .as("the first run failed and was retried; of the rest, those not started in time")
        .hasSize(3)
        .allSatisfy(
            r ->
                assertThat(r.taskState().orElseThrow().error())
                    .isEqualTo("expired: not started by " + expires));
    assertThat(backlog).filteredOn(r -> r.state() == State.SUCCESS).hasSize(2);
  }

  /** A retry that falls due after the task's expiry fails as expired, without running. */
  @Test
  void aRetryDueAfterTheExpiryFailsWithoutRunning() {
    start();
    server.registerTask(
        "later",
        TaskFunction.of(
            () -> {
              runs.add(clock.instant());
              throw new RetryTaskLaterException("not yet", Duration.ofHours(2));
            }));
    server.newWorker("vt", 2).launchAsync();
    VirtualTime time = VirtualTime.of(server);
    Instant expires = T0.plus(Duration.ofHours(1));

    AsyncResult result = server.sendTask(Signature.builder("later").expiresAt(expires).build());
    time.advance(
        Duration.ofHours(2).plusMinutes(30)); // results expire an hour after they are stored

    assertThat(runs).containsExactly(T0);
    assertThat(result.state()).isEqualTo(State.FAILURE);
    assertThat(result.taskState().orElseThrow().error())
        .isEqualTo("expired: not started by " + expires);
  }

  @Test
  void anOpenBreakerParksTasksUntilItsTrialSucceeds() {
    start();
    AtomicBoolean down = new AtomicBoolean(true);
    server.registerTask(
        "call",
        TaskFunction.of(
            () -> {
              runs.add(clock.instant());
              if (down.get()) {
                throw new IOException("connection refused");
              }
              return "ok";
            }));
    server
        .workerBuilder("vt")
        .concurrency(1)
        .breaker(
            "call",
            TaskBreaker.builder().window(2).minimumRuns(2).openFor(Duration.ofMinutes(1)).build())
        .build()
        .launchAsync();
    VirtualTime time = VirtualTime.of(server);

    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      results.add(server.sendTask(Signature.builder("call").retryCount(1).build()));
    }
    time.runUntilIdle();
    assertThat(runs).as("two failures open the breaker").hasSize(2);
    for (int i = 0; i < 4; i++) {
      results.add(server.sendTask(Signature.builder("call").retryCount(1).build()));
    }
    time.runUntilIdle();
    assertThat(runs).as("the next four are parked").hasSize(2);

    down.set(false);
    time.advance(Duration.ofMinutes(5));
    assertThat(results).allSatisfy(r -> assertThat(r.state()).isEqualTo(State.SUCCESS));
    assertThat(runs).as("the two failures, their two retries and the four parked tasks").hasSize(8);
    assertThat(runs.stream().skip(2))
        .as("nothing ran while the breaker was open")
        .allSatisfy(at -> assertThat(at).isAfterOrEqualTo(T0.plus(Duration.ofMinutes(1))));
  }

  @Test
  void periodicTasksFireAtEveryTickOfTheMovedTime() {
    start();
    registerFlaky(0);
    server.newWorker("vt", 2).launchAsync();
    server.registerPeriodicTask("*/15 * * * *", "quarterly", Signature.builder("flaky").build());
    VirtualTime time = VirtualTime.of(server);

    time.advance(Duration.ofHours(1));

    assertThat(runs)
        .containsExactly(
            T0.plus(Duration.ofMinutes(15)),
            T0.plus(Duration.ofMinutes(30)),
            T0.plus(Duration.ofMinutes(45)),
            T0.plus(Duration.ofMinutes(60)));
  }

  @Test
  void periodicEntriesBesideTheSchedulersOwnThreadAreRefusedWithTheFix() {
    start(PeriodicConfig.defaults());
    registerFlaky(0);
    server.registerPeriodicTask("*/15 * * * *", "quarterly", Signature.builder("flaky").build());
    VirtualTime time = VirtualTime.of(server);

    assertThatThrownBy(() -> time.advance(Duration.ofHours(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("backgroundThread(false)");
  }

  @Test
  void runUntilIdleReturnsOnlyWhenEveryChainAndChordHasFinished() {
    start();
    server.newWorker("vt", 8).launchAsync();
    VirtualTime time = VirtualTime.of(server);
    for (int round = 0; round < 5; round++) {
      List<ChainAsyncResult> chains = new ArrayList<>();
      List<ChordAsyncResult> chords = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        chains.add(
            server.sendChain(
                Chain.of(
                    Signature.create("add", Arg.of(1L)),
                    Signature.create("add", Arg.of(2L)),
                    Signature.create("add", Arg.of(3L)))));
        chords.add(
            server.sendChord(
                Chord.of(
                    Group.of(
                        Signature.create("add", Arg.of(1L)), Signature.create("add", Arg.of(2L))),
                    Signature.create("add")),
                0));
      }

      time.runUntilIdle();

      assertThat(chains)
          .allSatisfy(c -> assertThat(c.asyncResults().getLast().state()).isEqualTo(State.SUCCESS));
      assertThat(chords)
          .allSatisfy(c -> assertThat(c.callbackResult().state()).isEqualTo(State.SUCCESS));
      assertThat(time.now()).isEqualTo(T0);
    }
  }

  @Test
  void aTaskThatNeverEndsIsNamedWhenIdleDoesNotCome() throws InterruptedException {
    start();
    CountDownLatch release = new CountDownLatch(1);
    server.registerTask(
        "stuck",
        TaskFunction.of(
            () -> {
              release.await();
              return "free";
            }));
    server.newWorker("vt", 2).launchAsync();
    VirtualTime time = VirtualTime.of(server).withTimeout(Duration.ofMillis(200));
    AsyncResult result = server.sendTask(Signature.builder("stuck").build());

    assertThatThrownBy(time::runUntilIdle)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("1 message in transit");

    release.countDown();
    time.runUntilIdle();
    assertThat(result.state()).isEqualTo(State.SUCCESS);
  }

  @Test
  void queuesNoWorkerFetchesFromDoNotKeepItBusy() {
    start();
    server.newWorker("vt", 2).launchAsync();
    VirtualTime time = VirtualTime.of(server);
    AsyncResult elsewhere =
        server.sendTask(Signature.builder("add").routingKey("nobody_reads_this").build());

    time.advance(Duration.ofMinutes(1));

    assertThat(elsewhere.state()).isEqualTo(State.PENDING);
    assertThat(server.broker().pendingTasks("nobody_reads_this")).hasSize(1);
  }

  @Test
  void aServerWithoutAManualClockOrTheMemoryBrokerOnItIsRefused() {
    try (Server systemClock = Server.builder().build()) {
      assertThatThrownBy(() -> VirtualTime.of(systemClock))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("ManualClock");
    }
    try (MemoryBroker systemTime =
            MemoryBroker.create(Config.DEFAULT, java.time.Clock.systemUTC());
        Server otherClock = Server.builder().broker(systemTime).clock(clock).build()) {
      assertThatThrownBy(() -> VirtualTime.of(otherClock))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("follows another clock");
    }
    try (EagerBroker eager = EagerBroker.create(Config.DEFAULT);
        Server eagerServer = Server.builder().broker(eager).clock(clock).build()) {
      assertThatThrownBy(() -> VirtualTime.of(eagerServer))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("memory broker");
    }
  }
}
