package io.machinery;

import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * For tests that hand a broker's deliveries to the worker wrapped (in a {@link
 * ForwardingDelivery}).
 */
final class WrappingHandler {
  private WrappingHandler() {}

  /**
   * A handler that passes every call on to {@code handler}, each delivery wrapped by {@code wrap}.
   */
  static DeliveryHandler handler(DeliveryHandler handler, UnaryOperator<Delivery> wrap) {
    return new DeliveryHandler() {
      @Override
      public int reserve(int max) throws InterruptedException {
        return handler.reserve(max);
      }

      @Override
      public int reserve(int max, Duration timeout) throws InterruptedException {
        return handler.reserve(max, timeout);
      }

      @Override
      public int capacity() {
        return handler.capacity();
      }

      @Override
      public void release(int slots) {
        handler.release(slots);
      }

      @Override
      public void handle(Delivery delivery) {
        handler.handle(wrap.apply(delivery));
      }

      @Override
      public void handleNow(Delivery delivery) {
        handler.handleNow(wrap.apply(delivery));
      }

      @Override
      public void brokerError(Throwable error) {
        handler.brokerError(error);
      }
    };
  }
}
