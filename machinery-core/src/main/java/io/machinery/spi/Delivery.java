package io.machinery.spi;

import java.time.Duration;

/**
 * One message handed to a worker. The worker settles it exactly once; settling twice is ignored.
 * Thread-safe.
 */
public interface Delivery {

  /**
   * Returns the raw message, as published.
   *
   * @return the message bytes (Go's JSON)
   */
  byte[] body();

  /**
   * Returns the queue the message came from.
   *
   * @return the queue name
   */
  String queue();

  /**
   * Tells whether the broker says this message was delivered before (it may then run twice).
   *
   * @return true if the broker flags a redelivery; false (the default) when it cannot tell
   */
  default boolean redelivered() {
    return false;
  }

  /**
   * Settles a delivery whose task ended in FAILURE and whose signature asks to keep its message
   * ({@code StopTaskDeletionOnError}, Go's {@code ErrStopTaskDeletion}): a broker with its own
   * redrive policy (SQS: the queue's {@code maxReceiveCount} moves it to a dead-letter queue)
   * leaves the message to return after its visibility timeout instead of deleting it. The FAILURE
   * state is already stored. The default acknowledges the message, which is what the flag means on
   * brokers without such a policy.
   */
  default void keepAfterFailure() {
    ack();
  }

  /**
   * How many times the broker has handed out this message, this delivery included, where the broker
   * counts deliveries (an AMQP quorum queue's {@code x-delivery-count}, SQS's {@code
   * ApproximateReceiveCount}, a Pub/Sub delivery attempt, a count the broker keeps itself); 0 when
   * it does not count. The worker dead-letters a message whose count exceeds its poison limit, so a
   * message that kills or stalls its worker every time (a JVM crash, a lease that always expires)
   * cannot circulate for ever.
   *
   * @return the delivery count, from 1; 0 when the broker does not count
   */
  default int deliveryCount() {
    return 0;
  }

  /**
   * Tells whether this consumer still holds the message: the broker cannot have handed it to
   * another consumer since it was delivered here. A hold breaks when its lease, visibility timeout
   * or ack deadline lapsed without a renewal (the process paused by a long collection or SIGSTOP,
   * cut off from the server) or its channel closed. The worker asks before each state write,
   * callback and retry that records the task's outcome: once the hold broke, a run stores nothing
   * more when the task's state is already SUCCESS, FAILURE or RETRY (the copy the broker handed out
   * again owns the outcome), so a worker that resumes late cannot overwrite what that copy stored.
   * May ask the server (a round trip) when the answer is not clear from what this process knows;
   * called on the delivery's thread. Judge it from confirmed renewals ({@link LeaseTimeline}) so
   * that the common case costs nothing.
   *
   * @return false when the broker may have handed the message to another consumer; true (the
   *     default) when it cannot have, or when the broker cannot tell
   */
  default boolean stillHeld() {
    return true;
  }

  /**
   * Acknowledges the message: it is handled (its result is stored), so the broker removes it for
   * good.
   */
  void ack();

  /**
   * Puts the message back to be delivered again after {@code delay} (zero: at once, at the tail of
   * its queue). Used for tasks this worker does not know.
   *
   * @param delay how long the message stays away before it can be delivered again
   */
  void requeue(Duration delay);

  /**
   * Like {@link #requeue(Duration)}, but what comes back is {@code replacement} instead of the
   * original message: the worker uses it to count requeues inside the message (its attempt header),
   * so a bound on requeues survives worker restarts and holds across workers. A broker that cannot
   * replace a message keeps the original (this default); the worker then bounds requeues by {@link
   * #deliveryCount()} or its own memory.
   *
   * @param delay how long the message stays away before it can be delivered again
   * @param replacement the message to deliver instead (Go's JSON, as {@link #body()})
   */
  default void requeue(Duration delay, byte[] replacement) {
    requeue(delay);
  }

  /**
   * Moves a message that can never be handled (it is not a task message, or it exceeded a limit)
   * where a person can find it (a dead-letter list, queue or exchange) with the reason; it is never
   * delivered again.
   *
   * @param reason why, for the person who finds it
   */
  void deadLetter(String reason);
}
