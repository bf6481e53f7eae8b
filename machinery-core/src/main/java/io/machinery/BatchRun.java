package io.machinery;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One call of a batched task function ({@link TaskFunction#batchedWithContext}): the event {@link
 * TaskListener#batchRan} carries, so metrics can show how full batches run and how long they take.
 *
 * @param task the task name of the batch's first task (a function registered under several names
 *     batches them together)
 * @param key the batch's key: what the key function returned, or {@code ""} without one
 * @param size how many tasks the function received
 * @param runTime how long the function ran, in wall time
 * @param error what the function threw, or what made every task of the batch fail (a list of the
 *     wrong length); null when it returned one result per task, even if some of them are errors
 */
public record BatchRun(
    String task, String key, int size, Duration runTime, @Nullable Throwable error) {
  /** Checks that no component but {@code error} is null and that the size is positive. */
  public BatchRun {
    Objects.requireNonNull(task, "task");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(runTime, "runTime");
    if (size < 1) {
      throw new IllegalArgumentException("a batch holds at least one task, not " + size);
    }
  }
}
