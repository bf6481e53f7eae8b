package io.machinery.spi;

import java.time.Duration;

/**
 * One message handed to a worker. The worker settles it exactly once; settling twice is ignored.
 * Thread-safe.
 */
public interface Delivery {

  /** The raw message, as published (Go's JSON). */
  byte[] body();

  /** The queue the message came from. */
  String queue();

  /** Whether the broker says this message was delivered before (it may then run twice). */
  default boolean redelivered() {
    return false;
  }

  /** The message is handled (its result is stored); remove it for good. */
  void ack();

  /**
   * Put the message back to be delivered again after {@code delay} (zero: at once, at the tail of its queue).
   * Used for tasks this worker does not know.
   */
  void requeue(Duration delay);

  /**
   * The message can never be handled (it is not a task message): move it where a person can find it (a
   * dead-letter list, queue or exchange) with the reason, and never deliver it again.
   */
  void deadLetter(String reason);
}
