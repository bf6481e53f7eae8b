package io.machinery.backend.amqp;

import static io.machinery.backend.amqp.AmqpBackendIT.chordMember;
import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.io.IOException;
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
class AmqpChordRecoveryIT {
  private Config config;
  private AmqpBackend backend;
  private AmqpClient client;
  private Connection raw;

  @BeforeEach
  void setUp() throws Exception {
    config = AmqpBackendIT.testConfig();
    backend = AmqpBackend.create(config);
    client = AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl()))).build();
    raw = AmqpBackendIT.rawConnection("amqp-chord-recovery-it");
  }

  @AfterEach
  void tearDown() throws IOException {
    backend.close();
    client.close();
    raw.close();
  }

  /** A trigger of a worker of its own, with the backend's marker arguments. */
  private ChordTrigger trigger() {
    int expireMillis = config.effectiveResultsExpireIn() * 1000;
    return new ChordTrigger(
        client,
        Map.of("x-message-ttl", expireMillis, "x-expires", expireMillis),
        Duration.ofSeconds(5),
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
    deleteQueue(group); // the killed taker's auto-delete group queue

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
    deleteChordQueues(group);
  }

  /**
   * Two recoveries of one group at once split the kept states between their peeks (a peek reads
   * unacknowledged): while another worker recovers a group, a recovery leaves its kept states alone
   * (that worker reads every state, also those that land meanwhile).
   */
  @Test
  void aRecoveryLeavesTheKeptStatesAloneWhileAnotherWorkerRecoversThem() throws Exception {
    String group = Uuids.newGroupUuid();
    Signature first = chordMember(group, 2);
    Signature second = chordMember(group, 2);
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    deleteQueue(group); // a winner took the group and died
    try (Channel other = raw.createChannel()) {
      other.queueDeclare(ChordTrigger.recovering(group), false, true, true, null);
      ChordTrigger rerun = trigger();
      AtomicInteger looks = new AtomicInteger();
      rerun.onPeek(looks::incrementAndGet);
      assertThat(rerunTriggers(rerun, group, 2)).isFalse();
      assertThat(looks).as("no peek beside the other worker's").hasValue(0);
      other.queueDelete(ChordTrigger.recovering(group)); // it recovered

      assertThat(rerunTriggers(rerun, group, 2)).as("alone now").isTrue();
      assertThat(rerun.statesOf(group, 2)).hasSize(2);
      rerun.release(group);
    }
    deleteQueue(ChordTrigger.marker(group));
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
      assertThat(rerun.groupTaskStates(group, 2))
          .extracting(TaskState::taskUuid)
          .containsExactlyInAnyOrder(first.uuid(), second.uuid());
      rerun.purgeGroupMeta(group);
    }
    deleteChordQueues(group);
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
    assertThat(worker.completed(group, 2)).isFalse();
    worker.expect("group_other", 20, false); // another member's check on another delivery thread
    assertThat(worker.trigger(group)).as("the re-run recovers the kept states").isTrue();
    assertThat(worker.statesOf(group, 2)).hasSize(2);
    worker.release(group);
    deleteChordQueues(group);
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
    aWinnerTookTheGroupAndDied(group, 2);
    itsMemberRunsAgainAndRecovers(javaMember, 2L, 2, goMember, javaMember);
    deleteChordQueues(group);
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
    aWinnerTookTheGroupAndDied(group, 3);
    itsMemberRunsAgainAndRecovers(last, 3L, 3, goMember, twice, last);
    deleteChordQueues(group);
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
    try (Channel ch = raw.createChannel()) {
      assertThat(ch.queueDeclarePassive(ChordTrigger.kept(group)).getMessageCount())
          .as("the members' own kept states, no copies")
          .isEqualTo(2);
    }
    assertThat(backend.groupTaskStates(group, 2)).hasSize(2);
    backend.purgeGroupMeta(group);
    deleteChordQueues(group);
  }

  /**
   * What a Go worker's {@code SetStateSuccess} leaves in the group queue for a chord member (Go's
   * {@code markTaskCompleted}): the state in Go's state queue named by the group, and nothing kept
   * elsewhere.
   */
  private void finishedOnAGoWorker(Signature member, TaskResult result) throws Exception {
    int expireMillis = config.effectiveResultsExpireIn() * 1000;
    try (Channel ch = raw.createChannel()) {
      ch.queueDeclare(
          member.groupUuid(),
          false,
          false,
          true,
          Map.of("x-message-ttl", expireMillis, "x-expires", expireMillis));
      ch.basicPublish(
          "",
          member.groupUuid(),
          StateQueues.STATE_PROPERTIES,
          WireCodec.encode(TaskState.success(member, List.of(result))));
    }
  }

  /** Both members finished; a winner took the group and was killed before it sent the callback. */
  private void bothFinishedAndTheWinnerDied(Signature first, Signature second) {
    backend.setStateSuccess(first, List.of(TaskResult.of(1L)));
    backend.setStateSuccess(second, List.of(TaskResult.of(2L)));
    aWinnerTookTheGroupAndDied(first.groupUuid(), 2);
  }

  /** A winner took the complete group and was killed before it sent the callback. */
  private void aWinnerTookTheGroupAndDied(String group, int count) {
    try (AmqpBackend winner = AmqpBackend.create(config)) {
      assertThat(winner.groupCompleted(group, count)).isTrue();
      assertThat(winner.triggerChord(group)).isTrue();
    } // killed: the states it took are gone with it
  }

  /**
   * The dead winner's member runs again (redelivered): it finds the group drained, and its trigger
   * must recover every member's state from the kept queue.
   */
  private void itsMemberRunsAgainAndRecovers(
      Signature member, long result, int count, Signature... members) {
    String group = member.groupUuid();
    try (AmqpBackend rerun = AmqpBackend.create(config)) {
      rerun.setStateSuccess(member, List.of(TaskResult.of(result)));
      assertThat(rerun.groupCompleted(group, count)).isFalse();
      assertThat(rerun.triggerChord(group)).as("the re-run recovers the kept states").isTrue();
      assertThat(rerun.groupTaskStates(group, count))
          .extracting(TaskState::taskUuid)
          .containsExactlyInAnyOrder(
              java.util.Arrays.stream(members).map(Signature::uuid).toArray(String[]::new));
      rerun.purgeGroupMeta(group);
    }
  }

  /** Deletes a test chord's group queue and its winner's marker. */
  private void deleteChordQueues(String group) throws Exception {
    deleteQueue(group);
    deleteQueue(ChordTrigger.marker(group));
  }

  private void deleteQueue(String queue) throws Exception {
    try (Channel ch = raw.createChannel()) {
      ch.queueDelete(queue);
    }
  }
}
