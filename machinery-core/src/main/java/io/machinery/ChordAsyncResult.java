package io.machinery;

import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The handle to a chord's results: Go's {@code ChordAsyncResult}. {@link #get} waits for the group,
 * then for the callback. Unlike Go, failed group members fail the wait with a {@link
 * ChordFailedException} listing every failed member's error instead of blocking forever (the worker
 * also marks the callback FAILURE and sends the chord's error callback, {@link
 * Chord#withErrorCallback}). Thread-safe.
 */
public final class ChordAsyncResult {
  private final List<AsyncResult> groupResults;
  private final AsyncResult callbackResult;
  private final java.util.Optional<AsyncResult> errorCallbackResult;

  ChordAsyncResult(List<Signature> groupTasks, Signature callback, Backend backend) {
    List<AsyncResult> list = new ArrayList<>(groupTasks.size());
    for (Signature task : groupTasks) {
      list.add(new AsyncResult(task, backend));
    }
    this.groupResults = List.copyOf(list);
    this.callbackResult = new AsyncResult(callback, backend);
    this.errorCallbackResult =
        ChordErrors.of(callback, io.machinery.config.Config.DEFAULT)
            .map(cb -> new AsyncResult(cb, backend));
  }

  /**
   * Returns the handle to the chord's error callback, which a worker sends when the group completes
   * with failed members.
   *
   * @return the error callback's handle; empty when the chord has none
   */
  public java.util.Optional<AsyncResult> errorCallbackResult() {
    return errorCallbackResult;
  }

  /**
   * Returns the UUIDs of the chord's tasks, for {@link Server#cancel}: the members and the
   * callback, not the error callback, so a cancelled chord still runs its error callback (with the
   * members' "cancelled").
   *
   * @return the UUIDs, members in group order first
   */
  public List<String> taskUuids() {
    List<String> uuids = new ArrayList<>(groupResults.size() + 1);
    groupResults.forEach(r -> uuids.add(r.taskUuid()));
    uuids.add(callbackResult.taskUuid());
    return uuids;
  }

  /**
   * Returns one handle per group member.
   *
   * @return the handles, in the group's order
   */
  public List<AsyncResult> groupResults() {
    return groupResults;
  }

  /**
   * Returns the handle to the callback, which a worker sends when the group completes.
   *
   * @return the callback's handle
   */
  public AsyncResult callbackResult() {
    return callbackResult;
  }

  /**
   * Waits for the group, then for the callback, at most {@code timeout} in all.
   *
   * @param timeout the longest to wait for the whole chord
   * @return the callback's typed results
   * @throws ChordFailedException when group tasks failed: once every member has finished, with each
   *     failed member's error
   * @throws TaskFailedException when the callback failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when the backend cannot be read, or when interrupted
   */
  public List<Object> get(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<TaskFailedException> failures = new ArrayList<>();
    for (AsyncResult result : groupResults) {
      try {
        result.get(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
      } catch (TaskFailedException e) {
        failures.add(e);
      }
    }
    if (!failures.isEmpty()) {
      List<TaskState> failed =
          failures.stream()
              .map(
                  f ->
                      TaskState.failure(
                          Signature.emptyBuilder().uuid(f.taskUuid()).build(),
                          String.valueOf(f.getMessage())))
              .toList();
      String group = groupResults.get(0).signature().groupUuid();
      throw new ChordFailedException(
          callbackResult.taskUuid(), ChordErrors.failureText(group, failed), failures);
    }
    return callbackResult.get(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
  }
}
