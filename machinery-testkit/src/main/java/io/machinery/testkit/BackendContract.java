package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.StateNotFoundException;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.wire.Uuids;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every result {@link Backend} passes. Tests write a state and read it back right
 * away, so they also hold for a backend whose reads consume states (Go's AMQP backend).
 */
public abstract class BackendContract {
  protected Config config;
  protected Backend backend;

  protected abstract Backend createBackend(Config config);

  protected Config baseConfig() {
    return Config.DEFAULT;
  }

  /**
   * Whether later states keep the TaskName written with PENDING (Go's Redis backend does; eager
   * does not).
   */
  protected boolean carriesTaskNameForward() {
    return true;
  }

  /**
   * Whether the backend keeps group metas, so that it can tell a group that is gone (the AMQP
   * backend, as Go's, keeps none: a group is its queue of states).
   */
  protected boolean keepsGroupMetas() {
    return true;
  }

  /**
   * Whether the backend keeps the member that triggered a chord ({@link
   * Backend#triggerChord(String, String)} answers {@link Backend.Trigger#WON_BEFORE} to it). The
   * AMQP backend, whose trigger is the read of the group's states, keeps none and answers {@link
   * Backend.Trigger#LOST}.
   */
  protected boolean keepsChordWinners() {
    return true;
  }

  /**
   * Whether the backend releases a chord trigger its winner asks it to ({@link
   * Backend#releaseChordTrigger}); every backend that keeps chord winners does. If not, {@link
   * Backend#releasesChordTriggers} must say so and a release must fail with {@link
   * UnsupportedOperationException}.
   */
  protected boolean releasesChordTriggers() {
    return keepsChordWinners();
  }

  /**
   * Whether the backend keeps uniqueness keys ({@link Backend#claimUnique}); if not, claiming one
   * must fail with {@link UnsupportedOperationException}.
   */
  protected boolean keepsUniqueKeys() {
    return true;
  }

  /**
   * Whether a second backend made by {@link #createBackend} shares the first one's state, as two
   * processes on one server do (an in-memory backend's instances do not).
   */
  protected boolean separateInstancesShareState() {
    return true;
  }

  /**
   * The newest state of a task. A backend whose reads consume states (Go's AMQP backend keeps one
   * message per state change) is read until it has nothing more; others are read once.
   */
  protected java.util.Optional<TaskState> latestState(String taskUuid) {
    if (!backend.consumesStatesOnRead()) {
      return backend.getState(taskUuid);
    }
    java.util.Optional<TaskState> last = java.util.Optional.empty();
    for (var state = backend.getState(taskUuid);
        state.isPresent();
        state = backend.getState(taskUuid)) {
      last = state;
    }
    return last;
  }

  @BeforeEach
  void createBackendUnderTest() {
    config = BrokerContract.uniqueQueue(baseConfig(), "kit_");
    backend = createBackend(config);
  }

  @AfterEach
  void closeBackendUnderTest() {
    if (backend != null) { // null when setting up aborted (no server outside CI)
      backend.close();
    }
  }

  private static Signature task(String name) {
    return Signature.builder(name).args(Arg.of(1L)).build();
  }

  @Test
  void aTaskMovesThroughItsStatesInOrder() {
    Signature add = task("add");
    backend.setStatePending(add);
    TaskState pending = backend.getState(add.uuid()).orElseThrow();
    assertThat(pending.state()).isEqualTo(State.PENDING);
    assertThat(pending.taskName()).isEqualTo("add");
    assertThat(pending.createdAt()).isAfter(TaskState.ZERO_TIME);

    backend.setStateReceived(add);
    TaskState received = backend.getState(add.uuid()).orElseThrow();
    assertThat(received.state()).isEqualTo(State.RECEIVED);
    if (carriesTaskNameForward()) {
      assertThat(received.taskName()).isEqualTo("add");
      assertThat(received.createdAt()).isEqualTo(pending.createdAt());
    }
    backend.setStateStarted(add);
    assertThat(backend.getState(add.uuid()).orElseThrow().state()).isEqualTo(State.STARTED);
    backend.setStateRetry(add);
    assertThat(backend.getState(add.uuid()).orElseThrow().state()).isEqualTo(State.RETRY);
    backend.setStateSuccess(add, List.of(TaskResult.of(2L)));
    TaskState success = backend.getState(add.uuid()).orElseThrow();
    assertThat(success.state()).isEqualTo(State.SUCCESS);
    assertThat(success.results()).containsExactly(TaskResult.of("int64", 2L));
  }

  /**
   * What a group send and {@code Server.sendTasks} call: PENDING for many tasks at once, each one
   * stored once the future has completed.
   */
  @Test
  void pendingForManyTasksAtOnceIsStoredForEach() {
    List<Signature> tasks = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      tasks.add(task("add"));
    }
    backend.setStatePendingAllAsync(tasks).join();
    for (Signature task : tasks) {
      TaskState state = latestState(task.uuid()).orElseThrow();
      assertThat(state.state()).isEqualTo(State.PENDING);
      assertThat(state.taskName()).isEqualTo("add");
    }
  }

  @Test
  void resultsOfEveryGoTypeReadBackExactly() {
    Signature task = task("echo");
    backend.setStatePending(task);
    List<TaskResult> results =
        List.of(
            TaskResult.of("int64", Long.MIN_VALUE),
            TaskResult.of("uint64", new BigInteger("18446744073709551615")),
            TaskResult.of("int64", 9_007_199_254_740_993L),
            TaskResult.of("float64", 200.0),
            TaskResult.of("float64", 0.1),
            TaskResult.of("[]uint8", new byte[] {0, 1, 2, (byte) 255}),
            TaskResult.of("string", "héllo <&> \u2028"),
            TaskResult.of("[]string", List.of("a", "b")),
            TaskResult.of("bool", true));
    backend.setStateSuccess(task, results);
    TaskState state = latestState(task.uuid()).orElseThrow();
    List<Object> expected = new ArrayList<>();
    List<Object> actual = new ArrayList<>();
    for (int i = 0; i < results.size(); i++) {
      expected.add(asComparable(results.get(i).typedValue()));
      actual.add(asComparable(state.results().get(i).typedValue()));
      assertThat(state.results().get(i).type()).isEqualTo(results.get(i).type());
    }
    assertThat(actual).isEqualTo(expected);
  }

  private static @org.jspecify.annotations.Nullable Object asComparable(
      @org.jspecify.annotations.Nullable Object value) {
    return value instanceof byte[] b ? java.util.HexFormat.of().formatHex(b) : value;
  }

  @Test
  void aFailureKeepsItsErrorText() {
    Signature task = task("panic");
    backend.setStatePending(task);
    backend.setStateFailure(task, "oops: \"quoted\" and\nnew line");
    TaskState state = latestState(task.uuid()).orElseThrow();
    assertThat(state.state()).isEqualTo(State.FAILURE);
    assertThat(state.error()).isEqualTo("oops: \"quoted\" and\nnew line");
  }

  /**
   * How the worker recognises a gone group (see {@link Backend#groupCompleted}): with any other
   * exception it retries for a minute, then fails the chord as if the backend were down. The
   * message stays Go's, for code that matches Go's text.
   */
  @Test
  void aGroupWhoseMetaIsGoneIsReportedAsNotFound() {
    org.junit.jupiter.api.Assumptions.assumeTrue(keepsGroupMetas(), "no group metas");
    Signature member = task("add");
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(member.uuid()));
    backend.setStatePending(member);
    backend.purgeGroupMeta(group);
    assertThatThrownBy(() -> backend.groupCompleted(group, 1))
        .isInstanceOfSatisfying(
            StateNotFoundException.class,
            e -> {
              assertThat(e.missing()).isEqualTo(StateNotFoundException.Missing.GROUP);
              assertThat(e.uuid()).isEqualTo(group);
            })
        .hasMessageStartingWith("Group not found: " + group);
    assertThatThrownBy(() -> backend.groupTaskStates(group, 1))
        .isInstanceOf(StateNotFoundException.class)
        .hasMessageStartingWith("Group not found: " + group);
  }

  /**
   * A member whose state is gone (expired, purged) while its group's meta remains: the chord cannot
   * get that member's result, so reading the group's states says which member is missing instead of
   * handing the callback fewer results.
   */
  @Test
  void aGroupMemberWhoseStateIsGoneIsReportedAsNotFound() {
    org.junit.jupiter.api.Assumptions.assumeTrue(keepsGroupMetas(), "no group metas");
    Signature kept = task("add");
    Signature gone = task("add");
    String group = Uuids.newGroupUuid();
    backend.initGroup(group, List.of(kept.uuid(), gone.uuid()));
    backend.setStateSuccess(kept, List.of());
    backend.setStateSuccess(gone, List.of());
    backend.purgeState(gone.uuid());
    assertThatThrownBy(() -> backend.groupTaskStates(group, 2))
        .isInstanceOfSatisfying(
            StateNotFoundException.class,
            e -> {
              assertThat(e.missing()).isEqualTo(StateNotFoundException.Missing.TASK);
              assertThat(e.uuid()).isEqualTo(gone.uuid());
            })
        .hasMessageStartingWith("Task not found: " + gone.uuid());
    // and the completion check the chord path makes first says so too (counting the member as not
    // completed, Go's way, leaves the chord waiting for ever)
    assertThatThrownBy(() -> backend.groupCompleted(group, 2))
        .isInstanceOfSatisfying(
            StateNotFoundException.class, e -> assertThat(e.uuid()).isEqualTo(gone.uuid()));
  }

  @Test
  void anUnknownTaskHasNoState() {
    assertThat(backend.getState(Uuids.newTaskUuid())).isEmpty();
  }

  @Test
  void aPurgedStateIsGone() {
    Signature task = task("add");
    backend.setStatePending(task);
    backend.purgeState(task.uuid());
    assertThat(backend.getState(task.uuid())).isEmpty();
  }

  @Test
  void aGroupCompletesWhenEveryMemberFinishedAndReportsStatesInGroupOrder() {
    List<Signature> members = List.of(task("add"), task("add"), task("add"));
    String group = Uuids.newGroupUuid();
    List<Signature> grouped =
        members.stream()
            .map(m -> m.toBuilder().groupUuid(group).groupTaskCount(members.size()).build())
            .toList();
    backend.initGroup(group, grouped.stream().map(Signature::uuid).toList());
    grouped.forEach(backend::setStatePending);

    backend.setStateSuccess(grouped.get(0), List.of(TaskResult.of(2L)));
    assertThat(backend.groupCompleted(group, 3)).isFalse();
    backend.setStateFailure(grouped.get(1), "boom");
    assertThat(backend.groupCompleted(group, 3)).isFalse();
    backend.setStateSuccess(grouped.get(2), List.of(TaskResult.of(11L)));
    assertThat(backend.groupCompleted(group, 3)).isTrue();

    List<TaskState> states = backend.groupTaskStates(group, 3);
    assertThat(states)
        .extracting(TaskState::taskUuid)
        .containsExactlyElementsOf(grouped.stream().map(Signature::uuid).toList());
    assertThat(states)
        .extracting(TaskState::state)
        .containsExactly(State.SUCCESS, State.FAILURE, State.SUCCESS);
  }

  /**
   * PENDING only where there is no state ({@link Backend#setStatePendingIfAbsent}): a chord's
   * callback gets it after its publish, so it must never land over a worker's state, and exactly
   * one of racing writers stores it. A backend that cannot says so and throws.
   */
  @Test
  void pendingIfAbsentStoresOnlyWhereThereIsNoStateForExactlyOneOfManyCallers() throws Exception {
    Signature fresh = task("add");
    if (!backend.storesPendingIfAbsent()) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> backend.setStatePendingIfAbsent(fresh))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    assertThat(backend.setStatePendingIfAbsent(fresh)).isTrue();
    TaskState pending = latestState(fresh.uuid()).orElseThrow();
    assertThat(pending.state()).isEqualTo(State.PENDING);
    assertThat(pending.taskName()).isEqualTo("add");
    assertThat(backend.setStatePendingIfAbsent(fresh)).isFalse();

    Signature received = task("add");
    backend.setStateReceived(received);
    assertThat(backend.setStatePendingIfAbsent(received)).isFalse();
    assertThat(latestState(received.uuid()).orElseThrow().state()).isEqualTo(State.RECEIVED);

    Signature done = task("add");
    backend.setStateSuccess(done, List.of(TaskResult.of(2L)));
    assertThat(backend.setStatePendingIfAbsent(done)).isFalse();
    TaskState success = latestState(done.uuid()).orElseThrow();
    assertThat(success.state()).isEqualTo(State.SUCCESS);
    assertThat(success.results()).containsExactly(TaskResult.of("int64", 2L));

    Signature raced = task("add");
    assertThat(trueForHowManyOfEightRacingCallers(() -> backend.setStatePendingIfAbsent(raced)))
        .isEqualTo(1);
  }

  @Test
  void aChordTriggersForExactlyOneOfManyConcurrentCallers() throws Exception {
    List<Signature> members = List.of(task("add"), task("add"));
    String group = Uuids.newGroupUuid();
    List<Signature> grouped =
        members.stream()
            .map(m -> m.toBuilder().groupUuid(group).groupTaskCount(2).build())
            .toList();
    backend.initGroup(group, grouped.stream().map(Signature::uuid).toList());
    for (Signature member : grouped) {
      backend.setStatePending(member);
      backend.setStateSuccess(member, List.of(TaskResult.of(1L)));
    }
    assertThat(trueForHowManyOfEightRacingCallers(() -> backend.triggerChord(group))).isEqualTo(1);
  }

  /**
   * Of eight members racing for a chord's trigger, one wins; asking again, the winner learns it won
   * before (its worker died before the callback, and a broker that cannot tell a redelivery handed
   * its message to another process as new), and any other member loses.
   */
  @Test
  void theMemberThatTriggeredAChordLearnsItWonBeforeWhenItAsksAgain() throws Exception {
    String group = Uuids.newGroupUuid();
    List<Signature> members = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      members.add(task("add").toBuilder().groupUuid(group).groupTaskCount(8).build());
    }
    backend.initGroup(group, members.stream().map(Signature::uuid).toList());
    for (Signature member : members) {
      backend.setStatePending(member);
      backend.setStateSuccess(member, List.of(TaskResult.of(1L)));
    }
    ExecutorService pool = Executors.newFixedThreadPool(members.size());
    List<Backend.Trigger> answers = new ArrayList<>();
    try {
      List<Callable<Backend.Trigger>> calls = new ArrayList<>();
      for (Signature member : members) {
        calls.add(() -> backend.triggerChord(group, member.uuid()));
      }
      for (Future<Backend.Trigger> answer : pool.invokeAll(calls)) {
        answers.add(answer.get());
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(answers).containsOnlyOnce(Backend.Trigger.WON);
    Signature winner = members.get(answers.indexOf(Backend.Trigger.WON));
    Signature loser = members.get(answers.indexOf(Backend.Trigger.LOST));
    assertThat(backend.triggerChord(group, winner.uuid()))
        .as("the winner, asking again")
        .isEqualTo(keepsChordWinners() ? Backend.Trigger.WON_BEFORE : Backend.Trigger.LOST);
    assertThat(backend.triggerChord(group, loser.uuid())).isEqualTo(Backend.Trigger.LOST);
  }

  /**
   * A winner that releases a chord's trigger hands it back: the next member to ask wins it (and is
   * the one that won before when it asks again), a Go worker's trigger (no member) wins it too, and
   * of eight members racing for a released trigger one wins. Only the member holding the trigger
   * releases it; a release of a group that is gone or not triggered releases nothing.
   */
  @Test
  void theWinnerOfAChordReleasesItsTriggerAndTheNextMemberWinsIt() throws Exception {
    assertThat(backend.releasesChordTriggers())
        .as("releasesChordTriggers()")
        .isEqualTo(releasesChordTriggers());
    String group = Uuids.newGroupUuid();
    List<Signature> members = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      members.add(task("add").toBuilder().groupUuid(group).groupTaskCount(3).build());
    }
    backend.initGroup(group, members.stream().map(Signature::uuid).toList());
    for (Signature member : members) {
      backend.setStatePending(member);
      backend.setStateSuccess(member, List.of(TaskResult.of(1L)));
    }
    String first = members.get(0).uuid();
    String second = members.get(1).uuid();
    if (!releasesChordTriggers()) {
      assertThat(backend.triggerChord(group, first)).isEqualTo(Backend.Trigger.WON);
      assertThatThrownBy(() -> backend.releaseChordTrigger(group, first))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    assertThat(backend.releaseChordTrigger(group, first)).as("not triggered yet").isFalse();
    assertThat(backend.releaseChordTrigger(Uuids.newGroupUuid(), first)).as("no group").isFalse();
    assertThat(backend.triggerChord(group, first)).isEqualTo(Backend.Trigger.WON);
    assertThat(backend.releaseChordTrigger(group, second)).as("held by another").isFalse();
    assertThat(backend.triggerChord(group, second)).isEqualTo(Backend.Trigger.LOST);

    assertThat(backend.releaseChordTrigger(group, first)).isTrue();
    assertThat(backend.releaseChordTrigger(group, first)).as("released already").isFalse();
    assertThat(backend.triggerChord(group, second)).isEqualTo(Backend.Trigger.WON);
    assertThat(backend.triggerChord(group, first))
        .as("the first winner, no longer the winner")
        .isEqualTo(Backend.Trigger.LOST);
    assertThat(backend.triggerChord(group, second)).isEqualTo(Backend.Trigger.WON_BEFORE);

    assertThat(backend.releaseChordTrigger(group, second)).isTrue();
    assertThat(backend.triggerChord(group)).as("a Go worker's trigger, after a release").isTrue();
    assertThat(backend.releaseChordTrigger(group, second))
        .as("held by a Go worker (no member)")
        .isFalse();
    assertThat(backend.triggerChord(group, second)).isEqualTo(Backend.Trigger.LOST);

    String raced = Uuids.newGroupUuid();
    List<Signature> racers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      racers.add(task("add").toBuilder().groupUuid(raced).groupTaskCount(8).build());
    }
    backend.initGroup(raced, racers.stream().map(Signature::uuid).toList());
    for (Signature member : racers) {
      backend.setStatePending(member);
      backend.setStateSuccess(member, List.of(TaskResult.of(1L)));
    }
    assertThat(backend.triggerChord(raced, racers.get(0).uuid())).isEqualTo(Backend.Trigger.WON);
    assertThat(backend.releaseChordTrigger(raced, racers.get(0).uuid())).isTrue();
    java.util.concurrent.atomic.AtomicInteger next =
        new java.util.concurrent.atomic.AtomicInteger();
    assertThat(
            trueForHowManyOfEightRacingCallers(
                () ->
                    backend.triggerChord(raced, racers.get(next.getAndIncrement()).uuid())
                        == Backend.Trigger.WON))
        .isEqualTo(1);
  }

  // ------------------------------------------------------------------------------------------
  // uniqueness keys

  /** A backend sharing the one under test's state: a second one when instances share state. */
  private Backend anotherProcess() {
    return separateInstancesShareState() ? createBackend(config) : backend;
  }

  private void closeIfAnother(Backend other) {
    if (other != backend) {
      other.close();
    }
  }

  /** A fresh uniqueness key past 2,048 bytes, with spaces: a backend with key limits hashes it. */
  private static String uniqueKey() {
    return "report:"
        + java.util.UUID.randomUUID()
        + " with spaces, longer than memcached's keys and DynamoDB's partition keys allow "
        + "x".repeat(2100);
  }

  @Test
  void aUniquenessKeyGoesToTheFirstClaimerAndNamesItToTheOthers() {
    String key = uniqueKey();
    java.time.Duration ttl = java.time.Duration.ofMinutes(1);
    if (!keepsUniqueKeys()) {
      assertThatThrownBy(() -> backend.claimUnique(key, "task_a", ttl))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("uniqueness");
      return;
    }
    Backend other = anotherProcess();
    try {
      assertThat(backend.claimUnique(key, "task_a", ttl)).isEmpty();
      assertThat(other.claimUnique(key, "task_b", ttl)).contains("task_a");
      assertThat(backend.claimUnique(key, "task_a", ttl))
          .as("its holder, again")
          .contains("task_a");
      assertThat(other.claimUnique(key + "2", "task_c", ttl)).as("another key").isEmpty();
    } finally {
      closeIfAnother(other);
    }
  }

  @Test
  void onlyTheHolderOfAUniquenessKeyReleasesIt() {
    if (!keepsUniqueKeys()) {
      return; // refused clearly: see the test above
    }
    String key = uniqueKey();
    java.time.Duration ttl = java.time.Duration.ofMinutes(1);
    Backend other = anotherProcess();
    try {
      assertThat(backend.claimUnique(key, "task_a", ttl)).isEmpty();
      other.releaseUnique(key, "task_b");
      assertThat(other.claimUnique(key, "task_b", ttl))
          .as("released by another")
          .contains("task_a");
      backend.releaseUnique(key, "task_a");
      assertThat(other.claimUnique(key, "task_b", ttl)).as("released by its holder").isEmpty();
      backend.releaseUnique(key, "task_a"); // no longer its holder: nothing happens
      assertThat(backend.claimUnique(key, "task_c", ttl)).contains("task_b");
      other.releaseUnique("never-claimed-" + key, "task_b");
    } finally {
      closeIfAnother(other);
    }
  }

  /** A claim whose task never finished (its worker died, say) lapses after its time to live. */
  @Test
  void aUniquenessKeyLapsesAfterItsTimeToLive() {
    if (!keepsUniqueKeys()) {
      return;
    }
    String key = uniqueKey();
    assertThat(backend.claimUnique(key, "task_a", java.time.Duration.ofMillis(300))).isEmpty();
    Backend other = anotherProcess();
    try {
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(10))
          .pollInterval(java.time.Duration.ofMillis(50))
          .until(() -> other.claimUnique(key, "task_b", java.time.Duration.ofMinutes(1)).isEmpty());
      assertThat(backend.claimUnique(key, "task_c", java.time.Duration.ofMinutes(1)))
          .contains("task_b");
    } finally {
      closeIfAnother(other);
    }
  }

  @Test
  void ofRacingClaimersOfOneUniquenessKeyOneWinsAndTheOthersNameIt() throws Exception {
    if (!keepsUniqueKeys()) {
      return;
    }
    String key = uniqueKey();
    Backend other = anotherProcess();
    int callers = 8;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try {
      List<Callable<java.util.Optional<String>>> calls = new ArrayList<>();
      for (int i = 0; i < callers; i++) {
        Backend claimer = i % 2 == 0 ? backend : other;
        String task = "task_" + i;
        calls.add(() -> claimer.claimUnique(key, task, java.time.Duration.ofMinutes(1)));
      }
      List<String> winners = new ArrayList<>();
      java.util.Set<String> named = new java.util.HashSet<>();
      List<Future<java.util.Optional<String>>> answers = pool.invokeAll(calls);
      for (int i = 0; i < callers; i++) {
        java.util.Optional<String> holder = answers.get(i).get();
        if (holder.isEmpty()) {
          winners.add("task_" + i);
        } else {
          named.add(holder.get());
        }
      }
      assertThat(winners).hasSize(1);
      assertThat(named).containsExactlyElementsOf(winners);
    } finally {
      pool.shutdownNow();
      closeIfAnother(other);
    }
  }

  /** Calls {@code call} from eight threads at once; returns how many calls answered true. */
  private static long trueForHowManyOfEightRacingCallers(Callable<Boolean> call) throws Exception {
    int callers = 8;
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    try {
      long yes = 0;
      for (Future<Boolean> result : pool.invokeAll(java.util.Collections.nCopies(callers, call))) {
        if (result.get()) {
          yes++;
        }
      }
      return yes;
    } finally {
      pool.shutdownNow();
    }
  }
}
