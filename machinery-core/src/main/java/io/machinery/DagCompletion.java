package io.machinery;

import io.machinery.spi.Backend;
import io.machinery.wire.LogText;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a DAG task's dependents once it finished ({@link Dag}).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Success.</b> Once every dependency of a dependent has SUCCESS, it completes as a chord
 *       callback whose group is its dependencies ({@link DagHeader#joinGroup}, recorded when the
 *       DAG was sent): the {@link ChordCompletion} of a view of this task as a member of that
 *       group. So one of the dependencies that see all others done wins the trigger and sends it,
 *       with their results in its order, and a re-run of a winner that died before sending sends it
 *       (at least once, deduplicated as chord callbacks are). A dependent that already has a
 *       finished state is left alone; when that is a FAILURE it never ran with (cancelled before it
 *       was sent), its own dependents get FAILURE.
 *   <li><b>Failure.</b> Every task that depends on this one, directly or not, cannot run: each gets
 *       FAILURE at once, {@value #DEPENDENCY_FAILED} and the reason, where it has no state or
 *       PENDING (a re-run that fails after an earlier run succeeded does not overwrite what its
 *       dependents did since). The other branches go on. When the failed task runs again and
 *       succeeds (a worker that keeps failed tasks dead-lettered, requeued by an operator), a
 *       dependent with that FAILURE is started as if it had none (the FAILURE is cleared first),
 *       once its other dependencies succeeded: the DAG resumes from the failed task, as a chain
 *       does.
 *   <li><b>Bad input.</b> A header that is not a DAG, or that does not list this task, starts
 *       nothing: the task's own outcome stands and an error names it. So does a backend whose reads
 *       consume states (Go's AMQP backend), where reading a dependent's state would take it from a
 *       waiting client; {@code sendDag} refuses such a backend.
 * </ul>
 *
 * <p>Each step is one of the execution's bookkeeping steps, on the delivery thread.
 */
final class DagCompletion {
  private static final Logger log = LoggerFactory.getLogger(DagCompletion.class);

  /** How the error of a task that never ran because a dependency failed begins. */
  static final String DEPENDENCY_FAILED = "a dependency failed: ";

  private DagCompletion() {}

  /** Starts the dependents of {@code signature}, which succeeded, whose dependencies all did. */
  static void succeeded(
      TaskExecution execution, Backend backend, Signature signature, boolean possiblyRerun) {
    Located dag = locate(execution, backend, signature).orElse(null);
    if (dag == null) {
      return;
    }
    // A task with dependencies was sent by a worker, at least once: another copy of it may have
    // run, even on its first delivery. When that copy finished while this one was running, the
    // dependency that won the trigger found this one running. Where the backend releases triggers,
    // that winner released it, so this copy wins it as any member does (and a copy that finds
    // the trigger held by this task's UUID learns it won before). Elsewhere the winner left the
    // dependent to this copy, which, like a re-run, must check whether it was sent (seen in
    // DagKillKit on AMQP + Redis: a join of joins lost); that check can race a live winner still
    // sending it, so it is made only there.
    boolean mayBeACopy =
        possiblyRerun
            || (dag.header().dependencyCount(dag.index()) > 0 && !backend.releasesChordTriggers());
    for (int dependent : dag.header().dependents(dag.index())) {
      if (!othersSucceeded(execution, backend, dag, dependent, signature.uuid())) {
        continue; // the last of them starts it; a failed one failed it
      }
      Signature task = dag.task(dependent).orElse(null);
      if (task == null) {
        continue;
      }
      Optional<TaskState> state = stateOf(execution, backend, task.uuid());
      if (state.filter(TaskState::isCompleted).isPresent()) {
        TaskState finished = state.get();
        if (finished.isSuccess()) {
          continue;
        }
        if (!finished.error().startsWith(DEPENDENCY_FAILED)) {
          // it failed without running (cancelled before it was sent): its own dependents fail too
          failDescendants(execution, backend, dag, dependent, task.uuid(), finished.error());
          continue;
        }
        // it failed because a dependency had, which has run again since (a kept failure
        // requeued): resuming, the FAILURE goes, so that the dependent is pending again and, as
        // for any join, only a state stored after its publish proves it was sent (with it, a
        // dependency that lost the trigger to another resumed one that then died would take it as
        // sent)
        execution.step(
            "clearing the FAILURE of DAG task " + LogText.of(task.uuid()),
            () -> backend.purgeState(task.uuid()));
      }
      Signature member =
          signature.toBuilder()
              .groupUuid(DagHeader.joinGroup(task.uuid()))
              .groupTaskCount(dag.header().dependencyCount(dependent))
              .build();
      new ChordCompletion(execution, backend, member, mayBeACopy).complete(task, null);
    }
  }

  /** Stores FAILURE for every task that depends on {@code signature}, which failed for good. */
  static void failed(TaskExecution execution, Backend backend, Signature signature, String error) {
    Located dag = locate(execution, backend, signature).orElse(null);
    if (dag != null) {
      failDescendants(execution, backend, dag, dag.index(), signature.uuid(), error);
    }
  }

  /**
   * Whether every dependency of {@code dependent} but the one that just succeeded has SUCCESS. A
   * dependency without a state has not run yet (DAG tasks get PENDING only when they are sent), so
   * asking the backend whether the join group completed would find it missing. One read per
   * dependency, up to the first that has not succeeded, from the last: dependencies sent in order
   * tend to finish in order, so all but the last to finish stop at their first read (from the
   * first, a join of k tasks run in order would cost k²/2 reads).
   */
  private static boolean othersSucceeded(
      TaskExecution execution, Backend backend, Located dag, int dependent, String finished) {
    List<String> dependencies = dag.header().dependencyUuids(dependent);
    for (String uuid : dependencies.reversed()) {
      if (!uuid.equals(finished)
          && !stateOf(execution, backend, uuid).filter(TaskState::isSuccess).isPresent()) {
        return false;
      }
    }
    return true;
  }

  private static void failDescendants(
      TaskExecution execution,
      Backend backend,
      Located dag,
      int failed,
      String failedUuid,
      String error) {
    String reason =
        DEPENDENCY_FAILED
            + "DAG task "
            + dag.header().name(failed)
            + " ("
            + failedUuid
            + ") failed: "
            + error;
    for (int descendant : dag.header().descendants(failed)) {
      Signature task = dag.task(descendant).orElse(null);
      if (task == null
          || stateOf(execution, backend, task.uuid())
              .filter(s -> s.state() != State.PENDING)
              .isPresent()) {
        continue;
      }
      log.warn(
          "DAG task {} {} will not run: {}",
          LogText.of(task.name()),
          LogText.of(task.uuid()),
          LogText.of(reason));
      execution.step(
          "storing FAILURE for DAG task " + LogText.of(task.uuid()),
          () -> backend.setStateFailure(task, reason));
    }
  }

  private static Optional<TaskState> stateOf(
      TaskExecution execution, Backend backend, String taskUuid) {
    return execution.step(
        "reading the state of DAG task " + LogText.of(taskUuid), () -> backend.getState(taskUuid));
  }

  /** The finished task's DAG and its node there. */
  private record Located(Signature finished, DagHeader header, int index) {
    /** A node's task as it is sent; empty (and an error logged) when it cannot be read. */
    Optional<Signature> task(int node) {
      try {
        return Optional.of(header.task(node));
      } catch (RuntimeException e) {
        unreadable(finished, e);
        return Optional.empty();
      }
    }
  }

  private static Optional<Located> locate(
      TaskExecution execution, Backend backend, Signature signature) {
    if (!signature.headers().containsKey(DagHeader.HEADER)) {
      return Optional.empty();
    }
    DagHeader header;
    try {
      header = execution.dagHeader().orElseThrow();
    } catch (RuntimeException e) {
      unreadable(signature, e);
      return Optional.empty();
    }
    int index = header.indexOf(signature.uuid());
    if (index < 0) {
      unreadable(signature, new MalformedMessageException("the DAG has no node for this task"));
      return Optional.empty();
    }
    if (backend.consumesStatesOnRead()) {
      log.error(
          "Task {} {} is part of a DAG, but this result backend's reads consume states; its dependents"
              + " are not started",
          LogText.of(signature.name()),
          LogText.of(signature.uuid()));
      return Optional.empty();
    }
    return Optional.of(new Located(signature, header, index));
  }

  private static void unreadable(Signature signature, RuntimeException e) {
    log.error(
        "Task {} {} carries a DAG its worker cannot read ({}); its dependents are not started",
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        LogText.of(e.getMessage()));
  }
}
