package io.machinery.broker.gcppubsub;

import com.google.pubsub.v1.ReceivedMessage;
import io.machinery.spi.Delivery;
import io.machinery.spi.LeaseTimeline;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pulled message handed to the worker. Its lease (ack deadline) is extended by its consumer until
 * it is settled or {@code GCPPubSub.MaxExtension} has passed. Settling twice is ignored.
 */
final class PubSubDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(PubSubDelivery.class);

  /** When a dead letter cannot be published, the message comes back after this, not at once. */
  static final int DEAD_LETTER_FALLBACK_SECONDS = 60;

  private final PubSubConsumer consumer;
  private final ReceivedMessage message;
  private final byte[] body;
  final long receivedAtNanos;

  /** This broker's count when Pub/Sub gives none (no dead-letter policy), else 0. */
  private final int localCount;

  private final AtomicBoolean settled = new AtomicBoolean();

  /** The message's lease: the pull and each extension Pub/Sub confirmed. */
  private final LeaseTimeline hold;

  /** When ({@link System#nanoTime()}) the pull that took it was sent. */
  private final long pulledAt;

  PubSubDelivery(
      PubSubConsumer consumer,
      ReceivedMessage message,
      long receivedAtNanos,
      LeaseTimeline hold,
      long pulledAt) {
    this.consumer = consumer;
    this.message = message;
    this.hold = hold;
    this.pulledAt = pulledAt;
    this.body = message.getMessage().getData().toByteArray();
    this.receivedAtNanos = receivedAtNanos;
    this.localCount =
        message.getDeliveryAttempt() > 0
            ? 0
            : consumer
                .broker()
                .deliveryCounts()
                .delivered(consumer.subscription(), message.getMessage().getMessageId());
  }

  /** Settled for good: this message id is not delivered again. */
  private void forgetCount() {
    if (localCount > 0) {
      consumer
          .broker()
          .deliveryCounts()
          .forget(consumer.subscription(), message.getMessage().getMessageId());
    }
  }

  /**
   * Its consumer gives it back to Pub/Sub without having handed it to the worker: this broker's
   * count takes that delivery back, so a message that only waited never nears the poison limit.
   */
  void notHandedOver() {
    if (localCount > 0) {
      consumer
          .broker()
          .deliveryCounts()
          .undelivered(consumer.subscription(), message.getMessage().getMessageId());
    }
  }

  /**
   * Its consumer extended the ack deadline by a request sent and answered then.
   *
   * @return true when this extension is the first that came too late to be sure the deadline stayed
   *     ahead until it (Pub/Sub may have delivered the message again in between)
   */
  boolean extendedAfterALapse(long sentNanos, long confirmedNanos) {
    return hold.renewedAfterABreak(pulledAt, sentNanos, confirmedNanos);
  }

  /**
   * Whether the ack deadline stayed ahead without a break since the pull: the pull and the
   * extensions Pub/Sub confirmed cover the whole time, with a margin. No round trip: Pub/Sub
   * accepts an extension for an ack id whose deadline lapsed without saying so.
   */
  @Override
  public boolean stillHeld() {
    return hold.heldThroughout(pulledAt, System.nanoTime());
  }

  String ackId() {
    return message.getAckId();
  }

  ReceivedMessage message() {
    return message;
  }

  @Override
  public byte[] body() {
    return body.clone();
  }

  /** The topic the message was published to (the queue's name). */
  @Override
  public String queue() {
    return consumer.topic();
  }

  @Override
  public boolean redelivered() {
    return deliveryCount() > 1;
  }

  /**
   * Pub/Sub's delivery attempt, which it counts only on subscriptions with a dead-letter policy;
   * without one, this broker's own count of the deliveries it saw (see {@link LocalDeliveryCounts}
   * for what that misses).
   */
  @Override
  public int deliveryCount() {
    int attempt = message.getDeliveryAttempt();
    return attempt > 0 ? attempt : localCount;
  }

  @Override
  public void ack() {
    if (settled.compareAndSet(false, true)) {
      consumer.settled(this);
      forgetCount();
      consumer.broker().settler().ack(consumer.subscription(), ackId());
    }
  }

  @Override
  public void requeue(Duration delay) {
    requeue(delay, null);
  }

  /**
   * Zero delay and the same message: a nack (Pub/Sub delivers it again at once). Otherwise the
   * message (or its replacement) goes to the delay topic, due back on this queue's topic after
   * {@code delay}, and this one is acknowledged; if that publish fails, the message is left to come
   * back when a deadline of about {@code delay} lapses instead (never a hot loop).
   */
  @Override
  public void requeue(Duration delay, byte @org.jspecify.annotations.Nullable [] replacement) {
    if (!settled.compareAndSet(false, true)) {
      return;
    }
    Settler settler = consumer.broker().settler();
    if (!delay.isPositive() && replacement == null) {
      consumer.settled(this);
      settler.modifyDeadline(consumer.subscription(), ackId(), 0);
      return;
    }
    RuntimeException failure = null;
    try {
      // still leased (its deadline extended) while the publish takes: a slow one must not let
      // Pub/Sub hand the message to another worker as well
      consumer
          .broker()
          .publishDelayed(
              consumer.topic(),
              replacement != null ? replacement : body,
              consumer.broker().clock().millis() + Math.max(0, delay.toMillis()));
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      consumer.settled(this);
    }
    if (failure == null) {
      forgetCount(); // it comes back as a new message
      settler.ack(consumer.subscription(), ackId());
    } else {
      int seconds = (int) Math.min(600, Math.max(1, (delay.toMillis() + 999) / 1000));
      log.warn(
          "Could not requeue a message of subscription {} through the delay topic ({}); it comes back in"
              + " about {} s",
          consumer.subscription(),
          failure.getMessage(),
          seconds);
      settler.modifyDeadline(consumer.subscription(), ackId(), seconds);
    }
  }

  /**
   * Publishes the message to the dead-letter topic with the reason in attributes, then acknowledges
   * it.
   */
  @Override
  public void deadLetter(String reason) {
    if (!settled.compareAndSet(false, true)) {
      return;
    }
    Settler settler = consumer.broker().settler();
    RuntimeException failure = null;
    try {
      // still leased while the publish takes, as in requeue
      consumer
          .broker()
          .publishDeadLetter(
              consumer.topic(), consumer.subscription(), message.getMessage(), reason);
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      consumer.settled(this);
    }
    if (failure == null) {
      forgetCount();
      settler.ack(consumer.subscription(), ackId());
    } else {
      log.error(
          "Could not dead-letter a message of subscription {} ({}); it comes back in {} s",
          consumer.subscription(),
          failure.getMessage(),
          DEAD_LETTER_FALLBACK_SECONDS);
      settler.modifyDeadline(consumer.subscription(), ackId(), DEAD_LETTER_FALLBACK_SECONDS);
    }
  }
}
