package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.FaultyBackend.Op;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.NullBackend;
import io.machinery.spi.Backend;
import io.machinery.spi.Backend.Trigger;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * {@link MigratingBackend} on two memory backends: what it writes, where it reads, and which
 * decisions the old backend takes. The worker-level scenarios (processes on both sides of a move)
 * are in the test kit's {@code BackendMigrationKit}.
 */
class MigratingBackendTest {
  private final MemoryBackend old = MemoryBackend.create();
  private final MemoryBackend fresh = MemoryBackend.create();
  private final MigratingBackend migrating = MigratingBackend.of(old, fresh);

  private static Signature task() {
    return Signature.builder("add").uuid("task_" + UUID.randomUUID()).build();
  }

  private static State stateIn(Backend backend, Signature task) {
    return backend.getState(task.uuid()).orElseThrow().state();
  }

  @Test
  void everyStateWrittenThroughItReachesBothBackends() {
    Signature task = task();
    migrating.setStatePendingAsync(task).join();
    assertThat(stateIn(old, task)).isEqualTo(State.PENDING);
    assertThat(stateIn(fresh, task)).isEqualTo(State.PENDING);
    migrating.setStateReceivedAsync(task).join();
    migrating.setStateStartedAsync(task).join();
    assertThat(stateIn(fresh, task)).isEqualTo(State.STARTED);
    migrating.setStateSuccess(task, List.of(TaskResult.of(5L)));
    assertThat(old.getState(task.uuid()).orElseThrow().results())
        .isEqualTo(fresh.getState(task.uuid()).orElseThrow().results())
        .hasSize(1);
    Signature failed = task();
    migrating.setStateFailure(failed, "boom");
    assertThat(fresh.getState(failed.uuid()).orElseThrow().error()).isEqualTo("boom");
    migrating.purgeState(task.uuid());
    assertThat(old.getState(task.uuid())).isEmpty();
    assertThat(fresh.getState(task.uuid())).isEmpty();
  }

  @Test
  void readsComeFromTheOldBackendWhereProcessesNotYetMovedWrite() {
    Signature task = task();
    migrating.setStatePending(task); // a moved producer sent it
    old.setStateSuccess(task, List.of(TaskResult.of(1L))); // a worker not yet moved ran it
    assertThat(migrating.getState(task.uuid()).orElseThrow().state())
        .as("the old backend's outcome, not the new one's stale PENDING")
        .isEqualTo(State.SUCCESS);
    assertThat(stateIn(fresh, task)).isEqualTo(State.PENDING);
  }

  @Test
  void readsFallBackToTheNewBackendWhereTheOldHasNothing() {
    Signature task = task();
    migrating.setStateSuccess(task, List.of(TaskResult.of(1L)));
    old.purgeState(task.uuid()); // expired or purged there first
    assertThat(migrating.getState(task.uuid()).orElseThrow().state()).isEqualTo(State.SUCCESS);
    assertThat(migrating.getState("task_unknown")).isEmpty();

    migrating.initGroup("group_1", List.of(task.uuid()));
    old.purgeGroupMeta("group_1");
    assertThat(migrating.groupCompleted("group_1", 1)).isTrue();
    assertThat(migrating.groupTaskStates("group_1", 1)).hasSize(1);
    assertThatThrownBy(() -> migrating.groupCompleted("group_unknown", 1))
        .isInstanceOf(StateNotFoundException.class);
  }

  @Test
  void theOldBackendDecidesAChordTriggerAndAWinIsCopiedToTheNewOne() {
    migrating.initGroup("group_2", List.of("member_a", "member_b"));
    assertThat(old.triggerChord("group_2", "member_a"))
        .as("a process not yet moved wins")
        .isEqualTo(Trigger.WON);
    assertThat(migrating.triggerChord("group_2", "member_b")).isEqualTo(Trigger.LOST);
    assertThat(migrating.triggerChord("group_2", "member_a")).isEqualTo(Trigger.WON_BEFORE);
    assertThat(fresh.triggerChord("group_2", "member_c"))
        .as("member_a's win, learnt by the moved process, was copied")
        .isEqualTo(Trigger.LOST);
    assertThat(fresh.triggerChord("group_2", "member_a")).isEqualTo(Trigger.WON_BEFORE);

    migrating.initGroup("group_3", List.of("member_a"));
    assertThat(migrating.triggerChord("group_3", "member_a")).isEqualTo(Trigger.WON);
    assertThat(fresh.triggerChord("group_3", "member_a")).isEqualTo(Trigger.WON_BEFORE);
    migrating.initGroup("group_4", List.of("member_a"));
    assertThat(migrating.triggerChord("group_4")).isTrue();
    assertThat(fresh.triggerChord("group_4")).as("copied").isFalse();
  }

  @Test
  void aCopyThatFailsDoesNotFailTheOldBackendsDecision() {
    FaultyBackend failing = new FaultyBackend(MemoryBackend.create()).failing(Op.TRIGGER, 1);
    try (MigratingBackend withFailingCopy = MigratingBackend.of(old, failing)) {
      withFailingCopy.initGroup("group_5", List.of("member_a"));
      assertThat(withFailingCopy.triggerChord("group_5", "member_a")).isEqualTo(Trigger.WON);
      assertThat(failing.calls(Op.TRIGGER)).isEqualTo(1);
    }
  }

