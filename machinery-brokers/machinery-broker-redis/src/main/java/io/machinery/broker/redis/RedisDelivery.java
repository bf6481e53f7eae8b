package io.machinery.broker.redis;

import io.machinery.spi.Delivery;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One message in a consumer's processing list until the worker settles it (once; later calls are
 * ignored).
 */
final class RedisDelivery implements Delivery {
  private final RedisConsumer consumer;
  private final byte[] message;
  private final int deliveryCount;
  private final AtomicBoolean settled = new AtomicBoolean();

  /**
   * Since when ({@link System#nanoTime()}) this consumer surely held the message: when the command
   * that took it (or the lease refresh right before it) was sent, or the last check that found it
   * still in the processing list.
   */
  private volatile long heldSince;

  /** Set once a check found the message gone from the processing list. */
  private volatile boolean lost;

  RedisDelivery(RedisConsumer consumer, byte[] message, int deliveryCount, long takenAt) {
    this.consumer = consumer;
    this.message = message;
    this.deliveryCount = deliveryCount;
    this.heldSince = takenAt;
  }

  @Override
  public byte[] body() {
    return message.clone();
  }

  @Override
  public String queue() {
    return consumer.keys().queue();
  }

  /**
   * 1 plus the times a reaper returned this message to its queue (its consumer died or stalled
   * while holding it).
   */
  @Override
  public int deliveryCount() {
    return deliveryCount;
  }

  @Override
  public boolean redelivered() {
    return deliveryCount > 1;
  }

  /**
   * True while the consumer's lease has lasted without a break since the message was taken (no
   * round trip); otherwise (a pause or an outage longer than the lease may have let a reaper return
   * the message to the queue) asks Redis whether the message is still in this consumer's processing
   * list, refreshing the lease when it is ({@link RedisConsumer#confirmHold}).
   */
  @Override
  public boolean stillHeld() {
    if (lost) {
      return false;
    }
    if (consumer.leaseHeldSince(heldSince)) {
      return true;
    }
    long checked = System.nanoTime();
    if (consumer.confirmHold(message)) {
      heldSince = checked;
      return true;
    }
    lost = true;
    return false;
  }

  @Override
  public void ack() {
    if (settled.compareAndSet(false, true)) {
      consumer.ack(message);
    }
  }

  @Override
  public void requeue(Duration delay) {
    Objects.requireNonNull(delay, "delay");
    if (settled.compareAndSet(false, true)) {
      consumer.requeue(message, delay, message);
    }
  }

  /**
   * Atomically (one script) removes this message from the processing list and queues {@code
   * replacement}.
   */
  @Override
  public void requeue(Duration delay, byte[] replacement) {
    Objects.requireNonNull(delay, "delay");
    byte[] copy = replacement.clone();
    if (settled.compareAndSet(false, true)) {
      consumer.requeue(message, delay, copy);
    }
  }

  @Override
  public void deadLetter(String reason) {
    Objects.requireNonNull(reason, "reason");
    if (settled.compareAndSet(false, true)) {
      consumer.deadLetter(message, reason);
    }
  }
}
