package io.machinery.broker.amqp;

import io.machinery.spi.Delivery;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A message handed to the worker; settled on the channel it arrived on. If that channel is gone, RabbitMQ has
 * requeued the message already, so settling it does nothing.
 */
final class AmqpDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(AmqpDelivery.class);
  /** When republishing for a delayed requeue or a dead letter fails, the message is put back after this. */
  static final Duration FALLBACK_DELAY = Duration.ofSeconds(1);

  private final AmqpConsumer consumer;
  private final AmqpConsumer.Incoming incoming;
  private final AtomicBoolean settled = new AtomicBoolean();

  AmqpDelivery(AmqpConsumer consumer, AmqpConsumer.Incoming incoming) {
    this.consumer = consumer;
    this.incoming = incoming;
  }

  @Override
  public byte[] body() {
    return incoming.body();
  }

  @Override
  public String queue() {
    return consumer.queue();
  }

  @Override
  public boolean redelivered() {
    return incoming.redelivered();
  }

  @Override
  public void ack() {
    if (settled.compareAndSet(false, true)) {
      incoming.session().ack(incoming.tag());
    }
  }

  /**
   * Zero delay: nack with requeue (RabbitMQ puts it back in its place). Otherwise the message is republished
   * to a delay queue that returns it to this queue after the delay, then acknowledged; if that publish fails
   * the message is nacked back after the delay instead (never a hot loop).
   */
  @Override
  public void requeue(Duration delay) {
    if (!settled.compareAndSet(false, true) || !incoming.session().usable()) {
      return;
    }
    if (delay.isZero() || delay.isNegative()) {
      incoming.session().nack(incoming.tag(), true);
      return;
    }
    try {
      consumer.broker().requeueLater(consumer.queue(), incoming.properties(), incoming.body(), delay);
      incoming.session().ack(incoming.tag());
    } catch (RuntimeException e) {
      log.warn("Could not requeue a message of queue {} through a delay queue ({}); putting it back in {}",
          consumer.queue(), e.getMessage(), delay);
      consumer.broker().schedule(() -> incoming.session().nack(incoming.tag(), true), delay);
    }
  }

  /** Republishes the message to {@code <queue>.dead_letters} with the reason in a header, then acknowledges it. */
  @Override
  public void deadLetter(String reason) {
    if (!settled.compareAndSet(false, true) || !incoming.session().usable()) {
      return;
    }
    try {
      consumer.broker().deadLetter(consumer.queue(), incoming.properties(), incoming.body(), reason);
      incoming.session().ack(incoming.tag());
    } catch (RuntimeException e) {
      log.error("Could not dead-letter a message of queue {} ({}); putting it back in {}", consumer.queue(),
          e.getMessage(), FALLBACK_DELAY);
      consumer.broker().schedule(() -> incoming.session().nack(incoming.tag(), true), FALLBACK_DELAY);
    }
  }
}
