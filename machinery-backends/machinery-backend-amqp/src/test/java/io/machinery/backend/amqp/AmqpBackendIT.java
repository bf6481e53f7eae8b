package io.machinery.backend.amqp;

import static io.machinery.backend.amqp.AmqpBackendTesting.aWinnerTookTheGroupAndDied;
import static io.machinery.backend.amqp.AmqpBackendTesting.chordMember;
import static io.machinery.backend.amqp.AmqpBackendTesting.groupMember;
import static io.machinery.backend.amqp.AmqpBackendTesting.readAll;
import static io.machinery.backend.amqp.AmqpBackendTesting.takesTheStatesOfAndSettles;
import static io.machinery.backend.amqp.RabbitSide.ABSENT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The AMQP backend against Go's own wire samples ({@code interop/go/captured}) and RabbitMQ's view
 * of it.
 */
class AmqpBackendIT extends AmqpBackendFixture {
  private static final Path CAPTURED = Path.of("../../interop/go/captured");

  /** A backend that gives the group back after 300 ms when a member is missing. */
  private AmqpBackend quickToGiveUp() {
    return AmqpBackend.builder(config).groupReadTimeout(Duration.ofMillis(300)).build();
  }

  /** Go's declaration of a state queue (backends/amqp: updateState), with Go's int32 arguments. */
  private void declareAsGo(Channel ch, String name) throws IOException {
    ch.exchangeDeclare(AmqpConfig.DEFAULT_EXCHANGE, "direct", true, false, false, null);
    ch.queueDeclare(
        name, false, false, true, Map.of("x-message-ttl", 3_600_000, "x-expires", 3_600_000));
    ch.queueBind(name, AmqpConfig.DEFAULT_EXCHANGE, name, null);
  }

  /**
   * RabbitMQ refuses to redeclare a queue with any other durability, auto-delete, exclusivity or
   * argument (406 PRECONDITION_FAILED), so "Go's declaration is accepted and each variation is
   * refused" proves the queue has exactly Go's properties
   * (interop/go/captured/amqp-backend-task-queue-declare.json), without the management API, whose
   * statistics RabbitMQ 3.10 sometimes cannot serve under queue churn.
   */
  @Test
  void aStateQueueIsDeclaredExactlyAsGoDeclaresIt() throws Exception {
    Signature task = Signature.create("add");
    backend.setStatePending(task);
    String name = task.uuid();
    Map<String, Object> goArgs = Map.of("x-message-ttl", 3_600_000, "x-expires", 3_600_000);
    rabbit.onChannel(
        ch -> {
          declareAsGo(ch, name); // Go redeclaring it is accepted (no 406)
          return null;
        });
    assertRefused(ch -> ch.queueDeclare(name, true, false, true, goArgs));
    assertRefused(ch -> ch.queueDeclare(name, false, false, false, goArgs));
    assertRefused(
        ch -> ch.queueDeclare(name, false, false, true, Map.of("x-message-ttl", 3_600_000)));
    assertRefused(
        ch ->
            ch.queueDeclare(
                name, false, false, true, Map.of("x-message-ttl", 1, "x-expires", 3_600_000)));
    rabbit.delete(name);
  }

  private void assertRefused(RabbitSide.ChannelWork<?> redeclare) {
    assertThatThrownBy(() -> rabbit.onChannel(redeclare))
        .satisfies(
            e -> {
              Throwable t = e;
              StringBuilder messages = new StringBuilder();
              while (t != null) {
                messages.append(t).append(' ');
                t = t.getCause();
              }
              assertThat(messages.toString()).contains("PRECONDITION_FAILED");
            });
  }

