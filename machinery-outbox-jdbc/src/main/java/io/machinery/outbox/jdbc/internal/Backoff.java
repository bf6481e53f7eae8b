package io.machinery.outbox.jdbc.internal;

import io.machinery.internal.Fibonacci;
import java.time.Duration;

/**
 * The relay's wait after failures: Go's Fibonacci steps times {@code first}, at most {@code max}.
 * One schedule for the relay after failed passes and for a sender after its failed publishes.
 *
 * @param first the wait after one failure
 * @param max the longest wait
 */
public record Backoff(Duration first, Duration max) {
  /**
   * The wait after {@code failures} failures in a row.
   *
   * @param failures at least 1
   */
  public Duration after(int failures) {
    int steps = 1;
    for (int i = 1; i < failures && steps < 1_000_000; i++) {
      steps = Fibonacci.next(steps);
    }
    Duration delay = first.multipliedBy(steps);
    return delay.compareTo(max) > 0 ? max : delay;
  }
}
