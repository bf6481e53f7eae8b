package io.machinery;

import io.machinery.spi.Backend;
import io.machinery.wire.LogText;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Completes a chord after one of its members finished: Go's chord trigger, made at-least-once.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>The winner fires.</b> The member that finds the group completed and wins {@code
 *       triggerChord} reads the states in group order and publishes the callback with the results
 *       appended (unless it is immutable), or stores FAILURE for it when a member did not succeed
 *       (beyond Go, so waiting clients learn it), after sending the chord's error callback with
 *       every failed member's error when it has one ({@link ChordErrors}).
 *   <li><b>A lost callback is sent by a re-run, a sent one is not.</b> The trigger flag is stored
 *       before the callback is published, so a worker that dies in between leaves a triggered chord
 *       without a callback. A member that may be a re-run (redelivered, or requeued by a worker)
 *       and loses the trigger therefore checks whether the callback was published; otherwise this
 *       member sends it. Where the backend can store PENDING only where there is no state ({@link
 *       Backend#storesPendingIfAbsent}: every backend here but AMQP's), the winner publishes the
 *       callback first and stores its PENDING after, so any state proves the publish and a callback
 *       queued behind a long backlog is not sent again by every redelivered member (a kill test on
 *       Redis, 1,000 chords: 628 to 1,062 duplicate callback runs when PENDING did not count, 21 in
 *       43 kills after). Elsewhere PENDING is stored first, as Go does, and only a state beyond
 *       PENDING proves the publish. Go winners store PENDING first too: in a pool with Go workers,
 *       a Go worker that dies between its PENDING write and its publish leaves the callback unsent,
 *       as it would in a Go-only pool. A callback has a deterministic UUID, so a duplicate is
 *       visible as such. Members that lose the trigger on their first delivery do not check (that
 *       is the ordinary race between members), unless the backend says this very member won it
 *       before ({@code Backend.Trigger.WON_BEFORE}: every backend but AMQP's keeps the winner): a
 *       broker that cannot tell a redelivery (Pub/Sub without a dead-letter policy) hands a dead
 *       winner's member back to another process as a first delivery.
 *   <li><b>A member running again gets the trigger back.</b> The winner reads the states and may
 *       find a member running again (its message redelivered, or a second copy of a DAG task),
 *       whose results it cannot send. Where the backend releases triggers ({@link
 *       Backend#releasesChordTriggers}: every backend here but AMQP's), the winner releases it and
 *       checks the group again, so the running member wins the trigger when it finishes, and a
 *       member that finished in between (and lost to this winner) is covered by the check. So a
 *       member that loses the trigger never has to suspect that the winner left the callback to it,
 *       and does not race a live winner that is still sending (a DAG join ran twice so). Elsewhere
 *       the winner keeps the trigger and leaves the callback to the running member, which checks
 *       for it as a re-run does.
 *   <li><b>Backends whose reads consume states</b> (Go's AMQP backend) cannot be asked whether the
 *       callback was sent without taking its state away from a client. There the backend may keep
 *       the states until {@code purgeGroupMeta}, which runs only after the callback was settled; a
 *       possible re-run asks the trigger even when the group looks incomplete (the winner drained
 *       it), and the trigger hands it the kept states when the callback was never sent (the AMQP
 *       backend's {@code ChordTrigger}). A missing group after a lost trigger is taken as the
 *       winner's purge, and a member that cannot tell is dead-lettered rather than acknowledged
 *       when its backend keeps failing.
 *   <li><b>Terminal failures.</b> A group whose meta or states are gone from the backend (expired,
 *       evicted, purged: "Group not found" / "Task not found"), or that still cannot be read after
 *       the bookkeeping attempts, cannot complete: FAILURE is stored for the callback, unless the
 *       callback already has a state (then another member fired it, and purged the group), and the
 *       member is acknowledged. So does a chord whose member carries a {@code GroupTaskCount} of 0
 *       or less (a foreign producer's message): Go's backends compare the number of finished
 *       members with it, so a Go worker never fires such a chord, and neither did most backends
 *       here (the AMQP backend fired one with a negative count at its first member); each such
 *       member stores FAILURE for the callback with the reason, whatever the backend.
 * </ul>
 *
 * <p>Each step is one of the execution's bookkeeping steps (retried with back-off, stopped when the
 * run is abandoned). One instance per completion, on the delivery thread.
 */
final class ChordCompletion {
  private static final Logger log = LoggerFactory.getLogger(TaskExecution.class);

  /** How many times a winner releases a chord's trigger and wins it again, at most. */
  private static final int RELEASE_ROUNDS = 8;

  private final TaskExecution execution;
  private final Backend backend;
  private final Signature signature;
  private final boolean possiblyRerun;

  ChordCompletion(
      TaskExecution execution, Backend backend, Signature signature, boolean possiblyRerun) {
    this.execution = execution;
    this.backend = backend;
    this.signature = signature;
    this.possiblyRerun = possiblyRerun;
  }

  /**
   * @param knownFailure this member's own FAILURE (the failure path), or null to read the group's
   *     states
   */
  void complete(Signature chordCallback, @Nullable TaskState knownFailure) {
    // a callback without a UUID (Go's sender gives it one when it sends it): one now, so that its
    // states have a key
    Signature callback =
        chordCallback.uuid().isEmpty()
            ? chordCallback.toBuilder().uuid(io.machinery.wire.Uuids.newTaskUuid()).build()
            : chordCallback;
    String group = signature.groupUuid();
    int count = signature.groupTaskCount();
    if (count <= 0) {
      callbackWillNotRun(
          callback,
          "chord group "
              + group
              + " cannot complete: member "
              + signature.uuid()
              + " carries GroupTaskCount "
              + count
              + ", not its group's size");
      return;
    }
    try {
      boolean completed =
          execution.chordStep(
              "checking chord group completion", () -> backend.groupCompleted(group, count));
      // Where the winner's read drained the group, a re-run of a dead winner's member finds it
      // incomplete; the
      // backend's trigger may still hand it the states it kept (the AMQP backend's ChordTrigger).
      if (!completed && !(possiblyRerun && backend.consumesStatesOnRead())) {
        return;
      }
      Backend.Trigger trigger =
          execution.chordStep(
              "triggering the chord", () -> backend.triggerChord(group, signature.uuid()));
      if (trigger != Backend.Trigger.WON) {
        // A member that won before is back although its broker may not say so (see
        // Backend#triggerChord(String, String)): it may be the re-run of a dead winner.
        boolean mayBeAnUnsentWin = possiblyRerun || trigger == Backend.Trigger.WON_BEFORE;
        if (!mayBeAnUnsentWin || callbackPublished(callback).orElse(true)) {
          return; // another worker completes this chord (or, where reads consume states, we cannot
          // tell)
        }
        log.warn(
            "Chord group {} was triggered but its callback {} was never sent (the triggering worker stopped"
                + " before sending it?); sending it now",
            LogText.of(group),
            LogText.of(callback.uuid()));
      }
    } catch (TaskExecution.GroupMissing | TaskExecution.BookkeepingFailed e) {
      chordGaveUp(callback, e, false);
      return;
    }
    boolean fired = false;
    try {
      fired = fireAsWinner(callback, knownFailure);
    } finally {
      // Only the worker that triggered the chord purges (Go purges on every completion, which can
      // delete the
      // states before the winner reads them), and only once the callback is settled: the purge
      // drops the copy
      // of the states a re-run would recover from.
      if (fired && backend.consumesStatesOnRead() && !execution.isAbandoned()) {
        try {
          backend.purgeGroupMeta(group);
        } catch (RuntimeException e) {
          log.warn("Could not purge chord group {}: {}", LogText.of(group), e.toString());
        }
      }
    }
  }

  /**
   * Fires the chord this member won. Where a member is running again and the backend releases
   * triggers, the trigger goes back and the group is checked again: a member that finished in
   * between lost the trigger to this one and left, so this one (or another) wins it again and
   * fires; otherwise the running member wins it when it finishes. Each further round needs a
   * member's state to go from finished to running again between two reads; after {@value
   * #RELEASE_ROUNDS} the trigger stays released for the running members.
   *
   * @return true if the chord was fired by this member
   */
  private boolean fireAsWinner(Signature callback, @Nullable TaskState knownFailure) {
    String group = signature.groupUuid();
    for (int round = 1; ; round++) {
      if (fireChord(callback, knownFailure)) {
        return true;
      }
      if (!backend.releasesChordTriggers()) {
        return false; // the trigger stays ours: the running member checks the callback when it ends
      }
      try {
        // Its answer does not matter: this member held the trigger, so false only means that the
        // release was tried again after its reply was lost, or that the backend refused (DynamoDB
        // while a Go worker holds Go's Lock: that worker sends the callback). The check below
        // holds either way: the trigger still held comes back as WON_BEFORE, not WON.
        execution.chordStep(
            "releasing the chord trigger",
            () -> backend.releaseChordTrigger(group, signature.uuid()));
        if (round == RELEASE_ROUNDS) {
          log.warn(
              "Chord group {}: its members kept running again while it was fired ({} rounds); the"
                  + " trigger is left released for them",
              LogText.of(group),
              round);
          return false;
        }
        boolean completed =
            execution.chordStep(
                "checking chord group completion",
                () -> backend.groupCompleted(group, signature.groupTaskCount()));
        if (!completed
            || execution.chordStep(
                    "triggering the chord", () -> backend.triggerChord(group, signature.uuid()))
                != Backend.Trigger.WON) {
          return false; // a running member wins it when it finishes, or another member won it
        }
      } catch (TaskExecution.GroupMissing | TaskExecution.BookkeepingFailed e) {
        chordGaveUp(callback, e, false);
        return false;
      }
    }
  }

  /**
   * Sends the callback with the group's results, or the error callback and FAILURE for it; false
   * when a member is running again (its redelivered message overwrote SUCCESS with RECEIVED or
   * STARTED): that member completes the chord when it finishes (it loses the trigger, finds the
   * callback unpublished and sends it). Taking its state for a failure stored FAILURE for callbacks
   * whose members all succeeded (seen in the chord kill test).
   */
  private boolean fireChord(Signature callback, @Nullable TaskState knownFailure) {
    Optional<Signature> onError = ChordErrors.of(callback, execution.config());
    if (knownFailure != null && onError.isEmpty()) {
      chordFailed(callback, List.of(knownFailure), onError);
      return true;
    }
    String group = signature.groupUuid();
    List<TaskState> states;
    try {
      // with an error callback, a failure reads every member, so the callback gets all the errors
      states =
          execution.chordStep(
              "reading chord group states",
              () -> backend.groupTaskStates(group, signature.groupTaskCount()));
    } catch (TaskExecution.GroupMissing | TaskExecution.BookkeepingFailed e) {
      if (knownFailure != null) {
        log.warn(
            "Chord group {}: could not read the other members' states ({}); the error callback gets this"
                + " member's error only",
            LogText.of(group),
            e.getMessage());
        chordFailed(callback, List.of(knownFailure), onError);
      } else {
        chordGaveUp(callback, e, true);
      }
      return true;
    }
    List<Arg> args = new ArrayList<>();
    List<TaskState> failed = new ArrayList<>();
    for (TaskState state : states) {
      if (!state.isCompleted()) {
        log.info(
            "Chord group {}: member {} is {} (running again); it sends callback {} when it finishes",
            LogText.of(group),
            LogText.of(state.taskUuid()),
            state.state(),
            LogText.of(callback.uuid()));
        return false;
      }
      if (!state.isSuccess()) {
        failed.add(state);
      }
      for (TaskResult result : state.results()) {
        args.add(result.toArg());
      }
    }
    if (!failed.isEmpty()) {
      chordFailed(callback, failed, onError);
      return true;
    }
    Signature sent = ChordErrors.withoutErrorCallback(callback);
    execution.sendChordCallback(sent.immutable() ? sent : sent.toBuilder().addArgs(args).build());
    return true;
  }

  /**
   * Whether the callback was surely published. Where the backend stores PENDING only where there is
   * no state, the winner publishes first and stores PENDING after: any state proves the publish.
   * Elsewhere {@code sendTask} stores PENDING before it publishes, so a winner killed in between
   * leaves PENDING and no message (seen in the chord kill test: one callback of 200 lost); only a
   * state beyond PENDING proves the publish there, and a PENDING callback is sent again, which may
   * run it twice (its UUID shows the duplicate) but never zero times. Empty where reading a state
   * would consume it.
   */
  private Optional<Boolean> callbackPublished(Signature callback) {
    if (backend.consumesStatesOnRead()) {
      return Optional.empty();
    }
    Optional<TaskState> state =
        execution.step(
            "reading the chord callback's state", () -> backend.getState(callback.uuid()));
    if (backend.storesPendingIfAbsent()) {
      return Optional.of(state.isPresent());
    }
    return Optional.of(state.filter(s -> s.state() != State.PENDING).isPresent());
  }

  /**
   * Whether the callback was sent (it has a state); empty where reading a state would consume it
   * (Go's AMQP backend), so the check could take the state a client is waiting for.
   */
  private Optional<Boolean> callbackSent(Signature callback) {
    if (backend.consumesStatesOnRead()) {
      return Optional.empty();
    }
    Optional<TaskState> state =
        execution.step(
            "reading the chord callback's state", () -> backend.getState(callback.uuid()));
    return Optional.of(state.isPresent());
  }

  /**
   * The group failed: the error callback, if any, is sent first, then FAILURE is stored for the
   * chord callback. In that order, a worker that dies in between leaves the chord callback without
   * a state, so a re-run of a member finds the chord unfinished and completes it again (the error
   * callback at least once), instead of finding FAILURE and leaving the error callback unsent.
   */
  private void chordFailed(
      Signature callback, List<TaskState> failed, Optional<Signature> onError) {
    String error = ChordErrors.failureText(signature.groupUuid(), failed);
    log.warn(
        "Chord callback {} {} will not run: {}",
        LogText.of(callback.name()),
        LogText.of(callback.uuid()),
        LogText.of(error));
    onError.ifPresent(
        cb -> execution.sendCallback(ChordErrors.callbackFor(cb, failed), "chord error callback"));
    execution.step(
        "storing FAILURE for the chord callback", () -> backend.setStateFailure(callback, error));
  }

  /**
   * The chord can never complete: says why and stores FAILURE for its callback with the reason (a
   * member whose message makes it impossible calls this whether or not another did before: each
   * stores the same FAILURE).
   */
  private void callbackWillNotRun(Signature callback, String error) {
    log.error(
        "Chord callback {} {} will not run: {}",
        LogText.of(callback.name()),
        LogText.of(callback.uuid()),
        LogText.of(error));
    execution.step(
        "storing FAILURE for the chord callback", () -> backend.setStateFailure(callback, error));
  }

  /**
   * The chord cannot be completed: FAILURE for its callback, unless another member may have sent
   * it. The winner of the trigger ({@code won}) is the only one who could have. Otherwise a
   * callback with a state was sent; where that cannot be checked, a missing group is the ordinary
   * sign that the winner finished and purged it (nothing to do), and a backend that keeps failing
   * leaves the member to be dead-lettered.
   */
  private void chordGaveUp(Signature callback, RuntimeException cause, boolean won) {
    String group = signature.groupUuid();
    if (!won) {
      Optional<Boolean> sent = callbackSent(callback);
      if (sent.orElse(false)) {
        log.debug(
            "Chord group {}: {}; its callback {} already has a state",
            LogText.of(group),
            cause.getMessage(),
            LogText.of(callback.uuid()));
        return;
      }
      if (sent.isEmpty()) {
        if (cause instanceof TaskExecution.BookkeepingFailed failed) {
          throw failed;
        }
        log.debug(
            "Chord group {} is gone ({}); its winner purged it",
            LogText.of(group),
            cause.getMessage());
        return;
      }
    }
    String error =
        cause instanceof TaskExecution.GroupMissing
            ? "chord group "
                + group
                + " is gone from the result backend (expired or purged): "
                + cause.getMessage()
            : "chord group " + group + " could not be completed: " + cause.getMessage();
    callbackWillNotRun(callback, error);
  }
}