  @Test
  void statesAreWrittenWithGosBytesAndProperties() throws Exception {
    byte[] goReceived = Files.readAllBytes(CAPTURED.resolve("amqp-state-add-received.json"));
    String goUuid = WireCodec.decodeTaskState(goReceived).taskUuid();
    Signature task = Signature.builder("add").uuid(goUuid).build();
    backend.setStatePending(task);
    backend.setStateReceived(task);
    GetResponse pending = rabbit.onChannel(ch -> ch.basicGet(goUuid, true));
    GetResponse received = rabbit.onChannel(ch -> ch.basicGet(goUuid, true));
    assertThat(WireCodec.decodeTaskState(pending.getBody()).state()).isEqualTo(State.PENDING);
    assertThat(received.getBody()).as("byte for byte what Go wrote").isEqualTo(goReceived);
    assertThat(received.getProps().getContentType()).isEqualTo("application/json");
    assertThat(received.getProps().getDeliveryMode()).isEqualTo(2);
    assertThat(received.getEnvelope().getRoutingKey()).isEqualTo(goUuid);
    rabbit.delete(goUuid);
  }

  @Test
  void statesGoWroteAreReadOldestFirstAndConsumed() throws Exception {
    List<byte[]> goStates = new ArrayList<>();
    for (String name : List.of("pending", "received", "started", "success")) {
      goStates.add(Files.readAllBytes(CAPTURED.resolve("amqp-state-add-" + name + ".json")));
    }
    String uuid = WireCodec.decodeTaskState(goStates.get(0)).taskUuid();
    AMQP.BasicProperties goProperties =
        new AMQP.BasicProperties.Builder().contentType("application/json").deliveryMode(2).build();
    rabbit.onChannel(
        ch -> {
          ch.queueDelete(uuid);
          declareAsGo(ch, uuid);
          for (byte[] state : goStates) {
            ch.basicPublish(AmqpConfig.DEFAULT_EXCHANGE, uuid, goProperties, state);
          }
          return null;
        });
    List<TaskState> read = readAll(backend, uuid);
    assertThat(read)
        .extracting(TaskState::state)
        .containsExactly(State.PENDING, State.RECEIVED, State.STARTED, State.SUCCESS);
    assertThat(read.getLast().results()).extracting(TaskResult::typedValue).containsExactly(2L);
    assertThat(backend.getState(uuid)).as("consumed").isEmpty();
    rabbit.delete(uuid);
  }

  /**
   * A handle reading a finished task takes its queued states one after the other: a read that took
   * a state that is not final is followed at once by the next, not after the poll interval (one
   * hour here, which the test's timeout would stop).
   */
  @Test
  @Timeout(60)
  void aResultHandleReadsQueuedStatesWithoutPausingBetweenThem() throws Exception {
    Signature task = Signature.create("add");
    backend.setStatePending(task);
    backend.setStateReceivedAsync(task).join();
    backend.setStateStartedAsync(task).join();
    backend.setStateSuccess(task, List.of(TaskResult.of(3L)));
    try (MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      assertThat(server.asyncResult(task.uuid()).get(Duration.ofHours(1), Duration.ofHours(1)))
          .containsExactly(3L);
    }
    assertThat(backend.getState(task.uuid())).as("every state was consumed").isEmpty();
    backend.purgeState(task.uuid());
  }

  @Test
  void pipelinedWritesKeepTheirOrder() {
    Signature task = Signature.create("add");
    for (int i = 0; i < 20; i++) {
      Signature t = Signature.create("add");
      backend.setStatePending(t);
      var received = backend.setStateReceivedAsync(t);
      var started = backend.setStateStartedAsync(t);
      backend.setStateSuccess(t, List.of(TaskResult.of(1L)));
      received.join();
      started.join();
      assertThat(readAll(backend, t.uuid()))
          .extracting(TaskState::state)
          .containsExactly(State.PENDING, State.RECEIVED, State.STARTED, State.SUCCESS);
      backend.purgeState(t.uuid());
    }
    assertThat(backend.getState(task.uuid())).isEmpty();
  }

