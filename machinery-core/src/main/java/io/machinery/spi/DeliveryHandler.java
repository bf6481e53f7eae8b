package io.machinery.spi;

/**
 * The worker side of {@link Broker#startConsuming}: execution slots and delivery hand-over.
 * Thread-safe.
 *
 * <p>A broker calls {@link #reserve(int)} before it fetches, so it never takes more messages than
 * the worker can start at once, and calls {@link #handle} once per fetched message, each using one
 * reserved slot; slots it reserved but did not use go back with {@link #release(int)}.
 */
public interface DeliveryHandler {

  /**
   * Blocks until at least one execution slot is free and reserves up to {@code max} of them.
   *
   * @param max the most slots wanted
   * @return the number reserved, between 1 and {@code max}
   * @throws InterruptedException when the calling thread is interrupted (the broker is stopping)
   */
  int reserve(int max) throws InterruptedException;

  /**
   * As {@link #reserve(int)}, but waits at most {@code timeout} for the first slot. A broker that
   * holds messages fetched ahead uses it to notice that its tasks are long and give those messages
   * back to the queue for other workers. The default waits without a bound, as {@link
   * #reserve(int)} does.
   *
   * @param max the most slots wanted
   * @param timeout the longest wait for the first slot
   * @return the number reserved, between 0 (none freed in time) and {@code max}
   * @throws InterruptedException when the calling thread is interrupted (the broker is stopping)
   */
  default int reserve(int max, java.time.Duration timeout) throws InterruptedException {
    return reserve(max);
  }

  /**
   * The most slots this handler can ever have reserved at once (the worker's concurrency), so a
   * broker can size its prefetch or flow control without probing {@link #reserve(int)}.
   *
   * @return the capacity; {@link Integer#MAX_VALUE} (the default) when unbounded
   */
  default int capacity() {
    return Integer.MAX_VALUE;
  }

  /**
   * Gives back reserved slots that were not used.
   *
   * @param slots how many
   */
  void release(int slots);

  /**
   * Hands over a message, using one reserved slot; returns at once (the task runs on its own
   * thread).
   *
   * <p>If this throws, the message was not handed over: the broker gives its slot back ({@link
   * #release(int)}) and the message back to its queue, as for a slot it reserved and did not use. A
   * handler that throws has neither kept nor released the slot, so that the slot is given back
   * exactly once; one that returns owns the slot and the message (it settles the message and frees
   * the slot itself, even when it only gives the message back).
   *
   * @param delivery the message, to be settled by the handler
   */
  void handle(Delivery delivery);

  /**
   * Runs a message to completion on the calling thread, without a reserved slot (the eager broker).
   *
   * @param delivery the message, settled before this returns
   */
  void handleNow(Delivery delivery);

  /**
   * Reports a broker failure the consumer recovers from by itself (lost connection, bad reply).
   *
   * @param error the failure, for the worker's error handler or log
   */
  void brokerError(Throwable error);

  /**
   * Reports that the consumption ended by itself and will fetch nothing more: its broker was closed
   * under it, or its fetch loop failed in a way it does not recover from. Deliveries already handed
   * over stay valid. Not called once the handler's owner has stopped the consumption ({@link
   * Consumption#stopFetching}, {@link Consumption#close}). The worker starts a new consumption in
   * its place (a closed broker refuses it, and the worker stops). The default reports {@code cause}
   * as a {@link #brokerError}.
   *
   * @param cause why it ended
   */
  default void consumptionEnded(Throwable cause) {
    brokerError(cause);
  }
}
