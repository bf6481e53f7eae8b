package io.machinery.broker.redis;

import io.machinery.spi.Delivery;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/** One message in a consumer's processing list until the worker settles it (once; later calls are ignored). */
final class RedisDelivery implements Delivery {
  private final RedisConsumer consumer;
  private final byte[] message;
  private final AtomicBoolean settled = new AtomicBoolean();

  RedisDelivery(RedisConsumer consumer, byte[] message) {
    this.consumer = consumer;
    this.message = message;
  }

  @Override
  public byte[] body() {
    return message.clone();
  }

  @Override
  public String queue() {
    return consumer.keys().queue();
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
      consumer.requeue(message, delay);
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
