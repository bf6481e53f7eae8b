package io.machinery;

import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * A delivery that forwards every call to another; a test overrides what it watches or changes (the
 * delays of requeues, whether the hold still stands). {@link #handler} hands a broker's deliveries
 * to the worker wrapped.
 */
class ForwardingDelivery implements Delivery {
  private final Delivery delivery;

  ForwardingDelivery(Delivery delivery) {
    this.delivery = delivery;
  }

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

  @Override
  public byte[] body() {
    return delivery.body();
  }

  @Override
  public String queue() {
    return delivery.queue();
  }

  @Override
  public boolean redelivered() {
    return delivery.redelivered();
  }

  @Override
  public int deliveryCount() {
    return delivery.deliveryCount();
  }

  @Override
  public boolean stillHeld() {
    return delivery.stillHeld();
  }

  @Override
  public void keepAfterFailure() {
    delivery.keepAfterFailure();
  }

  @Override
  public void ack() {
    delivery.ack();
  }

  @Override
  public void requeue(Duration delay) {
    delivery.requeue(delay);
  }

  @Override
  public void requeue(Duration delay, byte[] replacement) {
    delivery.requeue(delay, replacement);
  }

  @Override
  public void deadLetter(String reason) {
    delivery.deadLetter(reason);
  }
}
