package io.machinery;

import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The handle to a chord's results: Go's {@code ChordAsyncResult}. {@link #get} waits for the group, then for
 * the callback. Unlike Go, a failed group member fails the wait with that member's error instead of blocking
 * forever (the worker also marks the callback FAILURE). Thread-safe.
 */
public final class ChordAsyncResult {
  private final List<AsyncResult> groupResults;
  private final AsyncResult callbackResult;

  ChordAsyncResult(List<Signature> groupTasks, Signature callback, Backend backend) {
    List<AsyncResult> list = new ArrayList<>(groupTasks.size());
    for (Signature task : groupTasks) {
      list.add(new AsyncResult(task, backend));
    }
    this.groupResults = List.copyOf(list);
    this.callbackResult = new AsyncResult(callback, backend);
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
   * @throws TaskFailedException when a group task or the callback failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when the backend cannot be read, or when interrupted
   */
  public List<Object> get(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (AsyncResult result : groupResults) {
      result.get(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }
    return callbackResult.get(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
  }
}
