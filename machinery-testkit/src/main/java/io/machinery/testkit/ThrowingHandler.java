package io.machinery.testkit;

import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A {@link DeliveryHandler} that throws on its Nth delivery, as a worker that could not take it
 * would, and passes everything else to a {@link RecordingHandler}: for tests of a consumer's side
 * of {@link DeliveryHandler#handle}'s rule (a hand-over that throws leaves the message and its slot
 * to the broker). It counts the slots the consumer reserved and has neither released nor used for a
 * delivery handed over ({@link #slotsTaken()}: 0 once the consumer followed the rule).
 */
public final class ThrowingHandler implements DeliveryHandler {
  private final RecordingHandler slots;
  private final int capacity;
  private final int throwOn;
  private final AtomicInteger slotsTaken = new AtomicInteger();
  private int deliveries;
  private @Nullable Delivery thrownOn;

  /**
   * Throws on delivery {@code throwOn} (1 for the first), with the capacity of {@code slots}.
   *
   * @param slots where the other deliveries go, and whose slots are reserved
   * @param throwOn which delivery to throw on, from 1
   */
  public ThrowingHandler(RecordingHandler slots, int throwOn) {
    this(slots, slots.capacity(), throwOn);
  }

  /**
   * Throws on delivery {@code throwOn}, reporting {@code capacity} (which may exceed the slots
   * {@code slots} has, for a consumer that fetches ahead of free slots).
   *
   * @param slots where the other deliveries go, and whose slots are reserved
   * @param capacity what {@link #capacity()} reports
   * @param throwOn which delivery to throw on, from 1
   */
  public ThrowingHandler(RecordingHandler slots, int capacity, int throwOn) {
    this.slots = slots;
    this.capacity = capacity;
    this.throwOn = throwOn;
  }

  @Override
  public int reserve(int max) throws InterruptedException {
    int reserved = slots.reserve(max);
    slotsTaken.addAndGet(reserved);
    return reserved;
  }

  @Override
  public int reserve(int max, Duration timeout) throws InterruptedException {
    int reserved = slots.reserve(max, timeout);
    slotsTaken.addAndGet(reserved);
    return reserved;
  }

  @Override
  public int capacity() {
    return capacity;
  }

  @Override
  public void release(int count) {
    slotsTaken.addAndGet(-count);
    slots.release(count);
  }

  @Override
  public synchronized void handle(Delivery delivery) {
    if (++deliveries == throwOn) {
      thrownOn = delivery;
      throw new IllegalStateException("injected: the worker could not take the delivery");
    }
    slotsTaken.decrementAndGet(); // the delivery holds it now, not the consumer
    slots.handle(delivery);
  }

  @Override
  public void handleNow(Delivery delivery) {
    slots.handleNow(delivery);
  }

  @Override
  public void brokerError(Throwable error) {
    slots.brokerError(error);
  }

  @Override
  public void consumptionEnded(Throwable cause) {
    slots.consumptionEnded(cause);
  }

  /**
   * The delivery it threw on, once it has.
   *
   * @return that delivery, or null
   */
  public synchronized @Nullable Delivery thrownOn() {
    return thrownOn;
  }

  /**
   * Slots the consumer reserved and has neither released nor used for a delivery handed over.
   *
   * @return their number
   */
  public int slotsTaken() {
    return slotsTaken.get();
  }

  /**
   * The free slots of the {@link RecordingHandler}, counted by reserving them all (then given
   * back).
   *
   * @return their number
   * @throws InterruptedException never in practice (the reserve does not wait)
   */
  public int freeSlots() throws InterruptedException {
    int free = slots.reserve(Integer.MAX_VALUE, Duration.ZERO);
    slots.release(free);
    return free;
  }
}
