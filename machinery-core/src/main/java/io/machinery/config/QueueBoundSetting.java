package io.machinery.config;

import java.time.Duration;
import java.util.Objects;

/**
 * A queue bound read from configuration ({@code MACHINERY_QUEUE_BOUNDS}, YAML {@code queue_bounds};
 * not Go's): a server built with the config bounds that queue as {@link
 * io.machinery.Server.Builder#bound} would, unless the builder names a bound of its own for it.
 *
 * @param queue the queue's name, as workers consume it, in its exact case (queue names are
 *     case-sensitive in every broker); empty means the default queue
 * @param maxPending the most tasks that may wait in it, at least 1
 * @param maxWait how long a send waits for room at most; zero refuses at once
 */
public record QueueBoundSetting(String queue, long maxPending, Duration maxWait) {
  /**
   * Checks the values.
   *
   * @throws IllegalArgumentException when {@code queue} is blank but not empty, {@code maxPending}
   *     is below 1 or {@code maxWait} is negative
   */
  public QueueBoundSetting {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(maxWait, "maxWait");
    if (!queue.isEmpty() && queue.isBlank()) {
      // no task goes there: the default queue cannot be blank (Config.defaultQueue)
      throw new IllegalArgumentException(
          "a queue bound's queue must be empty (the default queue) or a name, not blank, was '"
              + queue
              + "'");
    }
    if (maxPending < 1) {
      throw new IllegalArgumentException(
          "a queue bound must let at least 1 task wait, was "
              + maxPending
              + " for '"
              + queue
              + "'");
    }
    if (maxWait.isNegative()) {
      throw new IllegalArgumentException(
          "the longest wait for room must not be negative, was "
              + maxWait
              + " for '"
              + queue
              + "'");
    }
  }
}
