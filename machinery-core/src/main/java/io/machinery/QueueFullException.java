package io.machinery;

import java.time.Duration;

/**
 * A send was refused because its queue was full ({@link QueueBound}): nothing of it was stored or
 * published, and listeners were told it was not sent. Send again later, or answer your own caller
 * with "try later" (HTTP 503 or 429).
 */
public final class QueueFullException extends MachineryException {
  private static final long serialVersionUID = 1L;

  /** The full queue. */
  private final String queue;

  /** The sender's count of the queue's waiting tasks when it gave up. */
  private final long pending;

  /** The queue's bound. */
  private final long maxPending;

  /** How long the send waited for room. */
  private final Duration waited;

  /**
   * Creates the exception.
   *
   * @param queue the full queue
   * @param pending how many tasks the sender counted in it (its last reading plus its own sends
   *     since)
   * @param maxPending the queue's bound
   * @param tasks how many tasks the refused send held for that queue
   * @param waited how long the send waited for room (zero when it did not wait)
   */
  public QueueFullException(
      String queue, long pending, long maxPending, int tasks, Duration waited) {
    super(message(queue, pending, maxPending, tasks, waited));
    this.queue = queue;
    this.pending = pending;
    this.maxPending = maxPending;
    this.waited = waited;
  }

  private static String message(
      String queue, long pending, long maxPending, int tasks, Duration waited) {
    if (tasks > maxPending) {
      return "queue '"
          + queue
          + "' is bounded at "
          + maxPending
          + " waiting tasks: "
          + tasks
          + " tasks sent at once can never fit (QueueBound); nothing was sent";
    }
    return "queue '"
        + queue
        + "' is full: "
        + pending
        + (pending == 1 ? " task" : " tasks")
        + " waiting, bound "
        + maxPending
        + (tasks == 1 ? "" : ", no room for " + tasks + " tasks at once")
        + (waited.isZero() ? "" : ", after waiting " + waited.toMillis() + " ms for room")
        + " (QueueBound); nothing was sent";
  }

  /**
   * The full queue.
   *
   * @return its name
   */
  public String queue() {
    return queue;
  }

  /**
   * How many tasks the sender counted in the queue when it gave up.
   *
   * @return the count
   */
  public long pending() {
    return pending;
  }

  /**
   * The queue's bound.
   *
   * @return the most tasks that may wait
   */
  public long maxPending() {
    return maxPending;
  }

  /**
   * How long the send waited for room.
   *
   * @return zero for a bound that rejects at once
   */
  public Duration waited() {
    return waited;
  }
}
