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

  public List<AsyncResult> groupResults() {
    return groupResults;
  }

  public AsyncResult callbackResult() {
    return callbackResult;
  }

  /**
   * The callback's results.
   *
   * @throws TaskFailedException when a group task or the callback failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   */
  public List<Object> get(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (AsyncResult result : groupResults) {
      result.get(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }
    return callbackResult.get(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
  }
}
