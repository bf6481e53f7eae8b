package io.machinery.backend.amqp;

import static io.machinery.backend.amqp.AmqpBackendTesting.aWinnerTookTheGroupAndDied;
import static io.machinery.backend.amqp.AmqpBackendTesting.chordMember;
import static io.machinery.backend.amqp.AmqpBackendTesting.takesTheStatesOfAndSettles;
import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The recovery of a chord from its kept states ({@code <group>_chord_states}, see {@link
 * ChordTrigger}) when something happens in the middle of a peek: each test steps a trigger of its
 * own through {@link ChordTrigger#onPeek}, beside a backend that stands for the other workers.
 */
class AmqpChordRecoveryIT extends AmqpBackendFixture {
  private AmqpClient client;

  @BeforeEach
  void openTheTriggersClient() {
    client = AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl()))).build();
  }

  @AfterEach
  void closeTheTriggersClient() {
    client.close();
  }

  /** A trigger of a worker of its own, with the backend's marker arguments. */
  private ChordTrigger trigger() {
    return trigger(Duration.ofSeconds(5));
  }

  /** A trigger of a worker of its own whose group read timeout is {@code readTimeout}. */
  private ChordTrigger trigger(Duration readTimeout) {
    int expireMillis = config.effectiveResultsExpireIn() * 1000;
    return new ChordTrigger(
        client,
        Map.of("x-message-ttl", expireMillis, "x-expires", expireMillis),
        readTimeout,
        (queue, state, kept) -> {
          throw new AssertionError(
              "a recovery gives nothing back, was asked to publish to " + queue);
        },
        (queue, states) -> {
          throw new AssertionError("a recovery copies nothing, was asked to publish to " + queue);
        });
  }

  /** What the worker asks for a member that may be a re-run: the group, then the trigger. */
  private static boolean rerunTriggers(ChordTrigger trigger, String group, int count) {
    trigger.completed(group, count);
    return trigger.trigger(group);
  }

  /**
   * The first member ran twice, and the taker that waited on its two group states for the second
   * member was killed, taking the group queue down. A re-run recovers from the kept states while
   * the second member finishes: its kept state lands after the recovery read the kept queue, and
   * its own check counts too few ready states (the peek holds the others) and leaves. The recovery
   * must look again. Before, a recovery looked at most five times whatever happened meanwhile, and
   * a state landing during the last look was lost with the callback (the chord kill test lost one
   * of 200 so: two re-runs of one chord in one worker split the kept states on every look, in step,
   * and both gave up).
   */
  @Test
  void aStateThatLandsDuringARecoverysLastLookIsRead() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(first, List.of(TaskResult.of(1L))); // ran twice
    rabbit.delete(group); // the killed taker's auto-delete group queue

    ChordTrigger rerun = trigger();
    AtomicInteger looks = new AtomicInteger();
    rerun.onPeek(looks::incrementAndGet);
    assertThat(rerunTriggers(rerun, group, 2)).as("one member of two kept so far").isFalse();
    int lastLook = looks.get();
    assertThat(lastLook).as("the recovery looked").isPositive();

    looks.set(0);
    AtomicBoolean secondFoundItComplete = new AtomicBoolean(true);
    rerun.onPeek(
        () -> {
          if (looks.incrementAndGet() == lastLook) { // the look after which it would give up
            backend.setStateSuccess(second, List.of(TaskResult.of(2L))); // its first delivery
            secondFoundItComplete.set(backend.groupCompleted(group, 2));
          }
        });
    boolean recovered = rerunTriggers(rerun, group, 2);
    assertThat(secondFoundItComplete).as("the second member counted too few and left").isFalse();
    assertThat(recovered).as("the recovery read the state that landed during its look").isTrue();
    assertThat(rerun.statesOf(group, 2))
        .extracting(TaskState::taskUuid)
        .containsExactlyInAnyOrder(first.uuid(), second.uuid());
    rerun.release(group);
    rabbit.deleteChord(group);
  }

  /**
   * Two recoveries of one group at once split the kept states between their peeks (a peek reads
   * unacknowledged): while another worker holds the group's lock, a recovery waits without a look
   * (that worker reads every state, also those that land meanwhile), and looks once the lock is
   * gone. Here the holder is killed while the recovery waits; before, a recovery that found the
   * lock held left at once, and the re-run of a killed holder's member, redelivered before RabbitMQ
   * dropped that holder's lock, recovered nothing.
   */
  @Test
  void aRecoveryWaitsWithoutALookWhileAnotherWorkerHoldsTheLock() throws Exception {
    String group = Uuids.newGroupUuid();
    bothFinishedAndTheWinnerDied(chordMember(group, 2), chordMember(group, 2));
    Connection holder = AmqpBackendTesting.connect("amqp-chord-recovery-it-holder");
    holder.createChannel().queueDeclare(ChordTrigger.recovering(group), false, true, true, null);
    ChordTrigger rerun = trigger(Duration.ofSeconds(30));
    AtomicInteger looks = new AtomicInteger();
    AtomicInteger looksBeforeTheHolderDied = new AtomicInteger(-1);
    rerun.onPeek(looks::incrementAndGet);
    rerun.onLockWait(
        () -> {
          if (holder.isOpen()) {
            looksBeforeTheHolderDied.set(looks.get());
            holder.abort(); // killed: RabbitMQ drops its exclusive queue with the connection
          }
        });

    assertThat(rerunTriggers(rerun, group, 2)).as("recovered once the lock was gone").isTrue();
    assertThat(looksBeforeTheHolderDied).as("no look beside the holder").hasValue(0);
    assertThat(rerun.statesOf(group, 2)).hasSize(2);
    rerun.release(group);
    rabbit.deleteChord(group);
  }

  /**
   * A worker killed in the middle of its look at the kept states: its peek hid one of them, and
   * RabbitMQ redelivers its member's message before it gives that state back and drops the look's
   * lock. The re-run counts too few kept states beside a look in progress, waits for it, and
   * recovers once the state is back. Before, it counted too few and left, and the callback was
   * lost.
   */
  @Test
  void aReRunWaitsForTheStatesADeadLookHid() throws Exception {
    String group = Uuids.newGroupUuid();
    bothFinishedAndTheWinnerDied(chordMember(group, 2), chordMember(group, 2));
    Connection looker = AmqpBackendTesting.connect("amqp-chord-recovery-it-looker");
    Channel look = looker.createChannel();
    look.queueDeclare(ChordTrigger.recovering(group), false, true, true, null);
    assertThat(look.basicGet(ChordTrigger.kept(group), false)).as("hidden by the peek").isNotNull();
    ChordTrigger rerun = trigger(Duration.ofSeconds(30));
    AtomicInteger waits = new AtomicInteger();
    rerun.onLockWait(
        () -> {
          waits.incrementAndGet();
          if (looker.isOpen()) {
            looker.abort(); // killed: its state comes back, its lock goes
          }
        });

    assertThat(rerunTriggers(rerun, group, 2)).as("recovered once the state was back").isTrue();
    assertThat(waits).as("it waited for the look").hasPositiveValue();
    assertThat(rerun.statesOf(group, 2)).hasSize(2);
    rerun.release(group);
    rabbit.deleteChord(group);
  }

  /**
   * A holder that keeps the lock beyond the group read timeout (a winner that cannot reach RabbitMQ
   * to send its callback) is left the group: the recovery gives up without a look.
   */
  @Test
  void aRecoveryGivesUpWithoutALookWhenTheLockIsHeldPastTheReadTimeout() throws Exception {
    String group = Uuids.newGroupUuid();
    bothFinishedAndTheWinnerDied(chordMember(group, 2), chordMember(group, 2));
    try (Connection holder = AmqpBackendTesting.connect("amqp-chord-recovery-it-holder")) {
      holder.createChannel().queueDeclare(ChordTrigger.recovering(group), false, true, true, null);
      ChordTrigger rerun = trigger(Duration.ofMillis(300));
      AtomicInteger looks = new AtomicInteger();
      rerun.onPeek(looks::incrementAndGet);
      assertThat(rerunTriggers(rerun, group, 2)).isFalse();
      assertThat(looks).as("no look beside the holder").hasValue(0);
    }
    rabbit.deleteChord(group);
    rabbit.delete(ChordTrigger.kept(group));
  }

  /**
   * A re-run of a killed member of a chord whose winner is alive and about to send the callback
   * waits for that winner (it consumes the marker); the winner sends the callback and releases the
   * kept states, and the re-run sends nothing twice. Before, the re-run peeked the kept states
   * beside the winner and sent the callback again.
   */
  @Test
  void aReRunBesideALivingWinnerWaitsForItAndRecoversNothing() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    try (AmqpBackend winner = AmqpBackend.create(config)) {
      assertThat(winner.groupCompleted(group, 2)).isTrue();
      assertThat(winner.triggerChord(group)).isTrue();
      ChordTrigger rerun = trigger();
      AtomicInteger looks = new AtomicInteger();
      rerun.onPeek(looks::incrementAndGet);
      AtomicInteger waits = new AtomicInteger();
      rerun.onLockWait(
          () -> {
            waits.incrementAndGet();
            if (rabbit.exists(ChordTrigger.kept(group))) {
              assertThat(winner.groupTaskStates(group, 2)).hasSize(2); // it sends the callback
              winner.purgeGroupMeta(group);
            }
          });
      backend.setStateSuccess(first, List.of(TaskResult.of(1L))); // ran again after a kill
      assertThat(rerunTriggers(rerun, group, 2)).as("the winner sent it").isFalse();
      assertThat(looks).as("no look beside the winner").hasValue(0);
      assertThat(waits).as("it waited for the winner").hasPositiveValue();
    }
    rabbit.deleteChord(group);
  }

  /**
   * The winner took the group and was killed before it sent the callback, and so many members ran
   * again that their states filled a fresh group queue (the chord kill test: 17 to 24 states of 20
   * members). Their re-runs must still recover from the kept states. Before, each found the group
   * complete, competed for it, found the winner's marker and left, and the callback was lost (one
   * chord of 600 in the chord kill test).
   */
  @Test
  void reRunsThatFillAFreshGroupQueueAfterAKilledWinnerStillRecover() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    bothFinishedAndTheWinnerDied(first, second);
    try (AmqpBackend rerun = AmqpBackend.create(config)) {
      rerun.setStateSuccess(first, List.of(TaskResult.of(1L))); // both ran again
      rerun.setStateSuccess(second, List.of(TaskResult.of(2L)));
      boolean completed = rerun.groupCompleted(group, 2);
      boolean recovered = rerun.triggerChord(group); // the worker asks for a re-run either way
      assertThat(recovered).as("the re-run recovers the kept states").isTrue();
      assertThat(completed)
          .as("a complete group queue beside the marker is not competed for")
          .isFalse();
      takesTheStatesOfAndSettles(rerun, group, first, second);
    }
    rabbit.deleteChord(group);
  }

  /**
   * The late member's group state completed the group queue, but its worker had not yet written its
   * kept copy (a pause between the two confirms) when another worker took the group and was killed
   * before it sent the callback. The dead winner's member ran again before the kept copy landed: it
   * found one member of two kept (its own state, twice) and gave up. Then the kept copy lands, on
   * the late member's first delivery: the marker is there, but no living winner consumes it, so
   * that member recovers. Before, it took the marker for a living winner and left, and the callback
   * was lost (the AMQP chord kill test lost one of 200 chords now and then).
   */
  @Test
  void aKeptStateThatLandsAfterADeadWinnersReRunGaveUpIsRecoveredByItsMember() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature late = chordMember(group, 2);
    byte[] lateState = beforeTheLateMembersKeptCopy(first, late);
    aWinnerTookTheGroupAndDied(config, group, 2);
    try (AmqpBackend rerun = AmqpBackend.create(config)) {
      rerun.setStateSuccess(first, List.of(TaskResult.of(1L))); // the winner's member ran again
      rerun.groupCompleted(group, 2); // a re-run's trigger recovers whatever this says
      assertThat(rerun.triggerChord(group)).as("one member of two kept so far").isFalse();
    }
    itsKeptCopyLands(group, lateState);
    try (AmqpBackend lateWorker = AmqpBackend.create(config)) {
      assertThat(lateWorker.groupCompleted(group, 2))
          .as("every state kept, a marker and no living winner: recover")
          .isTrue();
      assertThat(lateWorker.triggerChord(group)).isTrue();
      takesTheStatesOfAndSettles(lateWorker, group, first, late);
    }
    rabbit.deleteChord(group);
  }

  /**
   * The control of the test above: the same late kept copy beside a winner that is alive (it
   * consumes the marker until it released the kept states) is left to that winner, and nothing is
   * recovered twice.
   */
  @Test
  void aKeptStateThatLandsBesideALivingWinnerIsLeftToIt() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature late = chordMember(group, 2);
    byte[] lateState = beforeTheLateMembersKeptCopy(first, late);
    try (AmqpBackend winner = AmqpBackend.create(config)) {
      assertThat(winner.groupCompleted(group, 2)).isTrue();
      assertThat(winner.triggerChord(group)).isTrue();
      itsKeptCopyLands(group, lateState);
      assertThat(rabbit.consumers(ChordTrigger.marker(group)))
          .as("the living winner consumes its marker")
          .isEqualTo(1);
      try (AmqpBackend lateWorker = AmqpBackend.create(config)) {
        assertThat(lateWorker.groupCompleted(group, 2)).as("the winner answers").isFalse();
      }
      assertThat(winner.groupTaskStates(group, 2)).hasSize(2);
      winner.purgeGroupMeta(group);
    }
    assertThat(rabbit.exists(ChordTrigger.kept(group))).as("released").isFalse();
    assertThat(rabbit.consumers(ChordTrigger.marker(group))).as("let go of").isZero();
    assertThat(rabbit.exists(ChordTrigger.recovering(group))).as("no look's lock left").isFalse();
    rabbit.deleteChord(group);
  }

  /**
   * A worker keeps what the group check said for each member until its trigger asks, for at most
   * 10,000 members (most never ask: a member that finds its group incomplete on its first delivery
   * stops there). Before, reaching the limit forgot every answer at once, also one between its
   * check and its trigger: a re-run whose answer went took its trigger for an ordinary one, found
   * the dead winner's marker and recovered nothing.
   */
  @Test
  void aReRunsCheckIsNotForgottenWhenTheAnswersReachTheirLimit() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    bothFinishedAndTheWinnerDied(first, second);
    ChordTrigger worker = trigger();
    for (int i = 0; i < 9_999; i++) {
      worker.expect("group_earlier_" + i, 20, false); // members that stopped at their check
    }
    backend.setStateSuccess(first, List.of(TaskResult.of(1L))); // the winner's member ran again
    assertThat(worker.completed(group, 2)).as("the kept states of a dead winner").isTrue();
    worker.expect("group_other", 20, false); // another member's check on another delivery thread
    assertThat(worker.trigger(group)).as("the re-run recovers the kept states").isTrue();
    assertThat(worker.statesOf(group, 2)).hasSize(2);
    worker.release(group);
    rabbit.deleteChord(group);
  }

  /**
   * One member ran on a Go worker, which writes its state to the group queue only (no kept copy),
   * and the Java worker that won the trigger was killed before it sent the callback. The re-run of
   * the winner's member must still recover, from the copies the winner kept before it owned the
   * states alone. Before, the kept queue held only the Java member's state, the re-run found too
   * few, and the callback was lost (at-most-once, as in Go).
   */
  @Test
  void aReRunRecoversAChordWithAGoMemberAfterItsJavaWinnerDied() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature goMember = chordMember(group, 2);
    Signature javaMember = chordMember(group, 2);
    finishedOnAGoWorker(goMember, TaskResult.of(1L));
    backend.setStateSuccess(javaMember, List.of(TaskResult.of(2L)));
    aWinnerTookTheGroupAndDied(config, group, 2);
    itsMemberRunsAgainAndRecovers(javaMember, 2L, goMember, javaMember);
    rabbit.deleteChord(group);
  }

  /**
   * As above, with a Java member that ran twice: the kept queue then holds as many states as the
   * group has members before the winner copies anything (that member's two and the other Java
   * member's), but not the Go member's. The winner must copy all the same: a winner that trusted
   * the count left the Go member's state out, and the re-run found two members of three.
   */
  @Test
  void aReRunRecoversAChordWithAGoMemberAndAMemberThatRanTwice() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature goMember = chordMember(group, 3);
    Signature twice = chordMember(group, 3);
    Signature last = chordMember(group, 3);
    finishedOnAGoWorker(goMember, TaskResult.of(1L));
    backend.setStateSuccess(twice, List.of(TaskResult.of(2L)));
    backend.setStateSuccess(
        twice, List.of(TaskResult.of(2L))); // redelivered after a kill, ran again
    backend.setStateSuccess(last, List.of(TaskResult.of(3L)));
    aWinnerTookTheGroupAndDied(config, group, 3);
    itsMemberRunsAgainAndRecovers(last, 3L, goMember, twice, last);
    rabbit.deleteChord(group);
  }

  /**
   * The copies cost nothing when every member ran on a Java worker: each kept its own state (and
   * said so in its group state's header), and the winner copies none.
   */
  @Test
  void aWinnerCopiesNothingWhenEveryMemberKeptItsOwnState() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    assertThat(backend.groupCompleted(group, 2)).isTrue();
    assertThat(backend.triggerChord(group)).isTrue();
    assertThat(rabbit.ready(ChordTrigger.kept(group)))
        .as("the members' own kept states, no copies")
        .isEqualTo(2);
    assertThat(backend.groupTaskStates(group, 2)).hasSize(2);
    backend.purgeGroupMeta(group);
    rabbit.deleteChord(group);
  }

  /**
   * What a Go worker's {@code SetStateSuccess} leaves in the group queue for a chord member (Go's
   * {@code markTaskCompleted}): the state in Go's state queue named by the group, and nothing kept
   * elsewhere.
   */
  private void finishedOnAGoWorker(Signature member, TaskResult result) throws Exception {
    publishGroupState(
        member.groupUuid(),
        WireCodec.encode(TaskState.success(member, List.of(result))),
        StateQueues.STATE_PROPERTIES);
  }

  /**
   * The first member finished; the late member's group state is in the group queue, its kept copy
   * not yet written (its worker paused between the two). Returns the late member's state.
   */
  private byte[] beforeTheLateMembersKeptCopy(Signature first, Signature late) throws Exception {
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    byte[] lateState = WireCodec.encode(TaskState.success(late, List.of(TaskResult.of(2L))));
    publishGroupState(late.groupUuid(), lateState, StateQueues.KEPT_STATE_PROPERTIES);
    return lateState;
  }

  /** The late member's kept copy lands. */
  private void itsKeptCopyLands(String group, byte[] lateState) throws Exception {
    rabbit.publish(ChordTrigger.kept(group), StateQueues.STATE_PROPERTIES, lateState);
  }

  /** A state in the group queue, as a member (or a Go worker) publishes it there. */
  private void publishGroupState(String group, byte[] state, AMQP.BasicProperties properties)
      throws Exception {
    int expireMillis = config.effectiveResultsExpireIn() * 1000;
    rabbit.onChannel(
        ch ->
            ch.queueDeclare(
                group,
                false,
                false,
                true,
                Map.of("x-message-ttl", expireMillis, "x-expires", expireMillis)));
    rabbit.publish(group, properties, state);
  }

  /** Both members finished; a winner took the group and was killed before it sent the callback. */
  private void bothFinishedAndTheWinnerDied(Signature first, Signature second) {
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    aWinnerTookTheGroupAndDied(config, first.groupUuid(), 2);
  }

  /**
   * The dead winner's member runs again (redelivered): it finds the group drained, and its trigger
   * must recover every member's state from the kept queue.
   */
  private void itsMemberRunsAgainAndRecovers(Signature member, long result, Signature... members) {
    String group = member.groupUuid();
    try (AmqpBackend rerun = AmqpBackend.create(config)) {
      rerun.setStateSuccess(member, List.of(TaskResult.of(result)));
      assertThat(rerun.groupCompleted(group, members.length))
          .as("every state kept, the marker and no lock: a dead winner's")
          .isTrue();
      assertThat(rerun.triggerChord(group)).as("the re-run recovers the kept states").isTrue();
      takesTheStatesOfAndSettles(rerun, group, members);
    }
  }
}
