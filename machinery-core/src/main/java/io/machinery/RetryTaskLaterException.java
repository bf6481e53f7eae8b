package io.machinery;

import io.machinery.internal.GoDurations;
import java.time.Duration;
import java.util.Objects;

/**
 * Thrown by a task to be run again after {@link #retryIn()}: Go Machinery's {@code
 * ErrRetryTaskLater}.
 *
 * <p>As in Go, a retry-later does not count against {@link Signature#retryCount()}: the task is
 * stored as {@link State#RETRY} and republished with its ETA set to now plus the delay.
 */
public final class RetryTaskLaterException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The delay before the next run. */
  private final Duration retryIn;

  /**
   * Creates the exception: Go's {@code NewErrRetryTaskLater(msg, retryIn)}.
   *
   * @param message why the task wants to run again
   * @param retryIn how long to wait before the next run
   * @throws NullPointerException if {@code retryIn} is null
   * @throws IllegalArgumentException if {@code retryIn} is negative
   */
  public RetryTaskLaterException(String message, Duration retryIn) {
    super("Task error: " + message + " Will retry in: " + GoDurations.format(retryIn));
    Objects.requireNonNull(retryIn, "retryIn");
    if (retryIn.isNegative()) {
      throw new IllegalArgumentException("retryIn must not be negative, was " + retryIn);
    }
    this.retryIn = retryIn;
  }

  /**
   * Returns how long to wait before the task runs again.
   *
   * @return the delay
   */
  public Duration retryIn() {
    return retryIn;
  }
}
