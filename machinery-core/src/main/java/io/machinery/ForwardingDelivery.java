package io.machinery;

import io.machinery.spi.Delivery;
import java.time.Duration;

/**
 * A delivery that forwards every call to another; a subclass overrides what it changes ({@link
 * SettleOnce}: settling once) or, in tests, what it watches.
 */
class ForwardingDelivery implements Delivery {
  private final Delivery delivery;

  ForwardingDelivery(Delivery delivery) {
    this.delivery = delivery;
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
