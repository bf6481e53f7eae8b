package io.machinery.spi;

/**
 * What a broker does with a consumption still running when the broker itself is closed: it closes
 * it and, unless the consumption's owner had stopped it already, tells the owner's handler that it
 * ended ({@link DeliveryHandler#consumptionEnded}), so that a worker using it stops with the reason
 * rather than stay "running" with nothing to fetch from. For broker implementations.
 */
public final class BrokerClosing {
  private BrokerClosing() {}

  /**
   * Closes {@code consumption} for its closing broker, then tells {@code handler} if it was still
   * fetching.
   *
   * @param consumption the consumption to close
   * @param wasFetching whether its owner had not stopped it (read before closing it)
   * @param handler the handler it hands deliveries to
   * @param broker the broker's kind, for the message ("Redis", "AMQP")
   * @param consumerTag the consumer's tag
   * @param queue what it consumed
   */
  public static void close(
      Consumption consumption,
      boolean wasFetching,
      DeliveryHandler handler,
      String broker,
      String consumerTag,
      String queue) {
    consumption.close();
    if (wasFetching) {
      handler.consumptionEnded(
          new IllegalStateException(
              "the "
                  + broker
                  + " broker was closed while consumer "
                  + consumerTag
                  + " consumed "
                  + queue));
    }
  }
}