  @Test
  void aChordTriggersOnceAcrossProcessesAndGoSeesItTriggered() throws Exception {
    String group = Uuids.newGroupUuid();
    List<Signature> members = List.of(groupMember(group, 2), groupMember(group, 2));
    for (Signature m : members) {
      backend.setStatePending(m);
      backend.setStateSuccess(m, List.of(TaskResult.of(1L)));
    }
    try (AmqpBackend other = AmqpBackend.create(config)) {
      ExecutorService pool = Executors.newFixedThreadPool(12);
      List<AmqpBackend> winners = new ArrayList<>();
      try {
        List<Callable<Boolean>> calls = new ArrayList<>();
        List<AmqpBackend> callers = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
          AmqpBackend b = i % 2 == 0 ? backend : other;
          callers.add(b);
          calls.add(() -> b.groupCompleted(group, 2) && b.triggerChord(group));
        }
        List<Future<Boolean>> results = pool.invokeAll(calls);
        for (int i = 0; i < results.size(); i++) {
          if (results.get(i).get()) {
            winners.add(callers.get(i));
          }
        }
      } finally {
        pool.shutdownNow();
      }
      assertThat(winners).hasSize(1);
      // Go's TriggerChord passive-inspects <group>_chord_triggered: it exists, so a Go worker says
      // "already triggered"
      int markerMessages =
          rabbit.onChannel(
              ch -> ch.queueDeclarePassive(group + "_chord_triggered").getMessageCount());
      assertThat(markerMessages).isZero();
      takesTheStatesOfAndSettles(winners.get(0), group, members.toArray(Signature[]::new));
      assertThat(rabbit.ready(group + "_chord_triggered")).as("the marker stays").isZero();
    }
    rabbit.delete(ChordTrigger.marker(group));
  }

  /**
   * F22: a Go worker that saw the group complete too runs TriggerChord (the marker exists: false)
   * or fails GroupTaskStates ("Already consumed"), and either way its deferred PurgeGroupMeta
   * deletes the group queue and the marker. The Java winner must already hold the states by then.
   */
  @Test
  void aGoWorkersPurgeAfterJavaTriggeredDoesNotTakeTheStatesAway() throws Exception {
    String group = Uuids.newGroupUuid();
    List<Signature> members = List.of(groupMember(group, 2), groupMember(group, 2));
    for (Signature m : members) {
      backend.setStateSuccess(m, List.of(TaskResult.of(7L)));
    }
    assertThat(backend.groupCompleted(group, 2)).isTrue();
    assertThat(backend.triggerChord(group)).isTrue();
    assertThat(goSeesGroupMessages(group))
        .as("Go's GroupTaskStates inspection: not N, \"Already consumed\"")
        .isNotEqualTo(2);
    rabbit.delete(group + "_chord_triggered", group); // Go's deferred PurgeGroupMeta
    takesTheStatesOfAndSettles(backend, group, members.toArray(Signature[]::new));
  }

  /**
   * F4: the winner's process dies after the trigger, before the callback (here: its backend is
   * closed without the purge). The redelivered member runs again, finds the group drained, and its
   * trigger recovers the states from the marker; once the callback is sent (the purge), nobody
   * recovers again.
   */
  @Test
  void aRerunRecoversTheStatesOfAWinnerThatDiedBeforeTheCallback() throws Exception {
    String group = Uuids.newGroupUuid();
    List<Signature> members = List.of(chordMember(group, 2), chordMember(group, 2));
    for (Signature m : members) {
      backend.setStateSuccess(m, List.of(TaskResult.of(3L)));
    }
    aWinnerTookTheGroupAndDied(config, group, 2); // the callback never sent
    try (AmqpBackend rerun = AmqpBackend.create(config)) {
      rerun.setStateSuccess(
          members.get(1), List.of(TaskResult.of(3L))); // the redelivered member ran again
      assertThat(rerun.groupCompleted(group, 2))
          .as("every state kept, the marker and no lock: a dead winner's")
          .isTrue();
      assertThat(rerun.triggerChord(group))
          .as("the re-run recovers the dead winner's states")
          .isTrue();
      takesTheStatesOfAndSettles(rerun, group, members.toArray(Signature[]::new));
    }
    assertThat(rabbit.ready(group + "_chord_states"))
        .as("the kept states are deleted with the purge")
        .isEqualTo(ABSENT);
    try (AmqpBackend later = AmqpBackend.create(config)) {
      assertThat(later.groupCompleted(group, 2)).isFalse();
      assertThat(later.triggerChord(group))
          .as("the callback was sent: nothing to recover")
          .isFalse();
    }
    rabbit.deleteChord(group);
  }

  /**
   * A Go reader that holds the exclusive consumer wins; Java's trigger says false and hid nothing
   * from it.
   */
  @Test
  void aGoReaderHoldingTheGroupWinsAndGetsEveryState() throws Exception {
    String group = Uuids.newGroupUuid();
    List<Signature> members =
        List.of(groupMember(group, 3), groupMember(group, 3), groupMember(group, 3));
    for (Signature m : members) {
      backend.setStateSuccess(m, List.of(TaskResult.of(1L)));
    }
    assertThat(backend.groupCompleted(group, 3)).isTrue();
    try (Channel go = rabbit.connection().createChannel()) {
      List<byte[]> got = RabbitSide.holdExclusively(go, group);
      assertThat(backend.triggerChord(group)).as("the exclusive consumer is taken").isFalse();
      await().atMost(Duration.ofSeconds(5)).until(() -> got.size() == 3);
    }
    assertThat(rabbit.ready(group + "_chord_triggered"))
        .as("the loser created no marker")
        .isEqualTo(ABSENT);
  }

  @Test
  void aMemberThatRanTwiceMakesTheTriggerWaitForTheRealLastMember() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = groupMember(group, 3);
    Signature second = groupMember(group, 3);
    Signature third = groupMember(group, 3);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(
        first, List.of(TaskResult.of(1L))); // redelivered after its worker died: ran twice
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    assertThat(backend.groupCompleted(group, 3))
        .as("three messages (Go would say complete and misfire)")
        .isTrue();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<Boolean> trigger = pool.submit(() -> backend.triggerChord(group));
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> rabbit.ready(group) == 0); // the trigger holds the states
      try (AmqpBackend otherWorker = AmqpBackend.create(config)) {
        otherWorker.setStateFailure(third, "boom");
        assertThat(otherWorker.groupCompleted(group, 3))
            .as("the last member's worker sees nothing ready")
            .isFalse();
      }
      assertThat(trigger.get()).isTrue();
    } finally {
      pool.shutdownNow();
    }
    List<TaskState> states = backend.groupTaskStates(group, 3);
    assertThat(states)
        .extracting(TaskState::taskUuid)
        .containsExactly(first.uuid(), second.uuid(), third.uuid());
    assertThat(states)
        .extracting(TaskState::state)
        .containsExactly(State.SUCCESS, State.SUCCESS, State.FAILURE);
    assertThatThrownBy(() -> backend.groupTaskStates(group, 3))
        .as("read once, as in Go")
        .hasMessageContaining(group);
    backend.purgeGroupMeta(group);
    rabbit.delete(ChordTrigger.marker(group));
  }

  @Test
  void aMemberThatRanTwiceWithTheLastOneStillRunningGetsItsStatesBack() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = groupMember(group, 3);
    Signature second = groupMember(group, 3);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    try (AmqpBackend quick = quickToGiveUp()) {
      assertThat(quick.groupCompleted(group, 3)).isTrue();
      assertThat(quick.triggerChord(group)).as("only two distinct members finished").isFalse();
    }
    assertThat(rabbit.ready(group)).as("the three states are back in the group queue").isEqualTo(3);
    assertThat(rabbit.ready(group + "_chord_triggered")).isEqualTo(ABSENT);
    rabbit.delete(group);
  }

  /**
   * A winner killed while it waited for the last member (a member ran twice) takes every state down
   * with the auto-delete group queue; its member's re-run comes before the last member finished.
   * The last member, on its first delivery, must still fire the chord from the kept states (before:
   * it found two states in a fresh group queue and left; the callback was lost).
   */
  @Test
  void aLateMemberRecoversTheStatesAWinnerKilledWhileWaitingTookDown() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 3);
    Signature second = chordMember(group, 3);
    Signature third = chordMember(group, 3);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L))); // ran twice: 3 messages, 2 members
    Connection winner = AmqpBackendTesting.connect("amqp-backend-it-winner");
    List<byte[]> held = RabbitSide.holdExclusively(winner.createChannel(), group);
    await().atMost(Duration.ofSeconds(5)).until(() -> held.size() == 3);
    winner.abort(); // kill -9: no acknowledgement, no give-back
    await().atMost(Duration.ofSeconds(5)).until(() -> rabbit.ready(group) == ABSENT);
    try (AmqpBackend rerun = AmqpBackend.create(config)) {
      rerun.setStateSuccess(second, List.of(TaskResult.of(2L))); // the dead winner's member
      rerun.groupCompleted(group, 3);
      assertThat(rerun.triggerChord(group)).as("two members' states are kept so far").isFalse();
    }

    backend.setStateSuccess(third, List.of(TaskResult.of(3L))); // first delivery of the last one
    assertThat(rabbit.ready(group)).as("the fresh group queue").isEqualTo(2);
    assertThat(backend.groupCompleted(group, 3)).as("complete by its kept states").isTrue();
    assertThat(backend.triggerChord(group)).isTrue();
    takesTheStatesOfAndSettles(backend, group, first, second, third);
    try (AmqpBackend later = AmqpBackend.create(config)) {
      assertThat(later.groupCompleted(group, 3)).as("fired: nothing left to recover").isFalse();
    }
    rabbit.deleteChord(group);
  }

  /**
   * A trigger waiting for a missing member (one ran twice) gives the states back after its read
   * timeout; the missing member's group state was published in that gap, into the deleted queue, so
   * the group queue holds two messages of one member for ever. The trigger must fire from the kept
   * states, which hold both members (before: it returned false, and every later check found the
   * same two messages).
   */
  @Test
  void aTriggerThatTimedOutRecoversAStateTheGroupQueueLost() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(first, List.of(TaskResult.of(1L))); // ran twice: 2 messages, 1 member
    rabbit.publish( // the second member's kept copy; its group copy was lost in the gap
        group + "_chord_states",
        null,
        WireCodec.encode(TaskState.success(second, List.of(TaskResult.of(2L)))));
    try (AmqpBackend quick = quickToGiveUp()) {
      assertThat(quick.groupCompleted(group, 2)).isTrue();
      assertThat(quick.triggerChord(group)).as("recovered from the kept states").isTrue();
      takesTheStatesOfAndSettles(quick, group, first, second);
    }
    rabbit.deleteChord(group);
  }

  /**
   * Two members of one chord complete it in one process at once, on two delivery threads: the last
   * member takes the states, and a re-run of another member asks the trigger while the taker has
   * not sent the callback yet. The re-run waits for the taker (which consumes the marker) and
   * recovers nothing; the taker gets its states. Before the lock, the re-run recovered beside the
   * taker (a duplicate callback), and before that it had overwritten and then released the taker's
   * states, so the taker failed "no complete set" on every attempt and stored FAILURE for a
   * callback that had been sent.
   */
  @Test
  void aReRunBesideTheTakerInOneProcessLeavesTheChordToIt() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    ExecutorService last = Executors.newSingleThreadExecutor();
    ExecutorService rerun = Executors.newSingleThreadExecutor();
    try {
      assertThat(
              last.submit(() -> backend.groupCompleted(group, 2) && backend.triggerChord(group))
                  .get())
          .as("the last member takes the states")
          .isTrue();
      // the re-run's state is stored before the taker settles the chord (deleting the group
      // queue): a state written after that is another case (a member finishing late), and here
      // its publish could meet the deletion between a declaration and the publish (ci-run76)
      CountDownLatch rerunStored = new CountDownLatch(1);
      Future<Boolean> rerunTriggered =
          rerun.submit(
              () -> {
                backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
                backend.groupCompleted(group, 2);
                rerunStored.countDown();
                return backend.triggerChord(group); // a re-run asks even when incomplete
              });
      assertThat(
              last.submit(
                      () -> {
                        assertThat(rerunStored.await(30, TimeUnit.SECONDS)).isTrue();
                        List<TaskState> states = backend.groupTaskStates(group, 2);
                        backend.purgeGroupMeta(group); // the callback was sent
                        return states;
                      })
                  .get())
          .extracting(TaskState::taskUuid)
          .containsExactlyInAnyOrder(first.uuid(), second.uuid());
      assertThat(rerunTriggered.get()).as("the taker sent the callback").isFalse();
    } finally {
      last.shutdownNow();
      rerun.shutdownNow();
    }
    rabbit.deleteChord(group);
  }

  /**
   * A member that finishes after the winner settled its chord and deleted the kept states (the
   * winner took this member's group state, published just before its kept copy) keeps no copy: the
   * kept queue is not created again to linger until it expires, and the state write succeeds.
   * Before, the kept copy went to a queue declared anew (seen as leftover queues after the chord
   * benchmark on AMQP), or, when the deletion fell between the declaration and its binding, the
   * write failed with NOT_FOUND and the worker wrote every state of the member once more.
   */
  @Test
  void aMemberFinishingAfterTheChordSettledLeavesNoKeptStatesBehind() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    String kept = ChordTrigger.kept(group);
    assertThat(rabbit.ready(kept)).as("the first member's kept copy").isEqualTo(1);
    rabbit.delete(kept); // what the winner's release does once the chord settled

    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    assertThat(rabbit.ready(kept)).as("the kept queue after the second member").isEqualTo(ABSENT);
    assertThat(rabbit.ready(group)).as("the second member's group state").isEqualTo(2);
    rabbit.delete(group);
  }

  /** What Go's InspectQueue reports as Messages: the ready messages. */
  private int goSeesGroupMessages(String group) {
    return Math.max(0, rabbit.ready(group));
  }

  /**
   * The states of the first two members gone from the group queue and the kept queue alike (what
   * their expiry or a RabbitMQ restart does): the last member, on its first delivery or as a
   * re-run, sees what it would see while the others still run, so the group is neither complete nor
   * recovered, and nothing fires from a partial set (see ChordTrigger's "Group data that
   * vanished").
   */
  @Test
  void aGroupWhoseStatesLeftBothQueuesIsNeitherCompleteNorRecovered() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 3);
    Signature second = chordMember(group, 3);
    Signature third = chordMember(group, 3);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    rabbit.delete(group, ChordTrigger.kept(group));

    backend.setStateSuccess(third, List.of(TaskResult.of(3L)));
    assertThat(rabbit.ready(group)).isEqualTo(1);
    // a kept queue that this process declared lately and that is gone was deleted: for the member
    // that is the winner's release, so it keeps nothing (the states in it were lost either way)
    assertThat(rabbit.ready(ChordTrigger.kept(group))).isEqualTo(ABSENT);
    assertThat(backend.groupCompleted(group, 3)).isFalse();
    assertThat(backend.triggerChord(group)).as("a re-run asks the trigger all the same").isFalse();
    assertThat(rabbit.ready(ChordTrigger.marker(group))).as("nobody fired").isEqualTo(ABSENT);
    rabbit.delete(group, ChordTrigger.kept(group));
  }

  @Test
  void aResultsExpiryBeyondGosInt32MillisecondsIsRefused() {
    Config tooLong = config.toBuilder().resultsExpireIn(AmqpBackend.MAX_EXPIRE_SECONDS + 1).build();
    assertThatThrownBy(() -> AmqpBackend.create(tooLong))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("results_expire_in");
  }
}
