package io.machinery;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * When a batched task function ({@link TaskFunction#batched}) runs the tasks that wait for it: once
 * {@link #maxSize()} of them wait, or {@link #maxDelay()} after the first of them arrived,
 * whichever comes first. Immutable.
 *
 * <pre>{@code
 * BatchPolicy.of(100, Duration.ofMillis(200)) // up to 100 tasks per call, none waits over 200 ms
 * }</pre>
 */
public final class BatchPolicy {
  private final int maxSize;
  private final Duration maxDelay;

  private BatchPolicy(int maxSize, Duration maxDelay) {
    this.maxSize = maxSize;
    this.maxDelay = maxDelay;
  }

  /**
   * A policy.
   *
   * @param maxSize the most tasks one call receives; at least 1. Waiting tasks hold their worker
   *     slots, so a batch fills only up to the concurrency of the workers that run the task.
   * @param maxDelay how long the first task of a batch waits for others, in wall time; positive
   * @return the policy
   * @throws IllegalArgumentException for a size below 1 or a delay that is not positive
   */
  public static BatchPolicy of(int maxSize, Duration maxDelay) {
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (maxSize < 1) {
      throw new IllegalArgumentException("a batch holds at least one task, not " + maxSize);
    }
    if (maxDelay.isNegative() || maxDelay.isZero()) {
      throw new IllegalArgumentException("a batch's maxDelay must be positive, was " + maxDelay);
    }
    return new BatchPolicy(maxSize, maxDelay);
  }

  /**
   * The most tasks one call of the batch function receives.
   *
   * @return at least 1
   */
  public int maxSize() {
    return maxSize;
  }

  /**
   * How long the first task of a batch waits for others before the batch runs anyway.
   *
   * @return a positive wall-time duration
   */
  public Duration maxDelay() {
    return maxDelay;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof BatchPolicy other
        && other.maxSize == maxSize
        && other.maxDelay.equals(maxDelay);
  }

  @Override
  public int hashCode() {
    return Objects.hash(maxSize, maxDelay);
  }

  @Override
  public String toString() {
    return "BatchPolicy{maxSize=" + maxSize + ", maxDelay=" + maxDelay + "}";
  }
}
