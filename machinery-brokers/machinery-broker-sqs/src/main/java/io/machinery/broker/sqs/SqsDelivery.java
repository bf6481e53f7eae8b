package io.machinery.broker.sqs;

import io.machinery.spi.Delivery;
import io.machinery.spi.LeaseTimeline;
import io.machinery.wire.BodyPreview;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;

/**
 * A received message handed to the worker, settled through its receipt handle. Settling twice, or
 * after the consumer closed (the message was made visible again), does nothing.
 *
 * <p>Settling and the visibility heartbeat are ordered by {@link #visibility}: the heartbeat holds
 * it from the moment it takes this message into an extension until SQS answered, and a settlement
 * takes it to leave the heartbeat's set. So a settlement's own visibility change (a requeue's
 * delay, a dead letter's retry, a return to the queue) is sent after any extension of this message
 * SQS may still apply, never overwritten by one; and an extension that starts after a settlement
 * leaves the message out.
 */
final class SqsDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(SqsDelivery.class);

  /**
   * When a dead letter cannot be sent, the message is hidden this long before it is tried again.
   */
  static final int DEAD_LETTER_RETRY_SECONDS = 30;

  /**
   * The longest {@link #ack()} waits for its delete: above an SDK call with its default retries at
   * the default socket timeout, so it bounds a batch that never ends, not a slow one.
   */
  static final Duration ACK_TIMEOUT = Duration.ofMinutes(2);

  private final SqsConsumer consumer;
  private final Message message;
  private final AtomicBoolean settled = new AtomicBoolean();

  /**
   * Held by the heartbeat while an extension of this message is in flight, and by {@link #settle}
   * (a lock, not a monitor: a virtual thread waiting on a monitor pins its carrier on Java 21).
   */
  private final ReentrantLock visibility = new ReentrantLock();

  /** The message's visibility: the receive and each extension SQS confirmed; null: not hidden. */
  private final @Nullable LeaseTimeline hold;

  /** When ({@link System#nanoTime()}) the receive that took it was sent. */
  private final long receivedAt;

  SqsDelivery(
      SqsConsumer consumer, Message message, @Nullable LeaseTimeline hold, long receivedAt) {
    this.consumer = consumer;
    this.message = message;
    this.hold = hold;
    this.receivedAt = receivedAt;
  }

  /**
   * The visibility heartbeat extended this message by a request sent and answered then.
   *
   * @return true when this extension is the first that came too late to be sure the message stayed
   *     hidden until it (SQS may have handed it to another receiver in between)
   */
  boolean extendedAfterALapse(long sentNanos, long confirmedNanos) {
    return hold != null && hold.renewedAfterABreak(receivedAt, sentNanos, confirmedNanos);
  }

  /**
   * Whether the message stayed hidden without a break since it was received: the receive and the
   * visibility heartbeat's extensions that SQS confirmed cover the whole time, with a margin. No
   * round trip: once the visibility may have lapsed SQS may have handed the message to another
   * receiver, and an old receipt handle cannot tell.
   */
  @Override
  public boolean stillHeld() {
    return hold == null || hold.heldThroughout(receivedAt, System.nanoTime());
  }

  String receiptHandle() {
    return message.receiptHandle();
  }

  @Override
  public byte[] body() {
    return message.body().getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public String queue() {
    return consumer.queue();
  }

  @Override
  public int deliveryCount() {
    String count = message.attributes().get(MessageSystemAttributeName.APPROXIMATE_RECEIVE_COUNT);
    try {
      return count == null ? 0 : Integer.parseInt(count);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  @Override
  public boolean redelivered() {
    return deliveryCount() > 1;
  }

  /**
   * For the heartbeat: takes this message into an extension, unless it is settled already (then
   * false). When true, the caller sends the extension and then calls {@link #extensionEnded()};
   * until then a settlement waits.
   */
  boolean beginExtension() {
    visibility.lock();
    if (settled.get()) {
      visibility.unlock();
      return false;
    }
    return true;
  }

  /** For the heartbeat: SQS answered (or failed) the extension {@link #beginExtension()} began. */
  void extensionEnded() {
    visibility.unlock();
  }

  /**
   * Marks this settled and takes it out of the heartbeat's set; false when it was settled already.
   * Waits for an extension of it in flight, so what the caller sends next comes after it.
   */
  private boolean settle() {
    visibility.lock();
    try {
      if (!settled.compareAndSet(false, true)) {
        return false;
      }
      consumer.settled(this);
      return true;
    } finally {
      visibility.unlock();
    }
  }

  /**
   * Deletes the message: its task's final state is stored. Waits for the delete at most {@link
   * #ACK_TIMEOUT}; a delete that failed or did not end in time is logged, and SQS delivers the
   * message again after its visibility timeout (the task then runs again: at-least-once).
   */
  @Override
  public void ack() {
    if (!settle()) {
      return;
    }
    try {
      consumer
          .deleteHandled(message.receiptHandle())
          .get(ACK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      log.warn(
          "SQS: could not delete a handled message of {} (task {}): {}; SQS will deliver it again",
          queue(),
          taskId(),
          String.valueOf(e.getCause()));
    } catch (TimeoutException e) {
      log.warn(
          "SQS: the delete of a handled message of {} (task {}) did not end within {} s; unless it"
              + " still succeeds, SQS will deliver the message again",
          queue(),
          taskId(),
          ACK_TIMEOUT.toSeconds());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      log.warn(
          "SQS: interrupted waiting for the delete of a handled message of {} (task {}); unless it"
              + " still succeeds, SQS will deliver the message again",
          queue(),
          taskId());
    }
  }

  private String taskId() {
    return SqsBroker.taskIdOf(message.body());
  }

  /**
   * Go's {@code StopTaskDeletionOnError}: the task failed and its FAILURE is stored, but the
   * message is not deleted; the heartbeat stops, so it returns after the visibility timeout and the
   * queue's redrive policy ({@code maxReceiveCount}) moves it to a dead-letter queue, as with Go's
   * SQS broker.
   */
  @Override
  public void keepAfterFailure() {
    if (settle()) {
      log.debug("SQS: keeping a failed task's message in {} (StopTaskDeletionOnError)", queue());
    }
  }

  /**
   * Hides the message for {@code delay} (zero: visible at once); SQS counts the next receive as a
   * delivery.
   */
  @Override
  public void requeue(Duration delay) {
    if (settle()) {
      consumer.changeVisibility(message.receiptHandle(), seconds(delay));
    }
  }

  /**
   * Sends {@code replacement} to the queue with the delay (FIFO: same group, deduplicated by its
   * content), then deletes this message; if the send fails this message is hidden for the delay
   * instead.
   */
  @Override
  public void requeue(Duration delay, byte[] replacement) {
    if (!settle()) {
      return;
    }
    try {
      consumer.resend(
          new String(replacement, StandardCharsets.UTF_8),
          seconds(delay),
          groupId(),
          BodyPreview.sha256Hex(replacement));
    } catch (RuntimeException e) {
      log.warn(
          "SQS: could not requeue a replacement message to {} ({}); putting the original back",
          queue(),
          e.getMessage());
      consumer.changeVisibility(message.receiptHandle(), seconds(delay));
      return;
    }
    try {
      consumer.delete(message.receiptHandle());
    } catch (SdkException e) {
      log.warn(
          "SQS: could not delete a requeued message of {} ({}); it may run twice",
          queue(),
          e.getMessage());
    }
  }

  /** Sends the message to the dead-letter queue with the reason, then deletes it here. */
  @Override
  public void deadLetter(String reason) {
    if (!settle()) {
      return;
    }
    try {
      consumer.broker().deadLetter(queue(), message.body(), reason, groupId(), message.messageId());
    } catch (RuntimeException e) {
      log.error(
          "SQS: could not dead-letter a message of {} ({}); trying again in {} s",
          queue(),
          e.getMessage(),
          DEAD_LETTER_RETRY_SECONDS);
      consumer.changeVisibility(message.receiptHandle(), DEAD_LETTER_RETRY_SECONDS);
      return;
    }
    try {
      consumer.delete(message.receiptHandle());
    } catch (SdkException e) {
      log.warn(
          "SQS: could not delete a dead-lettered message of {} ({}); it will be dead-lettered again",
          queue(),
          e.getMessage());
    }
  }

  /** The consumer closed before the worker settled this: make the message visible again at once. */
  void returnToQueue() {
    if (settle()) {
      consumer.changeVisibility(message.receiptHandle(), 0);
    }
  }

  private String groupId() {
    String group = message.attributes().get(MessageSystemAttributeName.MESSAGE_GROUP_ID);
    return group == null ? "" : group;
  }

  private static int seconds(Duration delay) {
    if (delay.isNegative() || delay.isZero()) {
      return 0;
    }
    return (int) Math.min(SqsConsumer.MAX_VISIBILITY_SECONDS, (delay.toMillis() + 999) / 1000);
  }
}
