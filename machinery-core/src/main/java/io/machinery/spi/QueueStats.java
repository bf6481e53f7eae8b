package io.machinery.spi;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The sizes of one queue at one moment, as an {@link Inspector} read them.
 *
 * @param queue the queue's name
 * @param pending tasks waiting to be taken by a worker
 * @param delayed tasks waiting for their ETA (or a retry or requeue delay) before they join the
 *     queue
 * @param deadLettered messages set aside as undeliverable
 * @param oldestPendingAge how long the oldest waiting task has waited, when the broker can tell
 *     (null if not, or when nothing waits)
 */
public record QueueStats(
    String queue,
    long pending,
    long delayed,
    long deadLettered,
    @Nullable Duration oldestPendingAge) {
  /**
   * Checks the sizes.
   *
   * @throws NullPointerException if {@code queue} is null
   * @throws IllegalArgumentException if {@code pending}, {@code delayed} or {@code deadLettered} is
   *     negative
   */
  public QueueStats {
    Objects.requireNonNull(queue, "queue");
    if (pending < 0 || delayed < 0 || deadLettered < 0) {
      throw new IllegalArgumentException(
          "queue sizes cannot be negative: " + pending + "/" + delayed + "/" + deadLettered);
    }
  }

  /**
   * Returns {@link #oldestPendingAge} as an optional.
   *
   * @return how long the oldest waiting task has waited; empty when the broker cannot tell or
   *     nothing waits
   */
  public Optional<Duration> oldestAge() {
    return Optional.ofNullable(oldestPendingAge);
  }
}
