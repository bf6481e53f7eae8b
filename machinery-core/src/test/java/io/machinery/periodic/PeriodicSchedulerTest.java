package io.machinery.periodic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chain;
import io.machinery.Dag;
import io.machinery.Saga;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.embedded.EagerLock;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.periodic.PeriodicEntry.Kind;
import io.machinery.periodic.PeriodicRun.Outcome;
import io.machinery.spi.Lock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Periodic tasks on a manual clock: nothing here waits for real minutes. */
class PeriodicSchedulerTest {
  private static final Duration RESULT_TIMEOUT = Duration.ofSeconds(10);
  private static final PeriodicConfig MANUAL =
      PeriodicConfig.builder()
          .programName("periodic-test")
          .zone(ZoneOffset.UTC)
          .backgroundThread(false)
          .build();

  private final ManualClock clock = ManualClock.at("2024-05-06T10:00:30Z");
  private final List<AutoCloseable> closeAfter = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closeAfter.reversed()) {
      c.close();
    }
  }

  private <T extends AutoCloseable> T closing(T resource) {
    closeAfter.add(resource);
    return resource;
  }

  /**
   * A server on the manual clock with memory broker and backend, "add" and "multiply" tasks and a
   * worker.
   */
  private Server serverWithWorker(PeriodicConfig config) {
    Server server = closing(Server.builder().clock(clock).periodic(config).build());
    server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
    server.registerTask("multiply", TaskFunction.of(Long.class, Long.class, (a, b) -> a * b));
    server.newWorker("periodic-worker", 4).launchAsync();
    return server;
  }

  private static Signature add(long... numbers) {
    return Signature.create("add", LongStream.of(numbers).mapToObj(Arg::of).toArray(Arg[]::new));
  }

  private static PeriodicRun onlyRun(List<PeriodicRun> runs) {
    assertThat(runs).hasSize(1);
    return runs.get(0);
  }

  // ----------------------------------------------------------------------------------------------
  // workflows

  @Test
  void aPeriodicTaskFiresOnItsTickAndItsResultIsStored() {
    Server server = serverWithWorker(MANUAL);
    server.registerPeriodicTask("*/5 * * * *", "adder", add(1, 2));

    assertThat(server.periodicScheduler().runDue()).as("10:00:30 is not a tick").isEmpty();
    assertThat(server.periodicEntries())
        .singleElement()
        .satisfies(
            e -> assertThat(e.nextFireTime()).isEqualTo(Instant.parse("2024-05-06T10:05:00Z")));

    clock.set("2024-05-06T10:05:00Z");
    PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
    assertThat(run.outcome()).isEqualTo(Outcome.SENT);
    assertThat(run.scheduledAt()).isEqualTo(Instant.parse("2024-05-06T10:05:00Z"));
    Signature sent = run.signatures().get(0);
    assertThat(sent.name()).isEqualTo("add");
    assertThat(server.asyncResult(sent.uuid()).get(RESULT_TIMEOUT)).containsExactly(3L);
    assertThat(server.asyncResult(sent.uuid()).state()).isEqualTo(State.SUCCESS);

    assertThat(server.periodicScheduler().runDue()).as("each tick is handled once").isEmpty();
    assertThat(server.periodicEntries().get(0).nextFireTime())
        .isEqualTo(Instant.parse("2024-05-06T10:10:00Z"));
  }

  @Test
  void everyRunSendsFreshUuids() {
    Server server = serverWithWorker(MANUAL);
    Signature template = add(1, 1).toBuilder().onSuccess(add(5)).build();
    server.registerPeriodicTask("@every 1m", "fresh", template);

    List<Signature> sent = new ArrayList<>();
    for (int tick = 0; tick < 3; tick++) {
      clock.advance(Duration.ofMinutes(1));
      sent.add(onlyRun(server.periodicScheduler().runDue()).signatures().get(0));
    }
    assertThat(sent)
        .extracting(Signature::uuid)
        .doesNotHaveDuplicates()
        .doesNotContain(template.uuid())
        .allSatisfy(uuid -> assertThat(uuid).startsWith("task_"));
    assertThat(sent)
        .extracting(s -> s.onSuccess().get(0).uuid())
        .doesNotHaveDuplicates()
        .doesNotContain(template.onSuccess().get(0).uuid());
    for (Signature s : sent) {
      assertThat(server.asyncResult(s.uuid()).get(RESULT_TIMEOUT)).containsExactly(2L);
      assertThat(server.asyncResult(s.onSuccess().get(0).uuid()).get(RESULT_TIMEOUT))
          .containsExactly(7L);
    }
  }

  @Test
  void aPeriodicGroupSendsANewGroupEveryTick() {
    Server server = serverWithWorker(MANUAL);
    server.registerPeriodicGroup("@hourly", "adders", 1, add(1, 1), add(2, 2));

    List<String> groupUuids = new ArrayList<>();
    for (int hour = 11; hour <= 12; hour++) {
      clock.set("2024-05-06T" + hour + ":00:00Z");
      PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
      assertThat(run.outcome()).isEqualTo(Outcome.SENT);
      assertThat(run.signatures())
          .hasSize(2)
          .allSatisfy(s -> assertThat(s.groupTaskCount()).isEqualTo(2));
      assertThat(run.signatures())
          .extracting(Signature::groupUuid)
          .containsOnly(run.signatures().get(0).groupUuid());
      groupUuids.add(run.signatures().get(0).groupUuid());
      assertThat(server.asyncResult(run.signatures().get(0).uuid()).get(RESULT_TIMEOUT))
          .containsExactly(2L);
      assertThat(server.asyncResult(run.signatures().get(1).uuid()).get(RESULT_TIMEOUT))
          .containsExactly(4L);
    }
    assertThat(groupUuids)
        .doesNotHaveDuplicates()
        .allSatisfy(uuid -> assertThat(uuid).startsWith("group_"));
  }

  @Test
  void aPeriodicChainPassesEachResultOn() {
    Server server = serverWithWorker(MANUAL);
    server.registerPeriodicChain(
        "0 11 * * MON", "add-then-double", add(1, 2), Signature.create("multiply", Arg.of(2L)));

    clock.set("2024-05-06T11:00:00Z"); // a Monday
    PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
    assertThat(run.signatures()).extracting(Signature::name).containsExactly("add", "multiply");
    assertThat(server.asyncResult(run.signatures().get(1).uuid()).get(RESULT_TIMEOUT))
        .containsExactly(6L);
    assertThat(server.periodicEntries().get(0).nextFireTime())
        .isEqualTo(Instant.parse("2024-05-13T11:00:00Z"));
  }

  @Test
  void aPeriodicChordSendsTheGroupResultsToItsCallback() {
    Server server = serverWithWorker(MANUAL);
    Signature sum = Signature.create("add");
    server.registerPeriodicChord(
        "CRON_TZ=Europe/Paris 0 13 * * *", "sum-of-sums", 0, sum, add(1, 1), add(2, 2));

    clock.set("2024-05-06T11:00:00Z"); // 13:00 in Paris (CEST)
    PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
    assertThat(run.outcome()).isEqualTo(Outcome.SENT);
    Signature callback = run.signatures().get(2);
    assertThat(callback.uuid()).startsWith("chord_").isNotEqualTo(sum.uuid());
    assertThat(server.asyncResult(callback.uuid()).get(RESULT_TIMEOUT)).containsExactly(6L);
  }

  @Test
  void aPeriodicDagSendsACopyWithNewUuidsOnEveryTick() {
    Server server = serverWithWorker(MANUAL);
    Dag dag =
        Dag.builder()
            .task("a", add(1, 2))
            .task("b", add(10), "a")
            .task("c", Signature.create("multiply", Arg.of(2L)), "a")
            .task("sum", add(), "b", "c")
            .build();
    server.registerPeriodicDag("0 * * * *", "hourly-dag", dag);

    List<String> sums = new ArrayList<>();
    for (String hour : List.of("2024-05-06T11:00:00Z", "2024-05-06T12:00:00Z")) {
      clock.set(hour);
      PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
      assertThat(run.outcome()).isEqualTo(Outcome.SENT);
      assertThat(run.signatures()).extracting(Signature::name).hasSize(4);
      Signature sum = run.signatures().get(3);
      assertThat(sum.uuid()).isNotEqualTo(dag.task("sum").uuid());
      // a = 3, b = 10 + 3, c = 2 * 3, sum = 13 + 6
      assertThat(server.asyncResult(sum.uuid()).get(RESULT_TIMEOUT)).containsExactly(19L);
      sums.add(sum.uuid());
    }
    assertThat(sums).doesNotHaveDuplicates();
    assertThat(server.periodicEntries().get(0).kind()).isEqualTo(Kind.DAG);
  }

  /**
   * A periodic saga sends a copy with new UUIDs on every tick; when its last step fails, the
   * compensation of that tick's first step undoes it with that tick's result.
   */
  @Test
  void aPeriodicSagaSendsACopyWithNewUuidsOnEveryTick() {
    Server server = serverWithWorker(MANUAL);
    List<String> undone = new CopyOnWriteArrayList<>();
    server.registerTask(
        "undo",
        TaskFunction.of(
            Long.class,
            sum -> {
              undone.add("undo " + sum);
              return null;
            }));
    server.registerTask(
        "fail",
        TaskFunction.of(
            Long.class,
            sum -> {
              throw new IllegalStateException("failed after " + sum);
            }));
    Saga saga =
        Saga.builder()
            .step(add(1, 2), Signature.create("undo"))
            .step(Signature.create("fail"))
            .build();
    server.registerPeriodicSaga("0 * * * *", "hourly-saga", saga);

    List<String> firstSteps = new ArrayList<>();
    for (String hour : List.of("2024-05-06T11:00:00Z", "2024-05-06T12:00:00Z")) {
      clock.set(hour);
      PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
      assertThat(run.outcome()).isEqualTo(Outcome.SENT);
      assertThat(run.signatures()).extracting(Signature::name).containsExactly("add", "fail");
      Signature first = run.signatures().get(0);
      assertThat(first.uuid()).isNotEqualTo(saga.steps().get(0).uuid());
      assertThatThrownBy(
              () -> server.asyncResult(run.signatures().get(1).uuid()).get(RESULT_TIMEOUT))
          .hasMessage("failed after 3");
      firstSteps.add(first.uuid());
      // before the clock moves on: the step's state expires an hour after it was stored
      int ticks = firstSteps.size();
      await().atMost(RESULT_TIMEOUT).until(() -> undone.size() == ticks);
    }
    assertThat(firstSteps).doesNotHaveDuplicates();
    assertThat(undone).containsExactly("undo 3", "undo 3");
    assertThat(server.periodicEntries().get(0).kind()).isEqualTo(Kind.SAGA);
  }

  // ----------------------------------------------------------------------------------------------
  // locking

  @Test
  void threeServersSharingAnEagerLockFireOncePerTick() {
    MemoryBroker broker = closing(MemoryBroker.create(Config.DEFAULT, clock));
    MemoryBackend backend = closing(MemoryBackend.create(Config.DEFAULT, clock));
    EagerLock lock = closing(EagerLock.create(clock, EagerLock.DEFAULT_RETRIES, Duration.ZERO));
    AtomicInteger executions = new AtomicInteger();
    List<Server> servers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Server server =
          closing(
              Server.builder()
                  .clock(clock)
                  .broker(broker)
                  .backend(backend)
                  .lock(lock)
                  .periodic(MANUAL)
                  .build());
      server.registerTask("tick", TaskFunction.of(executions::incrementAndGet));
      server.registerPeriodicTask("* * * * *", "every-minute", Signature.create("tick"));
      servers.add(server);
    }
    servers.get(0).newWorker("worker", 2).launchAsync();

    int ticks = 50;
    for (int tick = 1; tick <= ticks; tick++) {
      clock.set(Instant.parse("2024-05-06T10:00:00Z").plus(Duration.ofMinutes(tick)));
      List<CompletableFuture<List<PeriodicRun>>> both =
          servers.stream()
              .map(s -> CompletableFuture.supplyAsync(s.periodicScheduler()::runDue))
              .toList();
      List<PeriodicRun> runs = both.stream().flatMap(f -> f.join().stream()).toList();
      assertThat(runs)
          .extracting(PeriodicRun::outcome)
          .as("tick %d", tick)
          .containsExactlyInAnyOrder(
              Outcome.SENT, Outcome.LOCKED_ELSEWHERE, Outcome.LOCKED_ELSEWHERE);
    }
    await().atMost(RESULT_TIMEOUT).untilAsserted(() -> assertThat(executions).hasValue(ticks));
  }

  @Test
  void eachRunTakesGosLockKeyUntilJustBeforeTheNextTick() {
    List<String> calls = new CopyOnWriteArrayList<>();
    Lock recording =
        new Lock() {
          @Override
          public boolean tryLock(String key, long expiresAtUnixNanos) {
            throw new AssertionError();
          }

          @Override
          public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
            calls.add(key + "=" + expiresAtUnixNanos);
            return true;
          }

          @Override
          public void close() {}
        };
    Server server =
        closing(
            Server.builder()
                .clock(clock)
                .lock(recording)
                .periodic(MANUAL.toBuilder().programName("billing").build())
                .build());
    server.registerPeriodicTask("*/5 * * * *", "invoice", Signature.create("invoice"));
    assertThat(server.periodicEntries().get(0).lockKey())
        .isEqualTo("machinery_lock_billinginvoice*/5 * * * *");

    clock.set("2024-05-06T10:05:00.250Z");
    server.periodicScheduler().runDue();
    long next = Instant.parse("2024-05-06T10:10:00Z").getEpochSecond() * 1_000_000_000L;
    assertThat(calls).containsExactly("machinery_lock_billinginvoice*/5 * * * *=" + (next - 1));
  }

  @Test
  void aRunWhoseLockFailsOrWhoseSendFailsIsReportedAndTheNextTickStillFires() {
    AtomicInteger lockCalls = new AtomicInteger();
    Lock flaky =
        new Lock() {
          @Override
          public boolean tryLock(String key, long expiresAtUnixNanos) {
            return true;
          }

          @Override
          public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
            if (key.contains("small") && lockCalls.incrementAndGet() == 1) {
              throw new IllegalStateException("lock server down");
            }
            return true;
          }

          @Override
          public void close() {}
        };
    Server server =
        closing(
            Server.builder()
                .clock(clock)
                .lock(flaky)
                .config(Config.DEFAULT.toBuilder().maxMessageBytes(2000).build())
                .periodic(MANUAL)
                .build());
    server.registerPeriodicTask("@every 10s", "small", Signature.create("small"));
    server.registerPeriodicTask(
        "@every 10s", "too-big", Signature.create("big", Arg.of("x".repeat(5000))));

    clock.advance(Duration.ofSeconds(10));
    List<PeriodicRun> first = server.periodicScheduler().runDue();
    assertThat(first).extracting(PeriodicRun::outcome).containsOnly(Outcome.FAILED);
    assertThat(first)
        .extracting(r -> r.error().getMessage())
        .anySatisfy(m -> assertThat(m).contains("lock server down"))
        .anySatisfy(m -> assertThat(m).contains("over the limit"));

    clock.advance(Duration.ofSeconds(10));
    assertThat(server.periodicScheduler().runDue())
        .extracting(PeriodicRun::name, PeriodicRun::outcome)
        .containsExactly(tuple("small", Outcome.SENT), tuple("too-big", Outcome.FAILED));
  }

  // ----------------------------------------------------------------------------------------------
  // entries

  @Test
  void entriesCanBeListedReplacedAndUnregistered() {
    Server server = closing(Server.builder().clock(clock).periodic(MANUAL).build());
    server.registerPeriodicTask("0 12 * * *", "report", Signature.create("report"));
    server.registerPeriodicGroup(
        "@daily", "cleanup", 0, Signature.create("a"), Signature.create("b"));
    assertThat(server.periodicEntries())
        .extracting(
            PeriodicEntry::name,
            PeriodicEntry::kind,
            PeriodicEntry::spec,
            PeriodicEntry::nextFireTime)
        .containsExactly(
            tuple("report", Kind.TASK, "0 12 * * *", Instant.parse("2024-05-06T12:00:00Z")),
            tuple("cleanup", Kind.GROUP, "@daily", Instant.parse("2024-05-07T00:00:00Z")));

    server.registerPeriodicTask("30 10 * * *", "report", Signature.create("report-v2"));
    assertThat(server.periodicScheduler().entry("report"))
        .hasValueSatisfying(
            e -> {
              assertThat(e.spec()).isEqualTo("30 10 * * *");
              assertThat(e.nextFireTime()).isEqualTo(Instant.parse("2024-05-06T10:30:00Z"));
            });
    assertThat(server.periodicEntries()).hasSize(2);

    clock.set("2024-05-06T10:30:00Z");
    assertThat(onlyRun(server.periodicScheduler().runDue()).signatures().get(0).name())
        .isEqualTo("report-v2");

    assertThat(server.unregisterPeriodic("report")).isTrue();
    assertThat(server.unregisterPeriodic("report")).isFalse();
    clock.set("2024-05-07T10:30:00Z");
    assertThat(onlyRun(server.periodicScheduler().runDue()).name())
        .as("only cleanup is left")
        .isEqualTo("cleanup");
    assertThat(server.periodicEntries()).extracting(PeriodicEntry::name).containsExactly("cleanup");
  }

  @Test
  void invalidRegistrationsAreRefusedWithAReason() {
    Server server = closing(Server.builder().clock(clock).periodic(MANUAL).build());
    Signature task = Signature.create("t");
    assertThatThrownBy(() -> server.registerPeriodicTask("0 0 * * 7", "n", task))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "invalid periodic spec \"0 0 * * 7\": day-of-week field \"7\" (0-6): end of range (7) above"
                + " maximum (6): 7");
    assertThatThrownBy(() -> server.registerPeriodicTask("61 * * * *", "n", task))
        .hasMessageContaining("minute field \"61\"");
    assertThatThrownBy(() -> server.registerPeriodicChain("@fortnightly", "n", task))
        .hasMessageContaining("unrecognized descriptor @fortnightly");
    assertThatThrownBy(() -> server.registerPeriodicTask("0 0 30 2 *", "n", task))
        .hasMessage(
            "invalid periodic spec \"0 0 30 2 *\": it never fires (no time in the next five years matches"
                + " it)");
    assertThatThrownBy(() -> server.registerPeriodicTask("@daily", "", task))
        .hasMessage("a periodic entry needs a non-empty name");
    assertThatThrownBy(
            () -> server.registerPeriodicTask("@daily", "n", Signature.emptyBuilder().build()))
        .hasMessage("periodic entry n: a task signature needs a name");
    assertThatThrownBy(() -> server.registerPeriodicGroup("@daily", "n", 0))
        .hasMessage("periodic entry n needs at least one signature");
    assertThatThrownBy(() -> server.registerPeriodicChord("@daily", "n", -1, task, task))
        .hasMessageContaining("sendConcurrency must be >= 0");
    assertThatThrownBy(
            () ->
                server.registerPeriodicTask(
                    "@daily", "n", Signature.create("t", Arg.of("complex128", 1L))))
        .hasMessageStartingWith("periodic entry n: argument 1 of task t: ");
    assertThat(server.periodicEntries()).isEmpty();

    server.close();
    assertThatThrownBy(() -> server.registerPeriodicTask("@daily", "n", task))
        .isInstanceOf(IllegalStateException.class);
  }

  // ----------------------------------------------------------------------------------------------
  // missed runs

  @Test
  void afterDowntimeFireOnceSendsOneRunAndCarriesOnFromNow() {
    Server server = closing(Server.builder().clock(clock).periodic(MANUAL).build());
    server.registerPeriodicTask("* * * * *", "minutely", Signature.create("m"));

    clock.set("2024-05-06T10:30:10Z"); // 30 ticks went by
    PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
    assertThat(run.outcome()).isEqualTo(Outcome.SENT);
    assertThat(run.scheduledAt()).isEqualTo(Instant.parse("2024-05-06T10:01:00Z"));
    assertThat(server.periodicEntries().get(0).nextFireTime())
        .isEqualTo(Instant.parse("2024-05-06T10:31:00Z"));
    assertThat(server.periodicScheduler().runDue()).isEmpty();
  }

  @Test
  void afterDowntimeSkipSendsNothingUntilTheNextTick() {
    Server server =
        closing(
            Server.builder()
                .clock(clock)
                .periodic(MANUAL.toBuilder().missedFirePolicy(MissedFirePolicy.SKIP).build())
                .build());
    server.registerPeriodicTask("* * * * *", "minutely", Signature.create("m"));

    clock.set("2024-05-06T10:30:10Z");
    PeriodicRun run = onlyRun(server.periodicScheduler().runDue());
    assertThat(run.outcome()).isEqualTo(Outcome.SKIPPED_MISSED);
    assertThat(run.signatures()).isEmpty();
    assertThat(server.periodicEntries().get(0).nextFireTime())
        .isEqualTo(Instant.parse("2024-05-06T10:31:00Z"));

    clock.set("2024-05-06T10:31:59Z"); // 59 s late: under the one-minute threshold, so not missed
    assertThat(onlyRun(server.periodicScheduler().runDue()).outcome()).isEqualTo(Outcome.SENT);
  }

  @Test
  void aClockJumpingBackDelaysRunsUntilTimeCatchesUp() {
    Server server = closing(Server.builder().clock(clock).periodic(MANUAL).build());
    server.registerPeriodicTask("0 * * * *", "hourly", Signature.create("h"));
    clock.set("2024-05-06T09:00:00Z");
    assertThat(server.periodicScheduler().runDue()).isEmpty();
    clock.set("2024-05-06T11:00:00Z");
    assertThat(onlyRun(server.periodicScheduler().runDue()).scheduledAt())
        .isEqualTo(Instant.parse("2024-05-06T11:00:00Z"));
  }

  // ----------------------------------------------------------------------------------------------
  // thread

  @Test
  void theBackgroundThreadStartsAtTheFirstRegistrationFiresDueRunsAndStopsAtClose() {
    AtomicInteger executions = new AtomicInteger();
    Server server =
        closing(
            Server.builder()
                .clock(clock)
                .periodic(MANUAL.toBuilder().backgroundThread(true).build())
                .build());
    server.registerTask("tick", TaskFunction.of(executions::incrementAndGet));
    server.newWorker("worker", 1).launchAsync();
    PeriodicScheduler scheduler = server.periodicScheduler();
    assertThat(scheduler.hasLiveThreads()).as("no thread before the first registration").isFalse();

    server.registerPeriodicTask("* * * * *", "minutely", Signature.create("tick"));
    assertThat(scheduler.hasLiveThreads()).isTrue();
    clock.set("2024-05-06T10:01:00Z");
    await().atMost(RESULT_TIMEOUT).untilAsserted(() -> assertThat(executions).hasValue(1));
    clock.set("2024-05-06T10:02:00Z");
    await().atMost(RESULT_TIMEOUT).untilAsserted(() -> assertThat(executions).hasValue(2));

    server.close();
    assertThat(scheduler.hasLiveThreads()).as("nothing outlives close()").isFalse();
    assertThatThrownBy(scheduler::runDue).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void closeInterruptsARunWaitingForTheLock() {
    EagerLock lock = closing(EagerLock.create(clock, 3, Duration.ofHours(1)));
    lock.tryLock("machinery_lock_periodic-testheld@every 1s", Long.MAX_VALUE);
    Server server =
        closing(
            Server.builder()
                .clock(clock)
                .lock(lock)
                .periodic(MANUAL.toBuilder().backgroundThread(true).build())
                .build());
    server.registerPeriodicTask("@every 1s", "held", Signature.create("t"));
    clock.advance(Duration.ofSeconds(1));
    PeriodicScheduler scheduler = server.periodicScheduler();
    await()
        .atMost(RESULT_TIMEOUT)
        .until(() -> server.periodicEntries().get(0).lastFireTime() != null);

    server.close(); // would take three hours if the run in flight were not interrupted
    assertThat(scheduler.hasLiveThreads()).isFalse();
  }

  // ----------------------------------------------------------------------------------------------
  // config

  @Test
  void specsWithoutAZoneUseTheConfiguredZone() {
    Server server =
        closing(
            Server.builder()
                .clock(clock)
                .periodic(MANUAL.toBuilder().zone(ZoneId.of("America/New_York")).build())
                .build());
    server.registerPeriodicTask("0 9 * * *", "morning", Signature.create("m"));
    server.registerPeriodicTask(
        "CRON_TZ=Asia/Tokyo 0 9 * * *", "tokyo-morning", Signature.create("m"));
    assertThat(server.periodicEntries())
        .extracting(PeriodicEntry::nextFireTime)
        .containsExactly(
            Instant.parse("2024-05-06T13:00:00Z"), Instant.parse("2024-05-07T00:00:00Z"));
  }

  @Test
  void theDefaultProgramNameIsTheJarOrMainClassName() {
    String saved = System.getProperty("sun.java.command");
    try {
      Map<String, String> cases =
          Map.of(
              "com.example.billing.Worker --queue x", "Worker",
              "/opt/app/billing-worker.jar --queue x", "billing-worker",
              "Main", "Main",
              "", "java");
      cases.forEach(
          (command, expected) -> {
            System.setProperty("sun.java.command", command);
            assertThat(PeriodicConfig.defaultProgramName()).as(command).isEqualTo(expected);
          });
      assertThat(PeriodicConfig.defaults().zone()).isEqualTo(ZoneId.systemDefault());
      assertThat(PeriodicConfig.defaults().missedFirePolicy())
          .isEqualTo(MissedFirePolicy.FIRE_ONCE);
    } finally {
      if (saved == null) {
        System.clearProperty("sun.java.command");
      } else {
        System.setProperty("sun.java.command", saved);
      }
    }
  }

  @Test
  void freshCopiesKeepEverythingButTheUuids() {
    Signature template =
        Signature.builder("t")
            .args(Arg.of(1L))
            .retryCount(3)
            .routingKey("q")
            .header("k", "v")
            .onError(Signature.create("e"))
            .build();
    Signature copy = PeriodicScheduler.fresh(template, "task_new");
    assertThat(copy.toBuilder().uuid(template.uuid()).onError(template.onError()).build())
        .isEqualTo(template);
    assertThat(copy.onError())
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.name()).isEqualTo("e");
              assertThat(e.uuid())
                  .isNotEqualTo(template.onError().get(0).uuid())
                  .startsWith("task_");
            });
    assertThat(copy.uuid()).isEqualTo("task_new");
  }

  /**
   * A template that carries a chain as long as Go admits (4,999 tasks) is copied on a small stack
   * (256 KiB), every link with a fresh UUID, callbacks of every kind kept in place.
   */
  @Test
  void freshCopiesATemplateCarryingALongChainWithoutRecursion() throws InterruptedException {
    List<Signature> steps = new ArrayList<>();
    for (long i = 0; i < 4_999; i++) {
      steps.add(Signature.create("step", Arg.of(i)));
    }
    Signature last = Signature.builder("last").onError(Signature.create("e")).build();
    steps.set(steps.size() - 1, last);
    Signature template =
        Chain.of(steps).tasks().get(0).toBuilder().chordCallback(Signature.create("chord")).build();
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread thread =
        new Thread(
            null,
            () -> {
              try {
                outcome.set(PeriodicScheduler.fresh(template, "task_new"));
              } catch (Throwable t) {
                outcome.set(t);
              }
            },
            "small-stack",
            256 * 1024);
    thread.start();
    thread.join();
    assertThat(outcome.get()).isInstanceOf(Signature.class);
    Signature copy = (Signature) outcome.get();
    assertThat(copy.uuid()).isEqualTo("task_new");
    assertThat(copy.chordCallback()).isNotNull();
    assertThat(copy.chordCallback().name()).isEqualTo("chord");
    assertThat(copy.chordCallback().uuid()).isNotEqualTo(template.chordCallback().uuid());
    Signature original = template;
    Signature copied = copy;
    Set<String> uuids = new HashSet<>();
    for (int i = 0; i < 4_998; i++) {
      original = original.onSuccess().get(0);
      copied = copied.onSuccess().get(0);
      assertThat(copied.name()).isEqualTo(original.name());
      assertThat(copied.args()).isEqualTo(original.args());
      assertThat(copied.uuid()).isNotEqualTo(original.uuid()).startsWith("task_");
      uuids.add(copied.uuid());
    }
    assertThat(uuids).hasSize(4_998);
    assertThat(copied.name()).isEqualTo("last");
    assertThat(copied.hasOnSuccess()).isFalse();
    assertThat(copied.onError())
        .singleElement()
        .satisfies(e -> assertThat(e.name()).isEqualTo("e"));
  }
}
