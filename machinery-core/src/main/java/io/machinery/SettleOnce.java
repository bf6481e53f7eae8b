package io.machinery;

import io.machinery.spi.Delivery;
import io.machinery.wire.LogText;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A delivery the worker settles exactly once, whatever happens: the first ack, requeue or
 * dead-letter wins, later ones are ignored, and {@link #settled()} tells the worker's last-resort
 * handler whether anything is left to do. A broker's settle method that throws is logged here (the
 * broker's own recovery, a lease or a redelivery, brings the message back); it never reaches the
 * task's code paths.
 */
final class SettleOnce extends ForwardingDelivery {
  private static final Logger log = LoggerFactory.getLogger(SettleOnce.class);

  private final Delivery delivery;
  private final AtomicBoolean settled = new AtomicBoolean();

  SettleOnce(Delivery delivery) {
    super(delivery);
    this.delivery = delivery;
  }

  boolean settled() {
    return settled.get();
  }

  @Override
  public void ack() {
    if (claim()) {
      guard("ack", delivery::ack);
    }
  }

  @Override
  public void keepAfterFailure() {
    if (claim()) {
      guard("keep", delivery::keepAfterFailure);
    }
  }

  @Override
  public void requeue(Duration delay) {
    if (claim()) {
      guard("requeue", () -> delivery.requeue(delay));
    }
  }

  @Override
  public void requeue(Duration delay, byte[] replacement) {
    if (claim()) {
      guard("requeue", () -> delivery.requeue(delay, replacement));
    }
  }

  @Override
  public void deadLetter(String reason) {
    if (claim()) {
      guard("dead-letter", () -> delivery.deadLetter(reason));
    }
  }

  /**
   * Settles nothing: the broker may have handed the message to another consumer (its hold broke),
   * whose settlement counts; later settle calls are ignored.
   */
  void leave() {
    claim();
  }

  private boolean claim() {
    return settled.compareAndSet(false, true);
  }

  private void guard(String what, Runnable settle) {
    try {
      settle.run();
    } catch (RuntimeException e) {
      log.error(
          "Could not {} a message from queue {}: {}; the broker will deliver it again",
          what,
          LogText.of(delivery.queue()),
          e.toString());
    }
  }
}
