package io.machinery;

import java.time.Duration;

/**
 * A doubling delay with a cap: attempt 1 waits {@code first}, attempt 2 twice that, and so on up to
 * {@code max}. Used for requeues of messages that could not be processed and for retries of
 * bookkeeping steps.
 */
record Backoff(Duration first, Duration max) {
  Backoff {
    if (first.isNegative() || max.compareTo(first) < 0) {
      throw new IllegalArgumentException(
          "back-off needs 0 <= first <= max, was " + first + " and " + max);
    }
  }

  /** The delay before attempt {@code attempt + 1}, for {@code attempt >= 1}. */
  Duration delay(int attempt) {
    int doublings = Math.clamp(attempt - 1L, 0, 40);
    long firstNanos = first.toNanos();
    long maxNanos = max.toNanos();
    if (firstNanos == 0) {
      return Duration.ZERO;
    }
    if (doublings >= Long.numberOfLeadingZeros(firstNanos) - 1) {
      return max;
    }
    return Duration.ofNanos(Math.min(maxNanos, firstNanos << doublings));
  }
}
