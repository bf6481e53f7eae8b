package io.machinery;

import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The handle to a chain's results: Go's {@code ChainAsyncResult}. {@link #get} waits for every task
 * in order and returns the last one's results. Thread-safe.
 */
public final class ChainAsyncResult {
  private final List<AsyncResult> results;

  ChainAsyncResult(List<Signature> tasks, Backend backend) {
    List<AsyncResult> list = new ArrayList<>(tasks.size());
    for (Signature task : tasks) {
      list.add(new AsyncResult(task, backend));
    }
    this.results = List.copyOf(list);
  }

  /**
   * Returns one handle per chain task.
   *
   * @return the handles, in chain order
   */
  public List<AsyncResult> asyncResults() {
    return results;
  }

  /**
   * Returns the UUIDs of the chain's tasks, for {@link Server#cancel}.
   *
   * @return the UUIDs, in chain order
   */
  public List<String> taskUuids() {
    return results.stream().map(AsyncResult::taskUuid).toList();
  }

  /**
   * Waits for every task in order, at most {@code timeout} in all.
   *
   * @param timeout the longest to wait for the whole chain
   * @return the last task's typed results
   * @throws TaskFailedException when a task of the chain failed (later ones never run)
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when the backend cannot be read, or when interrupted
   */
  public List<Object> get(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Object> last = List.of();
    for (AsyncResult result : results) {
      long left = Math.max(0, deadline - System.nanoTime());
      last = result.get(Duration.ofNanos(left));
    }
    return last;
  }
}
