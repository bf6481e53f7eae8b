package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Chain;
import io.machinery.ChainAsyncResult;
import io.machinery.Chord;
import io.machinery.ChordAsyncResult;
import io.machinery.Dag;
import io.machinery.DagAsyncResult;
import io.machinery.Group;
import io.machinery.MalformedMessageException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFailedException;
import io.machinery.TaskFunction;
import io.machinery.TaskState;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile input and failures around a task, run against a real broker and backend: what the worker
 * promises whatever the broker (every delivery settled once, a task never re-run for its
 * bookkeeping, bounded requeues). Subclass it like {@link AcceptanceSuite}: implement {@link
 * #createBroker} and {@link #createBackend}. Dead letters are read through the broker's {@link
 * io.machinery.spi.Inspector}, where it has one.
 *
 * <p>What it needs from a broker beyond {@link BrokerContract}: {@link
 * io.machinery.spi.Delivery#requeue( Duration, byte[])} must deliver the replacement (the worker
 * counts requeues in the message), and {@link io.machinery.spi.Delivery#deadLetter} must take the
 * message out of circulation.
 */
public abstract class FaultSuite {
  protected static final Duration TIMEOUT = Duration.ofSeconds(30);

  protected Config config;
  protected Broker broker;
  protected Backend backend;
  protected Server server;
  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
  private final CountDownLatch releaseHung = new CountDownLatch(1);
  private final AtomicBoolean flakyFails = new AtomicBoolean(true);

  protected abstract Broker createBroker(Config config);

  protected abstract Backend createBackend(Config config);

  protected Config baseConfig() {
    return Config.DEFAULT;
  }

  /**
   * The reasons of this queue's dead letters, oldest first, from the broker's {@link
   * io.machinery.spi.Inspector}; null when the broker has none.
   */
  protected @Nullable List<String> deadLetterReasons() {
    return broker
        .inspector()
        .map(
            inspector ->
                inspector.deadLetters(config.defaultQueue(), 0, 100_000).stream()
                    .map(io.machinery.spi.DeadLetterEntry::reason)
                    .toList())
        .orElse(null);
  }

  @BeforeEach
  void startServer() {
    Config unique = BrokerContract.uniqueQueue(baseConfig(), "fault_");
    // On Redis a raw message without a RoutingKey leaves the delayed set for the default queue of
    // whichever worker promotes it: a delayed set of this test's own (other brokers ignore it)
    config =
        unique.toBuilder()
            .redis(unique.redis().withDelayedTasksKey("delayed_" + unique.defaultQueue()))
            .build();
    broker = createBroker(config);
    backend = createBackend(config);
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask("one", TaskFunction.of(() -> counted("one", 1L)));
    server.registerTask(
        "add",
        TaskFunction.varargs(
            long[].class, args -> counted("add", java.util.stream.LongStream.of(args).sum())));
    server.registerTask(
        "flaky",
        TaskFunction.varargs(
            long[].class,
            args -> {
              counted("flaky", 0L);
              if (flakyFails.get()) {
                throw new IllegalStateException("flaky is down");
              }
              return java.util.stream.LongStream.of(args).sum() + 1;
            }));
    server.registerTask(
        "hang",
        TaskFunction.of(
            () -> {
              while (releaseHung.getCount() > 0) {
                try {
                  releaseHung.await(); // ignores interrupts, as badly written code does
                } catch (InterruptedException ignored) {
                  // keep hanging
                }
              }
              return null;
            }));
  }

  @AfterEach
  void stopEverything() {
    releaseHung.countDown();
    server.close();
    broker.close();
    backend.close();
  }

  private <T> T counted(String name, T result) {
    runs.computeIfAbsent(name, n -> new AtomicInteger()).incrementAndGet();
    return result;
  }

  protected int runs(String name) {
    return runs.computeIfAbsent(name, n -> new AtomicInteger()).get();
  }

  /** Publishes raw bytes, as a foreign producer could, to this suite's queue. */
  protected void publishRaw(byte[] message) {
    Signature routing =
        Signature.builder("raw").uuid("task_raw").routingKey(config.defaultQueue()).build();
    broker.publish(routing, message);
  }

  /**
   * Publishes raw bytes through the broker's delayed path (Redis: the delayed set, whose promotion
   * reads the message's own RoutingKey; AMQP: a delay queue), due after {@code delay}.
   */
  protected void publishRawDelayed(byte[] message, Duration delay) {
    Signature routing =
        Signature.builder("raw")
            .uuid("task_raw")
            .routingKey(config.defaultQueue())
            .eta(java.time.OffsetDateTime.now().plus(delay))
            .build();
    broker.publish(routing, message);
  }

  @Test
  void aMessageNestedTenThousandDeepIsDeadLetteredAndTheWorkerKeepsGoing() {
    server.workerBuilder("fault").concurrency(2).build().launchAsync();
    String nested = "[".repeat(10_000) + "]".repeat(10_000);
    for (int i = 0; i < 4; i++) {
      publishRaw(
          ("{\"UUID\":\"task_deep"
                  + i
                  + "\",\"Name\":\"add\",\"Args\":[{\"Type\":\"[]int64\",\"Value\":"
                  + nested
                  + "}]}")
              .getBytes(StandardCharsets.UTF_8));
    }
    assertThat(server.sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L))).get(TIMEOUT))
        .containsExactly(5L);
    if (deadLetterReasons() != null) {
      await()
          .atMost(TIMEOUT)
          .until(() -> java.util.Objects.requireNonNull(deadLetterReasons()).size() == 4);
    }
  }

  /** How many random messages {@link #randomMessagesEachEndInAStateOrADeadLetter} sends. */
  protected int randomMessages() {
    return 1_000;
  }

  /**
   * Random messages ({@link RandomTaskMessages}; {@code -Dmachinery.fuzz.seed=N} replays a run),
   * half of them through the broker's delayed path: each one the worker's decoder accepts must end
   * (SUCCESS or FAILURE) or be retried (RETRY, then PENDING), each one it refuses must be in the
   * dead letters and nothing else there, and the worker must still run tasks afterwards.
   */
  @Test
  void randomMessagesEachEndInAStateOrADeadLetter() {
    server.registerTask(
        "fuzz_concat", TaskFunction.of(String.class, String.class, (a, b) -> a + b));
    server.registerTask("fuzz_bytes", TaskFunction.of(byte[].class, b -> (long) b.length));
    server.registerTask(
        "fuzz_fail",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("fuzz_fail always fails");
            }));
    Worker worker = server.workerBuilder("fault").concurrency(4).build();
    worker.launchAsync();
    long seed = Long.getLong("machinery.fuzz.seed", 20_261_202L);
    RandomTaskMessages messages =
        new RandomTaskMessages(
            seed, List.of("one", "add", "fuzz_concat", "fuzz_bytes", "fuzz_fail"));
    Map<String, String> accepted = new java.util.LinkedHashMap<>(); // UUID -> message
    int refused = 0;
    for (int i = 0; i < randomMessages(); i++) {
      byte[] message = messages.next();
      try {
        accepted.put(
            WireCodec.decodeSignature(message, config).uuid(),
            new String(message, StandardCharsets.UTF_8));
      } catch (MalformedMessageException e) {
        refused++;
      }
      if (i % 2 == 0) {
        publishRaw(message);
      } else {
        publishRawDelayed(message, Duration.ofMillis(20));
      }
    }
    System.out.printf(
        "[FaultSuite] %d random messages (seed %d): %d for the worker to run, %d to refuse%n",
        randomMessages(), seed, accepted.size(), refused);
    // PENDING: sent again as a retry (stored by the send after RETRY, as in Go); nothing else
    // stores states for these messages
    Set<State> landed = EnumSet.of(State.SUCCESS, State.FAILURE, State.RETRY, State.PENDING);
    Set<String> waiting = new java.util.HashSet<>(accepted.keySet()); // read until landed: some
    // backends take a state away when it is read
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              waiting.removeIf(
                  uuid ->
                      backend
                          .getState(uuid)
                          .map(TaskState::state)
                          .filter(landed::contains)
                          .isPresent());
              assertThat(waiting)
                  .as(
                      () ->
                          "tasks that did not end or retry: "
                              + waiting.stream()
                                  .limit(3)
                                  .map(
                                      uuid ->
                                          uuid
                                              + " "
                                              + backend.getState(uuid)
                                              + " from "
                                              + accepted.get(uuid))
                                  .toList())
                  .isEmpty();
            });
    if (deadLetterReasons() != null) {
      int expected = refused;
      await()
          .atMost(TIMEOUT)
          .until(() -> java.util.Objects.requireNonNull(deadLetterReasons()).size() >= expected);
      assertThat(deadLetterReasons())
          .hasSize(refused)
          .allSatisfy(reason -> assertThat(reason).startsWith("Could not unmarshal '{"));
    }
    assertThat(worker.isRunning()).isTrue();
    assertThat(server.sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L))).get(TIMEOUT))
        .containsExactly(5L);
  }

  @Test
  void throwingHandlersAreLoggedAndTheTaskRunsOnce() {
    AtomicInteger handlerCalls = new AtomicInteger();
    server
        .workerBuilder("fault")
        .concurrency(2)
        .preTaskHandler(
            s -> {
              handlerCalls.incrementAndGet();
              throw new IllegalStateException("pre broke");
            })
        .postTaskHandler(
            s -> {
              handlerCalls.incrementAndGet();
              throw new AssertionError("post broke");
            })
        .build()
        .launchAsync();
    assertThat(server.sendTask(Signature.create("one")).get(TIMEOUT)).containsExactly(1L);
    await().atMost(TIMEOUT).until(() -> handlerCalls.get() == 2);
    await()
        .during(Duration.ofSeconds(2))
        .atMost(TIMEOUT)
        .until(() -> runs("one") == 1 && handlerCalls.get() == 2);
  }

  @Test
  void aChordWhoseGroupIsGoneFailsItsCallbackAndEachMemberRunsOnce() {
    Chord chord =
        Chord.of(
            Group.of(Signature.create("one"), Signature.create("one")), Signature.create("add"));
    ChordAsyncResult result = server.sendChord(chord, 0);
    backend.purgeGroupMeta(chord.group().groupUuid()); // expired or purged before the members ran
    server.workerBuilder("fault").concurrency(2).build().launchAsync();
    assertThatThrownBy(() -> result.callbackResult().get(TIMEOUT))
        .isInstanceOf(TaskFailedException.class)
        .hasMessageContaining("is gone from the result backend");
    await().during(Duration.ofSeconds(2)).atMost(TIMEOUT).until(() -> runs("one") == 2);
    assertThat(runs("add")).isZero();
  }

  @Test
  void anUnknownTaskStopsCirculatingAfterTheConfiguredRequeues() {
    server.workerBuilder("fault").concurrency(2).maxUnregisteredRequeues(2).build().launchAsync();
    Signature unknown = server.sendTask(Signature.create("nobody_knows_me")).signature();
    if (deadLetterReasons() != null) {
      assertThat(awaitTheOnlyDeadLetterReason())
          .contains("nobody_knows_me is not registered")
          .contains("requeued 2 times");
    }
    await()
        .atMost(TIMEOUT)
        .pollDelay(Duration.ofMillis(300))
        .during(Duration.ofSeconds(2))
        .until(
            () ->
                pendingTasks().stream().noneMatch(s -> s.uuid().equals(unknown.uuid()))
                    && delayedTasks().stream().noneMatch(s -> s.uuid().equals(unknown.uuid())));
  }

  /**
   * A task's message that comes back after its SUCCESS was stored (its worker died before the ack;
   * here: sent again as a worker's requeue) does not run the function again, but still does what
   * follows a success: its callback is sent again. Where reading a state consumes it (the AMQP
   * backend) the task runs again, as before.
   */
  @Test
  void aTaskWhoseSuccessIsStoredIsNotRunAgainWhenItsMessageComesBack() {
    server.workerBuilder("fault").concurrency(2).build().launchAsync();
    Signature task =
        Signature.builder("one").onSuccess(List.of(Signature.create("add", Arg.of(10L)))).build();
    AsyncResult first = server.sendTask(task);
    assertThat(first.get(TIMEOUT)).containsExactly(1L);
    await().atMost(TIMEOUT).until(() -> runs("add") == 1);

    Signature back = first.signature().toBuilder().header(Worker.REQUEUES_HEADER, "1").build();
    broker.publish(back, WireCodec.encode(back));

    await().atMost(TIMEOUT).until(() -> runs("add") == 2); // the callback, sent again
    assertThat(runs("one")).isEqualTo(backend.consumesStatesOnRead() ? 2 : 1);
    assertThat(server.asyncResult(task.onSuccess().get(0).uuid()).get(TIMEOUT))
        .containsExactly(11L);
  }

  /**
   * With {@code keepFailedTasks}, a chain whose middle task failed waits among the dead letters,
   * and requeueing it there goes on from the failed task: the task before it does not run again.
   */
  @Test
  void aFailedTaskKeptToRunAgainResumesItsChainWhenRequeued() {
    assumeTrue(deadLetterReasons() != null, "the broker has no inspector to requeue dead letters");
    server.workerBuilder("fault").concurrency(2).keepFailedTasks(true).build().launchAsync();
    Signature last = Signature.create("add", Arg.of(10L));
    ChainAsyncResult chain =
        server.sendChain(Chain.of(Signature.create("one"), Signature.create("flaky"), last));
    assertThatThrownBy(() -> chain.get(TIMEOUT))
        .isInstanceOf(TaskFailedException.class)
        .hasMessageContaining("flaky is down");
    assertThat(awaitTheOnlyDeadLetterReason())
        .startsWith("failed, kept to run again: task flaky ")
        .contains("flaky is down");

    flakyFails.set(false);
    requeueTheDeadLetter();
    // one() = 1, flaky(1) = 2, add(10, 2) = 12
    assertThat(server.asyncResult(last.uuid()).get(TIMEOUT)).containsExactly(12L);
    assertThat(runs("one")).as("the task before the failed one").isEqualTo(1);
    assertThat(runs("flaky")).isEqualTo(2);
    await()
        .atMost(TIMEOUT)
        .until(() -> java.util.Objects.requireNonNull(deadLetterReasons()).isEmpty());
  }

  /**
   * With {@code keepFailedTasks}, a DAG task that failed waits among the dead letters and the tasks
   * downstream of it get FAILURE; requeueing it there resumes the DAG from it: its dependents run
   * with its results, and the task before it does not run again.
   */
  @Test
  void aFailedDagTaskKeptToRunAgainResumesTheDagWhenRequeued() {
    assumeTrue(deadLetterReasons() != null, "the broker has no inspector to requeue dead letters");
    server.workerBuilder("fault").concurrency(2).keepFailedTasks(true).build().launchAsync();
    Dag dag =
        Dag.builder()
            .task("one", Signature.create("one"))
            .task("flaky", Signature.create("flaky"), "one")
            .task("last", Signature.create("add", Arg.of(10L)), "flaky")
            .task("join", Signature.create("add"), "last", "one")
            .build();
    DagAsyncResult result = server.sendDag(dag);
    for (String downstream : List.of("last", "join")) {
      assertThatThrownBy(() -> result.asyncResult(downstream).get(TIMEOUT))
          .isInstanceOf(TaskFailedException.class)
          .hasMessageStartingWith("a dependency failed: DAG task flaky")
          .hasMessageEndingWith("flaky is down");
    }
    assertThat(awaitTheOnlyDeadLetterReason()).contains("flaky is down");

    flakyFails.set(false);
    requeueTheDeadLetter();
    // one() = 1, flaky(1) = 2, last = add(10, 2) = 12, join = add(12, 1) = 13
    // fresh handles: a handle keeps the FAILURE it read
    await()
        .atMost(TIMEOUT)
        .until(() -> server.asyncResult(dag.task("join").uuid()).state() == State.SUCCESS);
    assertThat(server.asyncResult(dag.task("last").uuid()).get(TIMEOUT)).containsExactly(12L);
    assertThat(server.asyncResult(dag.task("join").uuid()).get(TIMEOUT)).containsExactly(13L);
    assertThat(runs("one")).as("the task before the failed one").isEqualTo(1);
    assertThat(runs("flaky")).isEqualTo(2);
  }

  /**
   * Requeues this queue's dead letters until one was requeued (a listing may hold a dead letter a
   * moment: Pub/Sub reads by a pull); fails if more than one was.
   */
  private void requeueTheDeadLetter() {
    AtomicInteger requeued = new AtomicInteger();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                requeued.addAndGet(
                        broker
                            .inspector()
                            .orElseThrow()
                            .requeueDeadLetters(config.defaultQueue(), d -> true))
                    > 0);
    assertThat(requeued).hasValue(1);
  }

  /** Waits for this queue's first dead letter and returns its reason; fails if there are more. */
  private String awaitTheOnlyDeadLetterReason() {
    await()
        .atMost(TIMEOUT)
        .until(() -> !java.util.Objects.requireNonNull(deadLetterReasons()).isEmpty());
    List<String> reasons = java.util.Objects.requireNonNull(deadLetterReasons());
    assertThat(reasons).hasSize(1);
    return reasons.get(0);
  }

  /** This suite's queue's waiting tasks; none where the broker cannot list them (SQS, as Go). */
  private List<Signature> pendingTasks() {
    try {
      return broker.pendingTasks(config.defaultQueue());
    } catch (UnsupportedOperationException e) {
      return List.of();
    }
  }

  /** The broker's delayed tasks; none where it cannot list them (AMQP, as Go). */
  private List<Signature> delayedTasks() {
    try {
      return broker.delayedTasks();
    } catch (UnsupportedOperationException e) {
      return List.of();
    }
  }

  @Test
  void aHungTaskTimesOutAsAFailureAndFreesItsSlot() {
    server
        .workerBuilder("fault")
        .concurrency(1)
        .taskTimeout(Duration.ofMillis(300))
        .build()
        .launchAsync();
    AsyncResult hung = server.sendTask(Signature.create("hang"));
    AsyncResult byHeader =
        server.sendTask(Signature.builder("hang").header(Worker.TIMEOUT_HEADER, "100").build());
    assertThat(server.sendTask(Signature.create("one")).get(TIMEOUT)).containsExactly(1L);
    assertThatThrownBy(() -> hung.get(TIMEOUT)).hasMessageContaining("task timed out after 300ms");
    assertThatThrownBy(() -> byHeader.get(TIMEOUT))
        .hasMessageContaining("task timed out after 100ms");
  }

  @Test
  void quitReturnsSoonAfterTheGracefulTimeoutWhileATaskIgnoresCancellation() throws Exception {
    Worker worker =
        server
            .workerBuilder("fault")
            .concurrency(1)
            .gracefulTimeout(Duration.ofMillis(300))
            .build();
    worker.launchAsync();
    AsyncResult hung = server.sendTask(Signature.create("hang"));
    await().atMost(TIMEOUT).until(() -> hung.state() == io.machinery.State.STARTED);
    long begin = System.nanoTime();
    worker.quit();
    assertThat(Duration.ofNanos(System.nanoTime() - begin))
        .isLessThan(Duration.ofMillis(300).plus(Worker.CANCEL_MARGIN).plusSeconds(2));
  }
}
