package io.machinery.spi;

import java.time.Duration;

/** A running consumption started by {@link Broker#startConsuming}. Thread-safe. */
public interface Consumption extends AutoCloseable {

  /**
   * Stops fetching new messages and waits up to {@code timeout} for the fetch loop to end; messages
   * fetched but not yet handed to the worker go back to the head of their queue. Deliveries already
   * handed over stay valid and are settled by the worker. Idempotent.
   *
   * @param timeout the longest to wait for the fetch loop
   */
  void stopFetching(Duration timeout);

  /**
   * Stops fetching (if not yet) and releases this consumer's resources; unsettled deliveries return
   * to the broker. Idempotent.
   */
  @Override
  void close();
}
