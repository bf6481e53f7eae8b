package io.machinery.spi;

import io.machinery.Signature;
import java.util.List;

/**
 * Moves task messages from senders to workers: Go's {@code brokers/iface.Broker}, reshaped for
 * at-least-once delivery.
 *
 * <p>Implementations are thread-safe. Whoever builds a broker closes it; {@link #close()} stops every consumer
 * it started and releases connections. Methods throw {@link io.machinery.MachineryException} when the broker
 * cannot be reached.
 *
 * <p>The consuming side is a pull contract: {@link #startConsuming} hands the broker a {@link DeliveryHandler};
 * the broker asks the handler for free execution slots ({@link DeliveryHandler#reserve(int)}), fetches at
 * most that many messages, and hands each over with {@link DeliveryHandler#handle(Delivery)}. The worker
 * settles every delivery exactly once ({@link Delivery#ack()}, {@link Delivery#requeue}, {@link
 * Delivery#deadLetter}); a delivery that is never settled because the process died must come back to some
 * worker (how is the broker's business: a lease, an AMQP redelivery, a visibility timeout).
 */
public interface Broker extends AutoCloseable {

  /**
   * Publishes a task: to its queue now, or to the broker's delayed store when its ETA is in the future. The
   * signature's routing key has already been set ({@link #routingKeyFor}) and {@code message} is its wire form
   * ({@link io.machinery.WireCodec#encode(Signature)}), encoded once by the sender. The call returns once the
   * broker has accepted the message.
   */
  void publish(Signature signature, byte[] message);

  /** The routing key for a signature with none: Go's {@code AdjustRoutingKey} (usually the default queue). */
  String routingKeyFor(Signature signature);

  /**
   * Starts consuming {@code queue} (the default queue when empty) and returns at once; deliveries reach {@code
   * handler} from broker-owned threads until the returned consumer is stopped.
   */
  Consumer startConsuming(String consumerTag, String queue, DeliveryHandler handler);

  /**
   * The tasks waiting in a queue, oldest first, without taking them away from workers.
   *
   * @throws UnsupportedOperationException when this broker cannot list a queue
   */
  List<Signature> pendingTasks(String queue);

  /**
   * The tasks waiting for their ETA.
   *
   * @throws UnsupportedOperationException when this broker cannot list delayed tasks
   */
  List<Signature> delayedTasks();

  /**
   * The broker's {@link Inspector}, when it has one (queue sizes, listings, dead-letter repair, purge). Empty
   * by default.
   */
  default java.util.Optional<Inspector> inspector() {
    return java.util.Optional.empty();
  }

  /** Stops all consumers and releases connections; idempotent. */
  @Override
  void close();
}
