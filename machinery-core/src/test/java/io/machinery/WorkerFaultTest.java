package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.FaultyBackend.Op;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Faults around a task, on the memory broker and backend: hostile messages, throwing handlers,
 * failing bookkeeping, lost chord state, unknown tasks, hung tasks. Each test names the finding it
 * covers (the reliability review's F-numbers).
 */
class WorkerFaultTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Backoff FAST = new Backoff(Duration.ofMillis(1), Duration.ofMillis(5));

  private final Config config = Config.DEFAULT;
  private MemoryBroker broker;
  private MemoryBackend memory;
  private FaultyBackend backend;
  private Server server;
  private final Map<String, AtomicInteger> invocations = new ConcurrentHashMap<>();

  @BeforeEach
  void setUp() {
    broker = MemoryBroker.create(config, Clock.systemUTC());
    memory = MemoryBackend.create(config, Clock.systemUTC());
    backend = new FaultyBackend(memory);
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask("one", TaskFunction.of(() -> count("one", 1L)));
    server.registerTask(
        "add", TaskFunction.varargs(long[].class, args -> count("add", LongStream.of(args).sum())));
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    backend.close();
  }

  private <T> T count(String name, T result) {
    invocations.computeIfAbsent(name, n -> new AtomicInteger()).incrementAndGet();
    return result;
  }

  private int invoked(String name) {
    return invocations.computeIfAbsent(name, n -> new AtomicInteger()).get();
  }

  private Worker.Builder worker() {
    return server
        .workerBuilder("w")
        .concurrency(2)
        .requeueBackoff(FAST)
        .bookkeepingBackoff(FAST, d -> {});
  }

  private State stateOf(String uuid) {
    return memory.getState(uuid).map(TaskState::state).orElse(null);
  }

  // ------------------------------------------------------------------------------------------------- F1

  @Test
  void f1_aMessageNestedTenThousandDeepIsDeadLetteredAndTheWorkerKeepsGoing() {
    String nested = "[".repeat(10_000) + "]".repeat(10_000);
    byte[] hostile =
        ("{\"UUID\":\"task_deep\",\"Name\":\"add\",\"Args\":[{\"Type\":\"[]int64\",\"Value\":"
                + nested
                + "}]}")
            .getBytes(StandardCharsets.UTF_8);
    worker().concurrency(1).build().launchAsync();
    for (int i = 0; i < 3; i++) {
      broker.pushRaw(config.defaultQueue(), hostile);
    }
    AsyncResult good = server.sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L)));
    assertThat(good.get(TIMEOUT)).containsExactly(5L);
    await().atMost(TIMEOUT).until(() -> broker.deadLetters().size() == 3);
    assertThat(broker.deadLetters()).allSatisfy(dead -> assertThat(dead.reason()).isNotBlank());
    assertThat(broker.pendingTasks("")).isEmpty();
    assertThat(broker.requeueCount()).isZero();
  }

  @Test
  void f1_aTaskThrowingAnErrorIsAFailureNotALoop() {
    server.registerTask(
        "overflow",
        TaskFunction.of(
            () -> {
              count("overflow", 0);
              throw new StackOverflowError("deep");
            }));
    server.registerTask(
        "oom",
        TaskFunction.of(
            () -> {
              count("oom", 0);
              throw new OutOfMemoryError("injected");
            }));
    worker().build().launchAsync();
    AsyncResult overflow = server.sendTask(Signature.create("overflow"));
    AsyncResult oom = server.sendTask(Signature.create("oom"));
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                stateOf(overflow.taskUuid()) == State.FAILURE
                    && stateOf(oom.taskUuid()) == State.FAILURE);
    assertThat(memory.getState(oom.taskUuid()).orElseThrow().error()).isEqualTo("injected");
    assertThat(invoked("overflow")).isEqualTo(1);
    assertThat(invoked("oom")).isEqualTo(1);
    assertThat(broker.requeueCount()).isZero();
  }

  @Test
  void aRetryIsSentAsTheTaskCameEvenWhereThisLibraryWouldRefuseToSendIt() {
    server.registerTask(
        "fails",
        TaskFunction.of(
            () -> {
              count("fails", 0);
              throw new IllegalStateException("it fails");
            }));
    worker().build().launchAsync();
    // Go sends this: an error callback without a name, with an argument whose value does not fit
    // its type
    String uuid = "task_" + java.util.UUID.randomUUID();
    String callback = "task_" + java.util.UUID.randomUUID();
    broker.pushRaw(
        config.defaultQueue(),
        ("{\"UUID\":\""
                + uuid
                + "\",\"Name\":\"fails\",\"RetryCount\":1,\"OnError\":[{\"UUID\":\""
                + callback
                + "\",\"Args\":[{\"Type\":\"bool\",\"Value\":\"yes\"}]}]}")
            .getBytes(StandardCharsets.UTF_8));
    // the retry was published (PENDING), not refused and dead-lettered at RETRY
    await().atMost(TIMEOUT).until(() -> stateOf(uuid) == State.PENDING);
    assertThat(broker.deadLetters()).isEmpty();
    // the retry runs and fails as the first attempt did; then the callback that cannot be sent
    // gets FAILURE
    await().atMost(TIMEOUT).until(() -> stateOf(uuid) == State.FAILURE);
    assertThat(memory.getState(uuid).orElseThrow().error()).isEqualTo("it fails");
    assertThat(invoked("fails")).isEqualTo(2);
    await().atMost(TIMEOUT).until(() -> stateOf(callback) == State.FAILURE);
    assertThat(memory.getState(callback).orElseThrow().error())
        .isEqualTo("could not be sent: a task signature needs a name");
    assertThat(broker.deadLetters()).isEmpty();
  }

  @Test
  void callbacksWithoutAUuidThatCannotBeSentStoreNoStateUnderAnEmptyKey() {
    server.registerTask(
        "fails",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("it fails");
            }));
    server.registerTask("ok", TaskFunction.of(() -> 1L));
    worker().build().launchAsync();
    String failing = "task_" + java.util.UUID.randomUUID();
    String member = "task_" + java.util.UUID.randomUUID();
    broker.pushRaw(
        config.defaultQueue(),
        ("{\"UUID\":\"" + failing + "\",\"Name\":\"fails\",\"OnError\":[{\"Args\":[]}]}")
            .getBytes(StandardCharsets.UTF_8));
    // a chord member whose callback has no UUID and no name, in a group that does not exist
    broker.pushRaw(
        config.defaultQueue(),
        ("{\"UUID\":\""
                + member
                + "\",\"Name\":\"ok\",\"GroupUUID\":\"group_"
                + java.util.UUID.randomUUID()
                + "\",\"GroupTaskCount\":1,\"ChordCallback\":{\"Args\":[]}}")
            .getBytes(StandardCharsets.UTF_8));
    await()
        .atMost(TIMEOUT)
        .until(() -> stateOf(failing) == State.FAILURE && stateOf(member) == State.SUCCESS);
    AsyncResult after = server.sendTask(Signature.create("one"));
    assertThat(after.get(TIMEOUT)).containsExactly(1L);
    // DynamoDB and Memcache refuse an empty key: a state there made the message a dead letter
    assertThat(memory.getState("")).isEmpty();
    assertThat(broker.deadLetters()).isEmpty();
  }

  @Test
  void aRetryThatCanNeverBePublishedEndsInFailureNotAtRetry() {
    Config small = Config.builder().maxMessageBytes(1024).build();
    MemoryBroker smallBroker = MemoryBroker.create(small, Clock.systemUTC());
    MemoryBackend smallBackend = MemoryBackend.create(small, Clock.systemUTC());
    try (Server smallServer =
        Server.builder().config(small).broker(smallBroker).backend(smallBackend).build()) {
      smallServer.registerTask(
          "fails",
          TaskFunction.of(
              () -> {
                throw new IllegalStateException("it fails");
              }));
      smallServer
          .workerBuilder("w")
          .concurrency(1)
          .requeueBackoff(FAST)
          .bookkeepingBackoff(FAST, d -> {})
          .build()
          .launchAsync();
      // 900 bytes as it came; over 1024 once written again with all of Go's keys for the retry
      String uuid = "task_" + java.util.UUID.randomUUID();
      byte[] message =
          ("{\"UUID\":\""
                  + uuid
                  + "\",\"Name\":\"fails\",\"RetryCount\":3,\"Headers\":{\"pad\":\""
                  + "p".repeat(800)
                  + "\"}}")
              .getBytes(StandardCharsets.UTF_8);
      assertThat(message.length).isLessThan(1024);
      smallBroker.pushRaw(small.defaultQueue(), message);
      await()
          .atMost(TIMEOUT)
          .until(
              () ->
                  smallBackend.getState(uuid).map(TaskState::state).orElse(null) == State.FAILURE);
      assertThat(smallBackend.getState(uuid).orElseThrow().error())
          .startsWith("it fails; its retry could not be sent: ")
          .contains("over the limit of 1024");
      assertThat(smallBroker.deadLetters()).isEmpty();
    } finally {
      smallBroker.close();
      smallBackend.close();
    }
  }

  // ----------------------------------------------------------------------------------------------
  // F2/F3

  @Test
  void f3_throwingPreAndPostHandlersAreLoggedAndTheTaskRunsOnce() {
    AtomicInteger handlerCalls = new AtomicInteger();
    worker()
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
    AsyncResult result = server.sendTask(Signature.create("one"));
    assertThat(result.get(TIMEOUT)).containsExactly(1L);
    await().atMost(TIMEOUT).until(() -> handlerCalls.get() == 2);
    await()
        .during(Duration.ofMillis(300))
        .atMost(TIMEOUT)
        .until(() -> invoked("one") == 1 && broker.requeueCount() == 0);
  }

  @Test
  void f3_aFailingStateWriteIsRetriedWithoutRunningTheTaskAgain() {
    backend.failing(Op.SUCCESS, 3);
    worker().build().launchAsync();
    AsyncResult result = server.sendTask(Signature.create("one"));
    assertThat(result.get(TIMEOUT)).containsExactly(1L);
    assertThat(backend.calls(Op.SUCCESS)).isEqualTo(4);
    assertThat(invoked("one")).isEqualTo(1);
    assertThat(broker.requeueCount()).isZero();
  }

  @Test
  void f3_bookkeepingThatNeverSucceedsDeadLettersTheMessageAndNeverRerunsTheTask() {
    backend.failing(Op.SUCCESS, FaultyBackend.ALWAYS);
    worker().bookkeepingAttempts(3).build().launchAsync();
    server.sendTask(Signature.create("one"));
    await().atMost(TIMEOUT).until(() -> broker.deadLetters().size() == 1);
    assertThat(broker.deadLetters().get(0).reason())
        .contains("ran, but its outcome could not be recorded")
        .contains("storing SUCCESS failed 3 times")
        .contains("injected failure of SUCCESS");
    assertThat(backend.calls(Op.SUCCESS)).isEqualTo(3);
    assertThat(invoked("one")).isEqualTo(1);
    assertThat(broker.requeueCount()).isZero();
  }

  /**
   * The same with an error handler that throws an {@link Error}. The handler heard of the failed
   * bookkeeping before the message was dead-lettered, so its Error left the message unsettled, and
   * the last-resort handler requeued it: the task ran again.
   */
  @Test
  void f3_bookkeepingThatNeverSucceedsIsDeadLetteredEvenWhenTheErrorHandlerThrowsAnError() {
    backend.failing(Op.SUCCESS, FaultyBackend.ALWAYS);
    worker()
        .bookkeepingAttempts(2)
        .errorHandler(
            error -> {
              throw new AssertionError("injected: the error handler");
            })
        .build()
        .launchAsync();
    server.sendTask(Signature.create("one"));
    await().atMost(TIMEOUT).until(() -> broker.deadLetters().size() == 1);
    assertThat(broker.deadLetters().get(0).reason())
        .contains("ran, but its outcome could not be recorded");
    assertThat(invoked("one")).isEqualTo(1);
    assertThat(broker.requeueCount()).isZero();
  }

  @Test
  void aSuccessWhoseResultsTheBackendRefusesEndsInFailureWithTheReasonAndItsErrorCallback() {
    backend.refusingSuccessOf("one");
    List<TaskOutcome> outcomes = new java.util.concurrent.CopyOnWriteArrayList<>();
    server.registerTask("seen", TaskFunction.of(String.class, error -> count("seen", error)));
    worker().postTaskOutcomeHandler(outcomes::add).build().launchAsync();
    Signature onError = Signature.create("seen");
    AsyncResult task = server.sendTask(Signature.builder("one").onError(onError).build());
    assertThatThrownBy(() -> task.get(TIMEOUT))
        .isInstanceOf(TaskFailedException.class)
        .hasMessageContaining(
            "the task succeeded but its results could not be stored: injected refusal of SUCCESS");
    assertThat(stateOf(task.taskUuid())).isEqualTo(State.FAILURE);
    await().atMost(TIMEOUT).until(() -> invoked("seen") == 1); // the error callback ran
    assertThat(backend.calls(Op.SUCCESS)).as("the refused one once, the callback's").isEqualTo(2);
    await().atMost(TIMEOUT).until(() -> outcomes.size() == 2);
    assertThat(outcomes)
        .filteredOn(outcome -> outcome.signature().name().equals("one"))
        .singleElement()
        .satisfies(
            outcome ->
                assertThat(outcome.state()).as("the outcome as stored").isEqualTo(State.FAILURE));
    assertThat(invoked("one")).isEqualTo(1);
    assertThat(broker.deadLetters()).isEmpty();
    assertThat(broker.requeueCount()).isZero();
  }

  @Test
  void f3_aFailureBeforeTheTaskRanIsRequeuedCountingInTheMessageThenDeadLettered() {
    backend.failing(Op.RECEIVED, FaultyBackend.ALWAYS);
    worker().maxDeliveries(3).build().launchAsync();
    AsyncResult task = server.sendTask(Signature.create("one"));
    await().atMost(TIMEOUT).until(() -> broker.deadLetters().size() == 1);
    MemoryBroker.DeadLetter dead = broker.deadLetters().get(0);
    assertThat(dead.reason())
        .contains("could not be processed 4 times (over maxDeliveries 3)")
        .contains("injected failure of RECEIVED");
    assertThat(WireCodec.decodeSignature(dead.message()).headers())
        .containsEntry(Worker.REQUEUES_HEADER, "3");
    assertThat(broker.requeueCount()).isEqualTo(3);
    assertThat(invoked("one")).isZero();
    assertThat(memory.getState(task.taskUuid()).orElseThrow().error())
        .contains("over maxDeliveries 3");
  }

  @Test
  void f3_aMessageTheBrokerKeepsRedeliveringIsDeadLetteredBeforeItIsDecoded() throws Exception {
    server.sendTask(Signature.create("one"));
    for (int i = 0; i < 3; i++) {
      takeAndLoseOneDelivery(); // a worker dies holding it, three times
    }
    worker().maxDeliveries(3).build().launchAsync();
    await().atMost(TIMEOUT).until(() -> broker.deadLetters().size() == 1);
    assertThat(broker.deadLetters().get(0).reason())
        .startsWith("delivered 4 times without being settled");
    assertThat(invoked("one")).isZero();
  }

  @Test
  void f2_aChordWhoseGroupIsGoneStoresFailureForItsCallbackAndRunsEachMemberOnce() {
    Chord chord = oneAndOneThenAdd();
    ChordAsyncResult result = server.sendChord(chord, 0);
    memory.purgeGroupMeta(
        chord.group().groupUuid()); // expired, evicted or purged before the members ran
    worker().build().launchAsync();
    String callback = chord.callback().uuid();
    await().atMost(TIMEOUT).until(() -> stateOf(callback) == State.FAILURE);
    assertThat(memory.getState(callback).orElseThrow().error())
        .contains("is gone from the result backend");
    await()
        .during(Duration.ofMillis(300))
        .atMost(TIMEOUT)
        .until(() -> invoked("one") == 2 && broker.requeueCount() == 0);
    assertThat(invoked("add")).isZero();
    assertThat(result.callbackResult().state()).isEqualTo(State.FAILURE);
  }

  @Test
  void aChordMemberWithoutItsGroupSizeFailsTheCallbackInsteadOfLeavingItUnfiredForever() {
    // a foreign producer's members: GroupTaskCount 0, which no backend's count can ever reach
    Chord chord = oneAndOneThenAdd();
    List<Signature> members = chord.group().tasks();
    memory.initGroup(chord.group().groupUuid(), members.stream().map(Signature::uuid).toList());
    for (Signature member : members) {
      server.sendTask(member.toBuilder().groupTaskCount(0).build());
    }
    worker().build().launchAsync();
    String callback = chord.callback().uuid();
    await().atMost(TIMEOUT).until(() -> stateOf(callback) == State.FAILURE);
    assertThat(memory.getState(callback).orElseThrow().error())
        .contains("carries GroupTaskCount 0");
    await().atMost(TIMEOUT).until(() -> invoked("one") == 2);
    assertThat(members).allSatisfy(m -> assertThat(stateOf(m.uuid())).isEqualTo(State.SUCCESS));
    assertThat(invoked("add")).isZero();
  }

  @Test
  void f2_aGoneGroupSaidInGoWordsOnlyIsRecognisedToo() {
    backend.sayingNotFoundInWordsOnly(); // a backend of another party, or a Go-compatible port
    Chord chord = oneAndOneThenAdd();
    server.sendChord(chord, 0);
    memory.purgeGroupMeta(chord.group().groupUuid());
    worker().build().launchAsync();
    String callback = chord.callback().uuid();
    await().atMost(TIMEOUT).until(() -> stateOf(callback) == State.FAILURE);
    assertThat(memory.getState(callback).orElseThrow().error())
        .as("recognised as gone, not retried until the worker gives up")
        .contains("is gone from the result backend");
  }

  @Test
  void f2_whereReadsConsumeStatesAGoneGroupIsNeitherCheckedNorFailedAndMembersRunOnce() {
    backend.consumingReads();
    Chord chord = oneAndOneThenAdd();
    server.sendChord(chord, 0);
    memory.purgeGroupMeta(chord.group().groupUuid());
    worker().build().launchAsync();
    await().atMost(TIMEOUT).until(() -> invoked("one") == 2);
    await()
        .during(Duration.ofMillis(300))
        .atMost(TIMEOUT)
        .until(
            () ->
                broker.pendingTasks("").isEmpty()
                    && broker.requeueCount() == 0
                    && broker.deadLetters().isEmpty());
    assertThat(backend.calls(Op.GET_STATE))
        .as("no read that would consume the callback's state")
        .isZero();
    assertThat(memory.getState(chord.callback().uuid())).isEmpty();
  }

  // ------------------------------------------------------------------------------------------------- F4

  @Test
  void f4_aRedeliveredMemberSendsTheCallbackTheTriggeringWorkerDiedBeforeSending()
      throws Exception {
    assertTheRedeliveredMemberSendsTheCallbackOnce(false);
  }

  @Test
  void f4_aRedeliveredMemberSendsTheCallbackWhoseWinnerDiedAfterStoringPendingBeforePublishing()
      throws Exception {
    // the winner died inside sendTask: the callback's PENDING state is stored, its message is not
    // (Go's order, where the backend cannot store PENDING only where there is none)
    backend.withoutPendingIfAbsent();
    assertTheRedeliveredMemberSendsTheCallbackOnce(true);
  }

  @Test
  void f4_aRedeliveredMemberDoesNotSendAPublishedCallbackAgainWhileItWaitsInTheQueue() {
    Chord chord = chordWhoseMemberIsRedeliveredWhileItsCallbackWaits();
    assertThat(broker.pendingTasks("callbacks")).hasSize(1);
    assertThat(stateOf(chord.callback().uuid()))
        .as("PENDING, stored after the publish")
        .isEqualTo(State.PENDING);
  }

  @Test
  void f4_whereTheBackendCannotStorePendingOnlyWhereThereIsNoneAPendingCallbackIsSentAgain() {
    // the control: PENDING is stored before the publish there, so it proves nothing
    backend.withoutPendingIfAbsent();
    chordWhoseMemberIsRedeliveredWhileItsCallbackWaits();
    assertThat(broker.pendingTasks("callbacks")).hasSize(2);
  }

  @Test
  void f4_aCallbackWhosePendingCannotBeStoredAfterItsPublishStillRunsOnce() {
    backend.failing(Op.PENDING_IF_ABSENT, FaultyBackend.ALWAYS);
    Chord chord = oneAndOneThenAdd();
    ChordAsyncResult result = server.sendChord(chord, 0);
    worker().bookkeepingAttempts(2).build().launchAsync();
    assertThat(result.callbackResult().get(TIMEOUT)).containsExactly(2L);
    // the callback was published before the winner's PENDING attempts, so it can finish before
    // the second attempt (after its back-off) is made (CI run of 2a6fbed)
    await().atMost(TIMEOUT).until(() -> backend.calls(Op.PENDING_IF_ABSENT) >= 2);
    assertThat(backend.calls(Op.PENDING_IF_ABSENT)).isEqualTo(2);
    assertThat(invoked("add")).isEqualTo(1);
  }

  /**
   * Runs a chord whose callback goes to a queue no worker consumes (a callback waiting behind a
   * backlog), then redelivers a member's message, as after its worker died before the ack.
   */
  private Chord chordWhoseMemberIsRedeliveredWhileItsCallbackWaits() {
    Chord chord =
        Chord.of(
            Group.of(Signature.create("one"), Signature.create("one")),
            Signature.create("add").toBuilder().routingKey("callbacks").build());
    server.sendChord(chord, 0);
    AtomicInteger settled = new AtomicInteger();
    worker().concurrency(1).postTaskHandler(s -> settled.incrementAndGet()).build().launchAsync();
    await().atMost(TIMEOUT).until(() -> settled.get() == 2);
    assertThat(broker.pendingTasks("callbacks")).hasSize(1);
    Signature rerun =
        MessageHeaders.with(
            chord.group().tasks().get(0).toBuilder().routingKey(config.defaultQueue()).build(),
            MessageHeaders.REQUEUES,
            1);
    broker.publish(rerun, WireCodec.encode(rerun));
    await().atMost(TIMEOUT).until(() -> settled.get() == 3);
    // its SUCCESS is stored: the member is not run again, only what follows its success
    assertThat(invoked("one")).isEqualTo(2);
    return chord;
  }

  /**
   * A worker ran both members of a chord, won the trigger, and died before publishing the callback
   * (with its PENDING state stored or not): the message of the member it was finishing comes back
   * and must send it.
   */
  private void assertTheRedeliveredMemberSendsTheCallbackOnce(boolean pendingStored)
      throws Exception {
    Chord chord = oneAndOneThenAdd();
    server.sendChord(chord, 0);
    for (Signature member : chord.group().tasks()) {
      memory.setStateSuccess(member, List.of(TaskResult.of(1L)));
    }
    assertThat(memory.triggerChord(chord.group().groupUuid())).isTrue();
    if (pendingStored) {
      memory.setStatePending(
          chord.callback().toBuilder().addArgs(List.of(Arg.of(1L), Arg.of(1L))).build());
    }
    takeAndLoseOneDelivery();
    drainAllBut(1); // the other member's message was acknowledged before the crash
    assertThat(broker.pendingTasks("")).hasSize(1);
    worker().build().launchAsync();
    assertThat(new AsyncResult(chord.callback(), memory).get(TIMEOUT)).containsExactly(2L);
    assertThat(invoked("add")).isEqualTo(1);
  }

  @Test
  void
      f4_aMemberRunningAgainWhenTheWinnerReadsTheGroupIsNotAFailureAndSendsTheCallbackWhenItFinishes() {
    Chord chord = oneAndOneThenAdd();
    server.sendChord(chord, 0);
    Signature first =
        MessageHeaders.with(
            chord.group().tasks().get(0).toBuilder().routingKey(config.defaultQueue()).build(),
            MessageHeaders.REQUEUES,
            1);
    // Between the winner's completion check and its read of the states, the first member's message
    // comes back
    // (its worker was killed before the ack) and its re-run overwrites SUCCESS with STARTED.
    backend.beforeNextGroupRead(() -> memory.setStateStarted(first));
    worker().concurrency(1).build().launchAsync();
    // at least once: runs that failed waiting for exactly one found two reads of the group's states
    // and two triggers by then (the member still STARTED, no callback sent); why a second read
    // came is not known yet, the checks below hold either way
    await().atMost(TIMEOUT).until(() -> backend.calls(Op.GROUP_STATES) >= 1);
    assertThat(stateOf(chord.callback().uuid()))
        .as("the callback of a chord whose members all succeeded")
        .isNull();
    broker.publish(first, WireCodec.encode(first)); // the re-run's message
    assertThat(new AsyncResult(chord.callback(), memory).get(TIMEOUT)).containsExactly(2L);
    assertThat(invoked("add")).isEqualTo(1);
  }

  /**
   * A worker won the trigger for a member and died before it published the callback, and the
   * member's message came back as a first delivery: a broker that cannot tell a redelivery (Pub/Sub
   * without a dead-letter policy hands it to another process with no delivery count). The backend
   * kept the winning member, so its run sends the callback. Before, the member lost the trigger as
   * any first delivery does, did not check, and the callback was never sent.
   */
  @Test
  void f4_aMemberThatWonTheTriggerBeforeSendsTheCallbackWhenItComesBackAsAFirstDelivery()
      throws Exception {
    Chord chord = theWinnerDiedBeforeTheCallback();
    Signature winner = chord.group().tasks().get(0);
    sendAgainAsAFirstDelivery(winner);
    worker().build().launchAsync();
    assertThat(new AsyncResult(chord.callback(), memory).get(TIMEOUT)).containsExactly(2L);
    assertThat(invoked("add")).isEqualTo(1);
  }

  /**
   * The control of the test above: the other member, back as a first delivery, loses the trigger to
   * the winner and sends nothing (an ordinary first delivery does not check the callback).
   */
  @Test
  void f4_anotherMemberBackAsAFirstDeliveryDoesNotCheckTheCallback() throws Exception {
    Chord chord = theWinnerDiedBeforeTheCallback();
    AtomicInteger settled = new AtomicInteger();
    sendAgainAsAFirstDelivery(chord.group().tasks().get(1));
    worker().postTaskHandler(s -> settled.incrementAndGet()).build().launchAsync();
    await().atMost(TIMEOUT).until(() -> settled.get() == 1);
    assertThat(backend.calls(Op.GET_STATE)).as("no check of the callback").isZero();
    assertThat(stateOf(chord.callback().uuid())).isNull();
  }

  /**
   * Both members of a chord succeeded, the first won the trigger and its worker died before it
   * published the callback; both messages are gone from the queue.
   */
  private Chord theWinnerDiedBeforeTheCallback() throws InterruptedException {
    Chord chord = oneAndOneThenAdd();
    server.sendChord(chord, 0);
    for (Signature member : chord.group().tasks()) {
      memory.setStateSuccess(member, List.of(TaskResult.of(1L)));
    }
    assertThat(memory.triggerChord(chord.group().groupUuid(), chord.group().tasks().get(0).uuid()))
        .isEqualTo(Backend.Trigger.WON);
    drainAllBut(0);
    return chord;
  }

  /** Publishes a member's message again, with no sign of an earlier delivery. */
  private void sendAgainAsAFirstDelivery(Signature member) {
    Signature copy = member.toBuilder().routingKey(config.defaultQueue()).build();
    broker.publish(copy, WireCodec.encode(copy));
  }

  @Test
  void f4_aMemberThatLosesTheTriggerNormallyDoesNotSendTheCallbackAgain() {
    Chord chord =
        Chord.of(
            Group.of(Signature.create("one"), Signature.create("one"), Signature.create("one")),
            Signature.create("add"));
    ChordAsyncResult result = server.sendChord(chord, 0);
    worker().concurrency(3).build().launchAsync();
    assertThat(result.callbackResult().get(TIMEOUT)).containsExactly(3L);
    await().during(Duration.ofMillis(300)).atMost(TIMEOUT).until(() -> invoked("add") == 1);
  }

  @Test
  void f4_aGroupWhoseStatesCannotBeReadGetsFailureForItsCallbackInsteadOfASilentAck() {
    backend.failing(Op.GROUP_STATES, FaultyBackend.ALWAYS);
    Chord chord = oneAndOneThenAdd();
    server.sendChord(chord, 0);
    worker().bookkeepingAttempts(2).build().launchAsync();
    String callback = chord.callback().uuid();
    await().atMost(TIMEOUT).until(() -> stateOf(callback) == State.FAILURE);
    assertThat(memory.getState(callback).orElseThrow().error())
        .contains("could not be completed")
        .contains("injected failure of GROUP_STATES");
    assertThat(backend.calls(Op.GROUP_STATES)).isEqualTo(2);
    assertThat(invoked("one")).isEqualTo(2);
  }

  // ------------------------------------------------------------------------------------------------ F12

  @Test
  void f12_anUnknownTaskIsDeadLetteredAfterTheConfiguredRequeuesWithItsCountInTheMessage() {
    worker().maxUnregisteredRequeues(3).build().launchAsync();
    AsyncResult unknown = server.sendTask(Signature.create("nobody_knows_me"));
    await().atMost(TIMEOUT).until(() -> broker.deadLetters().size() == 1);
    MemoryBroker.DeadLetter dead = broker.deadLetters().get(0);
    assertThat(dead.reason())
        .contains("nobody_knows_me is not registered")
        .contains("requeued 3 times");
    assertThat(WireCodec.decodeSignature(dead.message()).headers())
        .containsEntry(Worker.UNREGISTERED_HEADER, "3");
    assertThat(broker.requeueCount()).isEqualTo(3);
    assertThat(unknown.state()).isEqualTo(State.PENDING);
  }

  // ------------------------------------------------------------------------------------------------ F21

  @Test
  void f21_aHungTaskTimesOutAsAFailureAndFreesItsSlot() {
    CountDownLatch never = new CountDownLatch(1);
    server.registerTask(
        "hang",
        TaskFunction.of(
            () -> {
              while (never.getCount() > 0) {
                try {
                  never.await(); // ignores interrupts, as badly written code does
                } catch (InterruptedException ignored) {
                  // keep hanging
                }
              }
              return null;
            }));
    worker().concurrency(1).taskTimeout(Duration.ofMillis(200)).build().launchAsync();
    AsyncResult hung = server.sendTask(Signature.create("hang"));
    AsyncResult byHeader =
        server.sendTask(Signature.builder("hang").header(Worker.TIMEOUT_HEADER, "50").build());
    AsyncResult after = server.sendTask(Signature.create("one"));
    assertThat(after.get(TIMEOUT)).containsExactly(1L);
    assertThat(memory.getState(hung.taskUuid()).orElseThrow().error())
        .isEqualTo("task timed out after 200ms");
    assertThat(memory.getState(byHeader.taskUuid()).orElseThrow().error())
        .isEqualTo("task timed out after 50ms");
    never.countDown();
  }

  @Test
  void f21_quitReturnsSoonAfterTheGracefulTimeoutAndAnAbandonedTaskRecordsNothing()
      throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    server.registerTask(
        "stubborn",
        TaskFunction.of(
            () -> {
              started.countDown();
              while (release.getCount() > 0) {
                try {
                  release.await();
                } catch (InterruptedException ignored) {
                  // ignores cancellation
                }
              }
              return "late";
            }));
    Worker worker = worker().concurrency(1).gracefulTimeout(Duration.ofMillis(200)).build();
    worker.launchAsync();
    AsyncResult stubborn = server.sendTask(Signature.create("stubborn"));
    started.await();
    long begin = System.nanoTime();
    worker.quit();
    assertThat(Duration.ofNanos(System.nanoTime() - begin))
        .isLessThan(Duration.ofMillis(200).plus(Worker.CANCEL_MARGIN).plusMillis(500));
    assertThat(broker.pendingTasks(""))
        .extracting(Signature::uuid)
        .containsExactly(stubborn.taskUuid());
    release.countDown();
    await()
        .during(Duration.ofMillis(300))
        .atMost(TIMEOUT)
        .until(() -> stateOf(stubborn.taskUuid()) == State.STARTED);
  }

  // ------------------------------------------------------------------------------------------------- F5

  @Test
  void f5_taskFunctionsCanRunOnPlatformThreads() {
    server.registerTask(
        "where",
        TaskFunction.of(() -> Thread.currentThread().isVirtual() ? "virtual" : "platform"));
    worker().platformTaskThreads(true).build().launchAsync();
    assertThat(server.sendTask(Signature.create("where")).get(TIMEOUT)).containsExactly("platform");
  }

  @Test
  void f5_byDefaultTaskFunctionsRunOnVirtualThreads() {
    server.registerTask(
        "where",
        TaskFunction.of(() -> Thread.currentThread().isVirtual() ? "virtual" : "platform"));
    worker().build().launchAsync();
    assertThat(server.sendTask(Signature.create("where")).get(TIMEOUT)).containsExactly("virtual");
  }

  // ------------------------------------------------------------------------- redelivered after
  // SUCCESS

  /**
   * The task's message, its SUCCESS stored by the worker that ran it and then died before the ack,
   * comes back; its callback adds 10 to its result.
   */
  private Signature redeliveredAfter(State stored) throws InterruptedException {
    Signature task =
        Signature.builder("add")
            .args(List.of(Arg.of(2L), Arg.of(3L)))
            .onSuccess(List.of(Signature.create("add", Arg.of(10L))))
            .build();
    server.sendTask(task);
    takeAndLoseOneDelivery(); // the dying worker's delivery
    if (stored == State.SUCCESS) {
      memory.setStateSuccess(task, List.of(TaskResult.of(5L)));
    } else {
      memory.setStateStarted(task);
    }
    worker().build().launchAsync();
    return task;
  }

  @Test
  void aRedeliveredTaskWhoseSuccessIsStoredDoesNotRunAgainAndStillSendsItsCallbacks()
      throws Exception {
    Signature task = redeliveredAfter(State.SUCCESS);
    Signature callback = task.onSuccess().get(0);
    assertThat(server.asyncResult(callback.uuid()).get(TIMEOUT)).containsExactly(15L);
    assertThat(invoked("add")).as("the callback alone").isEqualTo(1);
    assertThat(server.asyncResult(task.uuid()).get(TIMEOUT)).containsExactly(5L);
  }

  @Test
  void aRedeliveredTaskThatDiedBeforeItsSuccessWasStoredRunsAgain() throws Exception {
    Signature task = redeliveredAfter(State.STARTED);
    Signature callback = task.onSuccess().get(0);
    assertThat(server.asyncResult(callback.uuid()).get(TIMEOUT)).containsExactly(15L);
    assertThat(invoked("add")).as("the task and its callback").isEqualTo(2);
  }

  @Test
  void aTaskSentAgainUnderTheUuidOfOneThatSucceededRunsAgain() {
    worker().build().launchAsync();
    Signature task = Signature.create("add", Arg.of(2L), Arg.of(3L));
    assertThat(server.sendTask(task).get(TIMEOUT)).containsExactly(5L);
    server.sendTask(task); // a first delivery: its state is not read
    await().atMost(TIMEOUT).until(() -> invoked("add") == 2);
  }

  // ----------------------------------------------------------------------------------------------
  // helpers

  /**
   * A consumer takes the head message and dies without settling it: the message returns to the
   * queue head.
   */
  private void takeAndLoseOneDelivery() throws InterruptedException {
    CountDownLatch taken = new CountDownLatch(1);
    Semaphore one = new Semaphore(1);
    Consumption dying =
        broker.startConsuming(
            "dying",
            "",
            new DeliveryHandler() {
              @Override
              public int reserve(int max) throws InterruptedException {
                one.acquire();
                return 1;
              }

              @Override
              public void release(int slots) {}

              @Override
              public void handle(Delivery delivery) {
                taken.countDown();
              }

              @Override
              public void handleNow(Delivery delivery) {
                taken.countDown();
              }

              @Override
              public void brokerError(Throwable error) {}
            });
    taken.await();
    dying.close();
  }

  /** Acknowledges every queued message but the first {@code keep}. */
  private void drainAllBut(int keep) throws InterruptedException {
    int drop = broker.pendingTasks("").size() - keep;
    CountDownLatch done = new CountDownLatch(drop);
    Semaphore budget = new Semaphore(keep + drop);
    AtomicInteger seen = new AtomicInteger();
    Consumption drainer =
        broker.startConsuming(
            "drainer",
            "",
            new DeliveryHandler() {
              @Override
              public int reserve(int max) throws InterruptedException {
                budget.acquire();
                return 1;
              }

              @Override
              public void release(int slots) {}

              @Override
              public void handle(Delivery delivery) {
                if (seen.getAndIncrement() < keep) {
                  delivery.requeue(Duration.ZERO);
                } else {
                  delivery.ack();
                  done.countDown();
                }
              }

              @Override
              public void handleNow(Delivery delivery) {}

              @Override
              public void brokerError(Throwable error) {}
            });
    done.await();
    drainer.close();
  }

  /** A chord of two "one" members whose callback "add" sums them to 2. */
  private static Chord oneAndOneThenAdd() {
    return Chord.of(
        Group.of(Signature.create("one"), Signature.create("one")), Signature.create("add"));
  }
}
