package io.machinery.broker.sqs;

import io.machinery.spi.Delivery;
import io.machinery.spi.LeaseTimeline;
import io.machinery.wire.BodyPreview;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
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
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Hidden until settled at SQS.</b> A settlement whose call only removes the message (an
 *       acknowledgement's delete; a requeue's or dead letter's send of the copy and delete of the
 *       original) keeps the message in the visibility heartbeat until SQS confirmed the delete, or
 *       until it definitively failed. Leaving the heartbeat earlier would let a slow call
 *       (throttling, a network stall, the SDK's retries) outlast the remaining visibility, at least
 *       two thirds of the timeout: SQS would hand the message to another worker, which would run a
 *       finished task again. An extension and a delete may cross at SQS: the extension of a message
 *       already deleted is refused, which the heartbeat does not report for a message being
 *       settled.
 *   <li><b>A settlement's own visibility change is never overwritten.</b> A settlement that sets
 *       the visibility itself (a requeue's delay, a dead letter's retry in {@value
 *       #DEAD_LETTER_RETRY_SECONDS} s, a return to the queue, and the fallbacks of a failed send)
 *       first leaves the heartbeat through {@link #visibility}: the heartbeat holds it from the
 *       moment it takes this message into an extension until SQS answered, so the change is sent
 *       after any extension SQS may still apply, and an extension that starts after it leaves the
 *       message out. That change is the settlement itself, so it cannot be covered: a slow one may
 *       let the message come back before it lands (a requeued task before its delay, a dead letter
 *       to be tried again sooner), never a task whose final state is stored.
 *   <li><b>Bounded.</b> Each settling call is bounded ({@link SqsBroker#callBound()}): one that
 *       never answers fails at the bound like any failed call, so the message leaves the heartbeat
 *       and SQS hands it out again after its visibility timeout (the task may run again:
 *       at-least-once), logged with the task and message ids; the worker's thread returns.
 *   <li><b>Handed back</b> ({@link #returnToQueue()}: the consumer closed with it unsettled, or the
 *       handler threw on it): made visible at once, so {@link #stillHeld()} is false from then on;
 *       another consumer may receive it at once.
 * </ul>
 */
final class SqsDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(SqsDelivery.class);

  /**
   * When a dead letter cannot be sent, the message is hidden this long before it is tried again.
   */
  static final int DEAD_LETTER_RETRY_SECONDS = 30;

  private final SqsConsumer consumer;
  private final Message message;

  /** A settlement began: the worker is done with this message. */
  private final AtomicBoolean settled = new AtomicBoolean();

  /** Out of the heartbeat: no extension of this message starts any more. */
  private volatile boolean heartbeatEnded;

  /** Made visible again unsettled ({@link #returnToQueue()}): no longer held. */
  private volatile boolean handedBack;

  /**
   * Held by the heartbeat while an extension of this message is in flight, and by {@link
   * #leaveHeartbeatBeforeAVisibilityChange()} (a lock, not a monitor: a virtual thread waiting on a
   * monitor pins its carrier on Java 21).
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
    if (handedBack) {
      return false;
    }
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
   * For the heartbeat: takes this message into an extension, unless it left the heartbeat already
   * (then false). When true, the caller sends the extension and then calls {@link
   * #extensionEnded()}; until then a settlement that changes the visibility waits.
   */
  boolean beginExtension() {
    visibility.lock();
    if (heartbeatEnded) {
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
   * For the heartbeat: whether a settlement began, so SQS refusing an extension is expected (the
   * settlement's delete may have landed first).
   */
  boolean settling() {
    return settled.get();
  }

  /** Marks this settled; false when it was settled already. The heartbeat goes on. */
  private boolean beginSettlement() {
    return settled.compareAndSet(false, true);
  }

  /**
   * Leaves the heartbeat once SQS answered (or failed) the call that removed the message. No wait
   * for an extension in flight: landing after the delete, it is refused; after a failed one, it
   * only hides the message a little longer.
   */
  private void leaveHeartbeat() {
    heartbeatEnded = true;
    consumer.leftHeartbeat(this);
  }

  /**
   * Leaves the heartbeat before a visibility change of the settlement's own: waits for an extension
   * of it in flight, so the change the caller sends next comes after it.
   */
  private void leaveHeartbeatBeforeAVisibilityChange() {
    visibility.lock();
    try {
      leaveHeartbeat();
    } finally {
      visibility.unlock();
    }
  }

  /**
   * Deletes the message: its task's final state is stored. The heartbeat keeps it hidden until the
   * delete is confirmed or failed; a delete that failed, or that the call timeout cut, is logged,
   * and SQS delivers the message again after its visibility timeout (the task then runs again:
   * at-least-once). Waits for the delete at most twice the call timeout (its batch may wait behind
   * one in flight); after that the delete goes on without the caller, logged once it fails.
   */
  @Override
  public void ack() {
    if (!beginSettlement()) {
      return;
    }
    CompletableFuture<Void> deleted;
    try {
      deleted = consumer.deleteHandled(message.receiptHandle());
    } catch (RuntimeException | Error e) {
      leaveHeartbeat();
      throw e;
    }
    deleted.whenComplete(
        (ignored, failure) -> {
          leaveHeartbeat();
          if (failure != null) {
            log.warn(
                "SQS: could not delete handled message {} of {} (task {}): {}; SQS will deliver it"
                    + " again after its visibility timeout",
                messageId(),
                queue(),
                taskId(),
                failure.toString());
          }
        });
    Duration wait = consumer.broker().callTimeout().multipliedBy(2);
    try {
      deleted.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      // logged where it completed
    } catch (TimeoutException e) {
      log.warn(
          "SQS: the delete of handled message {} of {} (task {}) did not end within {} ms; the"
              + " message stays hidden while it goes on, and unless it succeeds, SQS will deliver"
              + " the message again",
          messageId(),
          queue(),
          taskId(),
          wait.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      log.warn(
          "SQS: interrupted waiting for the delete of handled message {} of {} (task {}); unless"
              + " it still succeeds, SQS will deliver the message again",
          messageId(),
          queue(),
          taskId());
    }
  }

  String messageId() {
    return message.messageId();
  }

  String taskId() {
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
    if (beginSettlement()) {
      leaveHeartbeatBeforeAVisibilityChange();
      log.debug("SQS: keeping a failed task's message in {} (StopTaskDeletionOnError)", queue());
    }
  }

  /**
   * Hides the message for {@code delay} (zero: visible at once); SQS counts the next receive as a
   * delivery.
   */
  @Override
  public void requeue(Duration delay) {
    if (beginSettlement()) {
      leaveHeartbeatBeforeAVisibilityChange();
      consumer.changeVisibility(message.receiptHandle(), seconds(delay));
    }
  }

  /**
   * Sends {@code replacement} to the queue with the delay (FIFO: same group, deduplicated by its
   * content), then deletes this message, which stays hidden until then; if the send fails this
   * message is hidden for the delay instead.
   */
  @Override
  public void requeue(Duration delay, byte[] replacement) {
    if (!beginSettlement()) {
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
          "SQS: could not requeue a replacement of message {} of {} (task {}): {}; putting the"
              + " original back",
          messageId(),
          queue(),
          taskId(),
          e.getMessage());
      leaveHeartbeatBeforeAVisibilityChange();
      consumer.changeVisibility(message.receiptHandle(), seconds(delay));
      return;
    }
    deleteSettled(
        "requeued", "SQS will deliver it again after its visibility timeout: it may run twice");
  }

  /** Deletes this message once its copy is sent, then leaves the heartbeat. */
  private void deleteSettled(String what, String consequence) {
    try {
      consumer.delete(message.receiptHandle());
    } catch (SdkException e) {
      log.warn(
          "SQS: could not delete {} message {} of {} (task {}): {}; {}",
          what,
          messageId(),
          queue(),
          taskId(),
          e.getMessage(),
          consequence);
    } finally {
      leaveHeartbeat();
    }
  }

  /**
   * Sends the message to the dead-letter queue with the reason, then deletes it here; it stays
   * hidden until then.
   */
  @Override
  public void deadLetter(String reason) {
    if (!beginSettlement()) {
      return;
    }
    try {
      consumer.broker().deadLetter(queue(), message.body(), reason, groupId(), message.messageId());
    } catch (RuntimeException e) {
      log.error(
          "SQS: could not dead-letter message {} of {} (task {}): {}; trying again in {} s",
          messageId(),
          queue(),
          taskId(),
          e.getMessage(),
          DEAD_LETTER_RETRY_SECONDS);
      leaveHeartbeatBeforeAVisibilityChange();
      consumer.changeVisibility(message.receiptHandle(), DEAD_LETTER_RETRY_SECONDS);
      return;
    }
    deleteSettled(
        "dead-lettered",
        "SQS will deliver it again after its visibility timeout and it will be dead-lettered"
            + " again");
  }

  /**
   * Makes the message visible again at once, unsettled: the consumer closed before the worker
   * settled it, or the handler threw on it. A settlement that comes later does nothing.
   */
  void returnToQueue() {
    if (beginSettlement()) {
      handedBack = true;
      leaveHeartbeatBeforeAVisibilityChange();
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