  @Test
  void aStateWriteThatFailsOnEitherSideFails() {
    FaultyBackend failingNew = new FaultyBackend(MemoryBackend.create()).failing(Op.SUCCESS, 1);
    MigratingBackend toFailing = MigratingBackend.of(MemoryBackend.create(), failingNew);
    assertThatThrownBy(() -> toFailing.setStateSuccess(task(), List.of()))
        .isInstanceOf(MachineryException.class);
    FaultyBackend failingOld = new FaultyBackend(MemoryBackend.create()).failing(Op.RECEIVED, 1);
    MemoryBackend untouched = MemoryBackend.create();
    MigratingBackend fromFailing = MigratingBackend.of(failingOld, untouched);
    Signature task = task();
    assertThat(fromFailing.setStateReceivedAsync(task)).isCompletedExceptionally();
  }

  @Test
  void pendingIfAbsentIsDecidedByTheOldBackend() {
    Signature taken = task();
    old.setStateReceived(taken); // a worker not yet moved took it
    assertThat(migrating.storesPendingIfAbsent()).isTrue();
    assertThat(migrating.setStatePendingIfAbsent(taken)).isFalse();
    assertThat(fresh.getState(taken.uuid())).isEmpty();
    Signature callback = task();
    assertThat(migrating.setStatePendingIfAbsent(callback)).isTrue();
    assertThat(stateIn(fresh, callback)).isEqualTo(State.PENDING);

    FaultyBackend failingCopy =
        new FaultyBackend(MemoryBackend.create()).failing(Op.PENDING_IF_ABSENT, 1);
    Signature another = task();
    assertThat(MigratingBackend.of(old, failingCopy).setStatePendingIfAbsent(another))
        .as("a copy that fails does not fail the decision: a retry would be told no")
        .isTrue();
    assertThat(stateIn(old, another)).isEqualTo(State.PENDING);
  }

  @Test
  void uniquenessClaimsAreDecidedByTheOldBackendAndCopied() {
    Duration ttl = Duration.ofMinutes(1);
    assertThat(old.claimUnique("report", "task_old", ttl)).isEmpty();
    assertThat(migrating.claimUnique("report", "task_moved", ttl)).contains("task_old");
    assertThat(fresh.claimUnique("report", "task_probe", ttl))
        .as("a claim this process lost is not copied")
        .isEmpty();
    fresh.releaseUnique("report", "task_probe");

    assertThat(migrating.claimUnique("invoice", "task_moved", ttl)).isEmpty();
    assertThat(fresh.claimUnique("invoice", "task_probe", ttl)).contains("task_moved");
    migrating.releaseUnique("invoice", "task_moved");
    assertThat(old.claimUnique("invoice", "task_next", ttl)).isEmpty();
    assertThat(fresh.claimUnique("invoice", "task_next", ttl)).isEmpty();
  }

  @Test
  void progressGoesToEachBackendThatKeepsIt() {
    TaskProgress report = TaskProgress.of(1, 2, "half", Instant.parse("2026-12-05T00:00:00Z"));
    try (MigratingBackend toMemory = MigratingBackend.of(NullBackend.create(), fresh)) {
      toMemory.setProgress("task_p", report);
      assertThat(toMemory.getProgress("task_p")).contains(report);
    }
    migrating.setProgress("task_q", report);
    assertThat(old.getProgress("task_q")).contains(report);
    assertThat(fresh.getProgress("task_q")).contains(report);
    try (MigratingBackend neither =
        MigratingBackend.of(NullBackend.create(), NullBackend.create())) {
      assertThatThrownBy(() -> neither.setProgress("task_r", report))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("neither");
      assertThatThrownBy(() -> neither.getProgress("task_r"))
          .isInstanceOf(UnsupportedOperationException.class);
    }
  }

  @Test
  void theNewBackendsCopyOfPendingNeverReplacesALaterStateSoSendsKeepTheOldConnectionsOrder() {
    Signature task = task();
    fresh.setStateReceived(task); // a worker's state landed before the copy of PENDING
    migrating.setStatePendingAsync(task).join();
    assertThat(stateIn(old, task)).isEqualTo(State.PENDING);
    assertThat(stateIn(fresh, task)).as("the late copy left it").isEqualTo(State.RECEIVED);
    Signature second = task();
    Signature third = task();
    migrating.setStatePendingAllAsync(List.of(second, third)).join();
    assertThat(stateIn(fresh, third)).isEqualTo(State.PENDING);

    Object connection = new Object();
    assertThat(
            MigratingBackend.of(new FaultyBackend(old).writingOn(connection), fresh).writeOrder())
        .as("a broker on the old backend's connection still pipelines PENDING and the publish")
        .containsSame(connection);
    assertThat(
            MigratingBackend.of(
                    new FaultyBackend(old).writingOn(connection),
                    new FaultyBackend(fresh).withoutPendingIfAbsent())
                .writeOrder())
        .as("a new backend that cannot write PENDING only where there is none: sends wait")
        .isEmpty();
  }

  @Test
  void theControlPlaneIsTheOldBackendsAndEitherSideConsumingItsReadsMakesTheWorkerCareful() {
    assertThat(migrating.controlPlane()).isEqualTo(old.controlPlane());
    assertThat(migrating.consumesStatesOnRead()).isFalse();
    assertThat(MigratingBackend.of(old, new FaultyBackend(fresh).consumingReads()))
        .extracting(Backend::consumesStatesOnRead)
        .as("either side consuming its reads makes the worker careful")
        .isEqualTo(true);
    assertThatThrownBy(() -> MigratingBackend.of(old, old))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
