package io.machinery.testkit;

import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A {@link DeliveryHandler} for contract tests: a fixed number of slots, deliveries collected
 * unsettled for the test to take and settle. A slot is freed when the test settles a delivery
 * through {@link #ack}, {@link #requeue} or {@link #deadLetter}.
 */
public final class RecordingHandler implements DeliveryHandler {
  private final Semaphore slots;
  private final int capacity;
  private final LinkedBlockingQueue<Delivery> received = new LinkedBlockingQueue<>();
  private final AtomicInteger handedOver = new AtomicInteger();
  private final List<Throwable> brokerErrors = new CopyOnWriteArrayList<>();
  private final List<Throwable> endings = new CopyOnWriteArrayList<>();

  private volatile @Nullable RuntimeException failure;

  public RecordingHandler(int slots) {
    this.slots = new Semaphore(slots);
    this.capacity = slots;
  }

  /**
   * From now on {@link #capacity()} and {@link #reserve} throw {@code e}, as a handler with a bug
   * would, for a consumer's fetch loop to meet.
   */
  public RecordingHandler failWith(RuntimeException e) {
    failure = e;
    return this;
  }

  private void failIfAsked() {
    RuntimeException e = failure;
    if (e != null) {
      throw e;
    }
  }

  @Override
  public int reserve(int max) throws InterruptedException {
    failIfAsked();
    slots.acquire();
    int reserved = 1;
    while (reserved < max && slots.tryAcquire()) {
      reserved++;
    }
    return reserved;
  }

  @Override
  public int reserve(int max, java.time.Duration timeout) throws InterruptedException {
    failIfAsked();
    if (!slots.tryAcquire(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS)) {
      return 0;
    }
    int reserved = 1;
    while (reserved < max && slots.tryAcquire()) {
      reserved++;
    }
    return reserved;
  }

  @Override
  public int capacity() {
    failIfAsked();
    return capacity;
  }

  @Override
  public void release(int count) {
    if (count > 0) {
      slots.release(count);
    }
  }

  @Override
  public void handle(Delivery delivery) {
    handedOver.incrementAndGet();
    received.add(delivery);
  }

  @Override
  public void handleNow(Delivery delivery) {
    handedOver.incrementAndGet();
    received.add(delivery);
  }

  @Override
  public void brokerError(Throwable error) {
    brokerErrors.add(error);
  }

  @Override
  public void consumptionEnded(Throwable cause) {
    endings.add(cause);
  }

  /** The next delivery, waiting up to {@code seconds}; null when none came. */
  public @Nullable Delivery next(long seconds) throws InterruptedException {
    return received.poll(seconds, TimeUnit.SECONDS);
  }

  /** Deliveries handed over and not yet taken with {@link #next}. */
  public int waiting() {
    return received.size();
  }

  /** All deliveries handed over so far. */
  public int handedOver() {
    return handedOver.get();
  }

  public List<Throwable> brokerErrors() {
    return List.copyOf(brokerErrors);
  }

  /** What {@link #consumptionEnded} reported: the consumption ended by itself. */
  public List<Throwable> endings() {
    return List.copyOf(endings);
  }

  public void ack(Delivery delivery) {
    delivery.ack();
    slots.release();
  }

  public void requeue(Delivery delivery, java.time.Duration delay) {
    delivery.requeue(delay);
    slots.release();
  }

  public void deadLetter(Delivery delivery, String reason) {
    delivery.deadLetter(reason);
    slots.release();
  }
}
