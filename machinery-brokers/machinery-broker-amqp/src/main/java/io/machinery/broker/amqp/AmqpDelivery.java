package io.machinery.broker.amqp;

import io.machinery.spi.Delivery;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A message handed to the worker; settled on the channel it arrived on. If that channel is gone,
 * RabbitMQ has requeued the message already, so settling it does nothing.
 */
final class AmqpDelivery implements Delivery {
  private static final Logger log = LoggerFactory.getLogger(AmqpDelivery.class);

  /**
   * When republishing for a delayed requeue or a dead letter fails, the message is put back after
   * this.
   */
  static final Duration FALLBACK_DELAY = Duration.ofSeconds(1);

  /**
   * The longest a message whose republish failed is held before it is put back, whatever delay was
   * asked: an unacknowledged message held past RabbitMQ's {@code consumer_timeout} (default 30 min)
   * makes RabbitMQ close the channel, and every task running on it would run again.
   */
  static final Duration LONGEST_FALLBACK_DELAY = Duration.ofSeconds(10);

  private final AmqpConsumer consumer;
  private final AmqpConsumer.Incoming incoming;
  private final AtomicBoolean settled = new AtomicBoolean();

  /** Since when ({@link System#nanoTime()}) the channel surely held this message. */
  private volatile long heldSince;

  AmqpDelivery(AmqpConsumer consumer, AmqpConsumer.Incoming incoming) {
    this.consumer = consumer;
    this.incoming = incoming;
    this.heldSince = incoming.arrivedNanos();
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

  /**
   * RabbitMQ's count on quorum queues: {@code x-delivery-count} (earlier deliveries) + 1; 0 on
   * classic queues, which keep no count (their redelivered flag says only "at least once before").
   */
  @Override
  public int deliveryCount() {
    return deliveryCount(incoming.properties(), consumer.broker().topology().isQuorum());
  }

  /**
   * RabbitMQ 3.10 adds {@code x-delivery-count} from the second delivery of a quorum queue's
   * message on.
   */
  static int deliveryCount(com.rabbitmq.client.AMQP.BasicProperties properties, boolean quorum) {
    if (!quorum) {
      return 0;
    }
    java.util.Map<String, Object> headers = properties.getHeaders();
    if (headers == null || !(headers.get("x-delivery-count") instanceof Number earlier)) {
      return 1;
    }
    long count = earlier.longValue() + 1;
    return count > Integer.MAX_VALUE || count < 1 ? Integer.MAX_VALUE : (int) count;
  }

  /**
   * False once the channel it came on is gone (RabbitMQ requeued it). A channel that looks open is
   * trusted for half a heartbeat after the message arrived (or after the last check): RabbitMQ
   * closes a connection only after two heartbeats of silence, so a shorter pause of this process
   * cannot have cost it. After that, one round trip on the channel tells ({@link
   * AmqpConsumer.Session#confirmOpen}): a process resumed after a long pause (a collection,
   * SIGSTOP) may not yet have read that RabbitMQ closed its connection.
   */
  @Override
  public boolean stillHeld() {
    AmqpConsumer.Session session = incoming.session();
    if (!session.usable()) {
      return false;
    }
    if (System.nanoTime() - heldSince < session.quietNanos) {
      return true;
    }
    long checked = System.nanoTime();
    if (!session.confirmOpen()) {
      return false;
    }
    heldSince = checked;
    return true;
  }

  @Override
  public void ack() {
    if (settled.compareAndSet(false, true)) {
      incoming.session().ack(incoming.tag());
    }
  }

  /**
   * Zero delay: nack with requeue (RabbitMQ puts it back in its place). Otherwise the message is
   * republished to a delay queue that returns it to this queue after the delay, then acknowledged;
   * if that publish fails the message is nacked back after the delay instead (at most {@link
   * #LONGEST_FALLBACK_DELAY}, see there; never a hot loop).
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
    republish(delay, incoming.body());
  }

  /**
   * Publishes {@code replacement} (to a delay queue when {@code delay} is positive, else to the
   * tail of the queue), waits for RabbitMQ's confirm, then acknowledges the original. If the
   * publish fails, the original is put back after the delay instead (at least {@link
   * #FALLBACK_DELAY}, never a hot loop; at most {@link #LONGEST_FALLBACK_DELAY}).
   */
  @Override
  public void requeue(Duration delay, byte[] replacement) {
    if (!settled.compareAndSet(false, true) || !incoming.session().usable()) {
      return;
    }
    republish(delay, replacement);
  }

  private void republish(Duration delay, byte[] body) {
    try {
      consumer
          .broker()
          .requeueLater(consumer.queue(), withoutDeliveryCount(incoming.properties()), body, delay);
      incoming.session().ack(incoming.tag());
    } catch (RuntimeException e) {
      Duration back =
          delay.compareTo(FALLBACK_DELAY) < 0
              ? FALLBACK_DELAY
              : delay.compareTo(LONGEST_FALLBACK_DELAY) > 0 ? LONGEST_FALLBACK_DELAY : delay;
      log.warn(
          "Could not requeue a message of queue {} ({}); putting the original back in {}",
          consumer.queue(),
          e.getMessage(),
          back);
      consumer.broker().schedule(() -> incoming.session().nack(incoming.tag(), true), back);
    }
  }

  /**
   * A republished message is a new message to RabbitMQ: the quorum queue's count must not travel
   * with it.
   */
  private static com.rabbitmq.client.AMQP.BasicProperties withoutDeliveryCount(
      com.rabbitmq.client.AMQP.BasicProperties properties) {
    java.util.Map<String, Object> headers = properties.getHeaders();
    if (headers == null || !headers.containsKey("x-delivery-count")) {
      return properties;
    }
    java.util.Map<String, Object> copy = new java.util.HashMap<>(headers);
    copy.remove("x-delivery-count");
    return properties.builder().headers(copy).build();
  }

  /**
   * Republishes the message to {@code <queue>.dead_letters} with the reason in a header, then
   * acknowledges it.
   */
  @Override
  public void deadLetter(String reason) {
    if (!settled.compareAndSet(false, true) || !incoming.session().usable()) {
      return;
    }
    try {
      consumer
          .broker()
          .deadLetter(consumer.queue(), incoming.properties(), incoming.body(), reason);
      incoming.session().ack(incoming.tag());
    } catch (RuntimeException e) {
      log.error(
          "Could not dead-letter a message of queue {} ({}); putting it back in {}",
          consumer.queue(),
          e.getMessage(),
          FALLBACK_DELAY);
      consumer
          .broker()
          .schedule(() -> incoming.session().nack(incoming.tag(), true), FALLBACK_DELAY);
    }
  }
}
