package io.machinery.spi;

import io.machinery.Signature;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Moves task messages from senders to workers: Go's {@code brokers/iface.Broker}, reshaped for
 * at-least-once delivery.
 *
 * <p>Implementations are thread-safe. Whoever builds a broker closes it; {@link #close()} stops
 * every consumer it started and releases connections. Methods throw {@link
 * io.machinery.MachineryException} when the broker cannot be reached.
 *
 * <p>The consuming side is a pull contract: {@link #startConsuming} hands the broker a {@link
 * DeliveryHandler}; the broker asks the handler for free execution slots ({@link
 * DeliveryHandler#reserve(int)}), fetches at most that many messages, and hands each over with
 * {@link DeliveryHandler#handle(Delivery)}. The worker settles every delivery exactly once ({@link
 * Delivery#ack()}, {@link Delivery#requeue}, {@link Delivery#deadLetter}); a delivery that is never
 * settled because the process died must come back to some worker (how is the broker's business: a
 * lease, an AMQP redelivery, a visibility timeout).
 */
public interface Broker extends AutoCloseable {

  /**
   * Publishes a task: to its queue now, or to the broker's delayed store when its ETA is in the
   * future. The signature's routing key has already been set ({@link #routingKeyFor}) and {@code
   * message} is its wire form ({@link io.machinery.wire.WireCodec#encode(Signature)}), encoded once
   * by the sender. The call returns once the broker has accepted the message.
   *
   * @param signature the task, with its UUID and routing key set
   * @param message the task's wire form
   * @throws io.machinery.MachineryException when the broker did not accept the message
   */
  void publish(Signature signature, byte[] message);

  /**
   * The connection this broker's publishes travel on. When a backend's {@link Backend#writeOrder()}
   * is the same object, a write and a publish issued one after the other by one thread are applied
   * in that order (one Redis connection), so a sender may issue PENDING and the publish together
   * without waiting in between and still keep Go's order. Empty (the default): the sender waits for
   * PENDING before publishing.
   *
   * @return an object that stands for the connection
   */
  default java.util.Optional<Object> writeOrder() {
    return java.util.Optional.empty();
  }

  /**
   * Opens a batch of this thread's writes on the {@link #writeOrder()} connection: what this
   * broker, and a backend with the same write order, write from this thread until the batch is
   * closed leaves together (Redis: one write to the socket, so a send's PENDING and its push cost
   * one hand-off to the I/O thread and one packet). A sender opens it around PENDING and the
   * publish and waits for no answer inside it. The default batches nothing.
   *
   * @return the batch, to close
   */
  default WriteBatch batchWrites() {
    return WriteBatch.NONE;
  }

  /** A batch of writes; see {@link #batchWrites()}. */
  interface WriteBatch extends AutoCloseable {
    /** A batch that batches nothing. */
    WriteBatch NONE = () -> {};

    /** Sends what the batch holds. */
    @Override
    void close();
  }

  /**
   * Publishes without making the sender wait: {@link #publish}, with the broker's answer in the
   * returned future. The default publishes before returning.
   *
   * @param signature the task, with its UUID and routing key set
   * @param message the task's wire form
   * @return a future completed once the broker has accepted the message, exceptionally when it did
   *     not
   */
  default CompletableFuture<Void> publishAsync(Signature signature, byte[] message) {
    try {
      publish(signature, message);
      return CompletableFuture.completedFuture(null);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Publishes several tasks without waiting; a broker may send them together (Redis: one push per
   * run of messages to the same queue; AMQP: the confirms collected at once). The default calls
   * {@link #publishAsync} for each.
   *
   * @param signatures the tasks, with UUIDs and routing keys set
   * @param messages their wire forms, in the same order
   * @return one future per message, in order
   */
  default List<CompletableFuture<Void>> publishAllAsync(
      List<Signature> signatures, List<byte[]> messages) {
    List<CompletableFuture<Void>> futures = new java.util.ArrayList<>(signatures.size());
    for (int i = 0; i < signatures.size(); i++) {
      futures.add(publishAsync(signatures.get(i), messages.get(i)));
    }
    return futures;
  }

  /**
   * Chooses the routing key for a signature that has none: Go's {@code AdjustRoutingKey}.
   *
   * @param signature the task
   * @return the routing key, usually the default queue
   */
  String routingKeyFor(Signature signature);

  /**
   * Names the queue a task published with {@code routingKey} waits in, as {@link Inspector} and
   * workers name it: the routing key itself (the default), or where the broker routes it (AMQP: a
   * direct exchange's default binding key leads to the default queue).
   *
   * @param routingKey a routing key, as {@link #routingKeyFor} chooses them
   * @return the queue's name
   */
  default String queueFor(String routingKey) {
    return routingKey;
  }

  /**
   * Starts consuming {@code queue} (the default queue when empty) and returns at once; deliveries
   * reach {@code handler} from broker-owned threads until the returned consumer is stopped.
   *
   * @param consumerTag the consumer's name, for the broker's bookkeeping and logs
   * @param queue the queue to consume; empty means the default queue
   * @param handler receives deliveries and gives out execution slots
   * @return the running consumption; the caller stops and closes it
   * @throws io.machinery.ConsumerRefusedException when the server refuses the consumer for a reason
   *     that trying again does not mend (the worker then stops at once)
   * @throws io.machinery.MachineryException when consuming cannot start now (the worker tries again
   *     later)
   */
  Consumption startConsuming(String consumerTag, String queue, DeliveryHandler handler);

  /**
   * Lists the tasks waiting in a queue, oldest first, without taking them away from workers.
   *
   * @param queue the queue; empty means the default queue
   * @return the waiting tasks
   * @throws UnsupportedOperationException when this broker cannot list a queue
   */
  List<Signature> pendingTasks(String queue);

  /**
   * Lists the tasks waiting for their ETA.
   *
   * @return the delayed tasks
   * @throws UnsupportedOperationException when this broker cannot list delayed tasks
   */
  List<Signature> delayedTasks();

  /**
   * Returns the broker's {@link Inspector}, when it has one (queue sizes, listings, dead-letter
   * repair, purge).
   *
   * @return the inspector, which reads through this broker and has nothing of its own to close;
   *     empty when the broker cannot inspect its queues (the default)
   */
  default java.util.Optional<Inspector> inspector() {
    return java.util.Optional.empty();
  }

  /**
   * Returns the {@link ControlPlane} this broker's server keeps (live workers, paused queues), when
   * the broker can keep one.
   *
   * @return the control plane, which works through this broker and has nothing of its own to close;
   *     empty when the broker cannot keep shared state (the default)
   */
  default java.util.Optional<ControlPlane> controlPlane() {
    return java.util.Optional.empty();
  }

  /** Stops all consumers and releases connections; idempotent. */
  @Override
  void close();
}
