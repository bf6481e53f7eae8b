package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SharedSlotsTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  /** A worker of fixed concurrency that keeps each delivery running until the test finishes it. */
  private static final class Worker implements DeliveryHandler {
    final Semaphore slots;
    final int capacity;
    final List<Delivery> running = new CopyOnWriteArrayList<>();

    /** A delivery this worker refuses: its handle throws, keeping and freeing no slot. */
    volatile @Nullable Delivery refused;

    Worker(int capacity) {
      this.slots = new Semaphore(capacity);
      this.capacity = capacity;
    }

    void finish(Delivery delivery) {
      running.remove(delivery);
      slots.release();
    }

    @Override
    public int reserve(int max) throws InterruptedException {
      slots.acquire();
      int reserved = 1;
      while (reserved < max && slots.tryAcquire()) {
        reserved++;
      }
      return reserved;
    }

    @Override
    public int reserve(int max, Duration timeout) throws InterruptedException {
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
      return capacity;
    }

    @Override
    public void release(int count) {
      slots.release(count);
    }

    @Override
    public void handle(Delivery delivery) {
      if (delivery == refused) {
        throw new OutOfMemoryError("injected: no thread for " + delivery);
      }
      running.add(delivery);
    }

    @Override
    public void handleNow(Delivery delivery) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void brokerError(Throwable error) {}
  }

  /** A delivery that records whether it was given back; its requeue may throw. */
  private static final class Message implements Delivery {
    final String name;
    volatile boolean requeued;
    final @Nullable Error requeueError;

    Message(String name) {
      this(name, null);
    }

    Message(String name, @Nullable Error requeueError) {
      this.name = name;
      this.requeueError = requeueError;
    }

    @Override
    public byte[] body() {
      return name.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String queue() {
      return "q";
    }

    @Override
    public void ack() {}

    @Override
    public void requeue(Duration delay) {
      requeued = true;
      if (requeueError != null) {
        throw requeueError;
      }
    }

    @Override
    public void deadLetter(String reason) {}

    @Override
    public String toString() {
      return name;
    }
  }

  private SharedSlots slots;

  @AfterEach
  void stop() {
    if (slots != null) {
      slots.stop();
    }
  }

  @Test
  void aSideWaitingOnAnEmptyQueueHoldsNoSlotTheOtherSideNeeds() throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler waitingOnEmptyQueue = slots.side();
    DeliveryHandler busy = slots.side();

    assertThat(waitingOnEmptyQueue.reserve(8)).isEqualTo(1); // and now waits for messages
    assertThat(busy.reserve(8, PATIENCE)).as("not kept waiting by the other side").isEqualTo(1);
    Message message = new Message("m");
    busy.handle(message);
    assertThat(worker.running).containsExactly(message);
  }

  @Test
  void theWorkersConcurrencyBoundsBothSidesAndTheLineStartsAsSlotsFree() throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler old = slots.side();
    DeliveryHandler fresh = slots.side();
    assertThat(old.reserve(1)).isEqualTo(1);
    assertThat(fresh.reserve(1)).isEqualTo(1);
    Message first = new Message("first");
    Message second = new Message("second");
    old.handle(first);
    fresh.handle(second);
    assertThat(worker.running).as("one slot, one running").containsExactly(first);

    worker.finish(first);
    await().atMost(PATIENCE).until(() -> worker.running.equals(List.of(second)));
    assertThat(worker.slots.availablePermits()).isZero();
  }

  @Test
  void aReservationInterruptedWhileTheWorkerIsBusyKeepsNoneOfTheSidesCount() throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler side = slots.side();
    worker.slots.acquire(); // the worker's one slot is busy
    java.util.concurrent.atomic.AtomicReference<Throwable> thrown =
        new java.util.concurrent.atomic.AtomicReference<>();
    Thread fetcher =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    side.reserve(1);
                  } catch (Throwable e) {
                    thrown.set(e);
                  }
                });
    await().atMost(PATIENCE).until(() -> worker.slots.hasQueuedThreads());
    fetcher.interrupt(); // the broker stops its fetch
    fetcher.join();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);

    worker.release(1);
    assertThat(side.reserve(1, PATIENCE)).as("its one own slot is free again").isEqualTo(1);
  }

  @Test
  void stoppingGivesTheWaitingDeliveriesBackAndLaterOnesAtOnce() throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler old = slots.side();
    DeliveryHandler fresh = slots.side();
    Message running = new Message("running");
    Message waiting = new Message("waiting");
    old.reserve(1);
    fresh.reserve(1);
    old.handle(running);
    fresh.handle(waiting);

    slots.stop();
    assertThat(waiting.requeued).as("the worker never saw it: back to its broker").isTrue();
    assertThat(running.requeued).as("the worker settles what it has").isFalse();
    worker.finish(running);
    Message late = new Message("late");
    old.handle(late);
    assertThat(late.requeued).isTrue();
    assertThat(worker.running).isEmpty();
    assertThat(worker.slots.availablePermits()).as("no slot kept by the stopped line").isEqualTo(1);
  }

  /**
   * {@link DeliveryHandler#handle}'s rule through the shared slots: the worker refusing a delivery
   * that arrives keeps and frees none of its slots, so the side gives the worker's slot back and
   * throws with its own slot still taken, for its broker to free. Before, the side freed its own
   * slot before the hand-over and kept the worker's: the broker freed the side's slot a second
   * time, and the worker's stayed taken for good.
   */
  @Test
  void aDeliveryTheWorkerRefusesOnArrivalLeavesEverySlotFreedOnce() throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler side = slots.side();
    Message refused = new Message("refused");
    worker.refused = refused;
    assertThat(side.reserve(1)).isEqualTo(1);

    Throwable thrown = null;
    try {
      side.handle(refused);
    } catch (Throwable t) {
      side.release(1); // as its broker does: not handed over
      thrown = t;
    }

    assertThat(thrown).isInstanceOf(OutOfMemoryError.class);
    assertThat(worker.slots.availablePermits()).as("the worker's free slots").isEqualTo(1);
    assertThat(side.reserve(1, Duration.ZERO)).isEqualTo(1);
    assertThat(side.reserve(1, Duration.ZERO))
        .as("a second slot of a side of a worker of concurrency 1")
        .isZero();
  }

  /**
   * A delivery waiting in the line that the worker refuses goes back to its broker (which handed it
   * over long ago and will not take it back by itself), with the worker's and the side's slots, and
   * the line goes on. Before, the dispatcher died of the throw with the worker's slot taken, and
   * the delivery stayed with no one.
   */
  @Test
  void aDeliveryTheWorkerRefusesFromTheLineGoesBackToItsBrokerAndTheLineGoesOn() throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler old = slots.side();
    DeliveryHandler fresh = slots.side();
    Message first = new Message("first");
    Message refused = new Message("refused");
    worker.refused = refused;
    old.reserve(1);
    fresh.reserve(1);
    old.handle(first);
    fresh.handle(refused); // waits in the line
    assertThat(worker.running).containsExactly(first);

    worker.finish(first);
    await().atMost(PATIENCE).until(() -> refused.requeued);
    await().atMost(PATIENCE).until(() -> worker.slots.availablePermits() == 1);

    Message third = new Message("third");
    Message fourth = new Message("fourth");
    assertThat(old.reserve(1, PATIENCE)).isEqualTo(1);
    assertThat(fresh.reserve(1, PATIENCE)).as("the refused delivery's side slot").isEqualTo(1);
    old.handle(third);
    fresh.handle(fourth); // waits in the line
    worker.finish(third);
    await().atMost(PATIENCE).until(() -> worker.running.equals(List.of(fourth)));
    assertThat(fourth.requeued).isFalse();
  }

  /**
   * A stop gives every waiting delivery back and frees each one's side slot, whatever a requeue
   * throws. Before, a requeue that threw an {@link Error} (an {@code AssertionError} in a broker,
   * out of memory) left {@code stop()} at once: that side's slot stayed taken for good and the
   * deliveries behind it in the line were neither given back nor freed.
   */
  @Test
  void aStopGivesTheWholeLineBackAndFreesEverySlotWhenARequeueThrowsAnError() throws Exception {
    Worker worker = new Worker(2);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler old = slots.side();
    DeliveryHandler fresh = slots.side();
    assertThat(fresh.reserve(2)).isEqualTo(2);
    assertThat(old.reserve(2)).isEqualTo(2);
    Message first = new Message("first");
    Message second = new Message("second");
    Message failing = new Message("failing", new AssertionError("injected: requeue"));
    Message behind = new Message("behind");
    old.handle(first);
    old.handle(second);
    fresh.handle(failing); // both wait in the line: the worker is full
    fresh.handle(behind);
    assertThat(worker.running).containsExactly(first, second);

    slots.stop();

    assertThat(failing.requeued).as("its requeue was tried").isTrue();
    assertThat(behind.requeued).as("the delivery behind the failed one was given back").isTrue();
    worker.finish(first);
    worker.finish(second);
    assertThat(fresh.reserve(2, Duration.ZERO)).as("the side's two slots, free again").isEqualTo(2);
  }

  /**
   * A delivery from the line that the worker refuses and whose requeue then throws an {@link Error}
   * frees its side's slot, and the dispatcher goes on with the line. Before, the Error ended the
   * dispatcher: the side's slot stayed taken, and nothing in the line started again.
   */
  @Test
  void aRefusedDeliveryFromTheLineWhoseRequeueThrowsAnErrorFreesItsSlotAndTheLineGoesOn()
      throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler old = slots.side();
    DeliveryHandler fresh = slots.side();
    Message first = new Message("first");
    Message refused = new Message("refused", new AssertionError("injected: requeue"));
    worker.refused = refused;
    old.reserve(1);
    fresh.reserve(1);
    old.handle(first);
    fresh.handle(refused); // waits in the line
    worker.finish(first);
    await().atMost(PATIENCE).until(() -> refused.requeued);

    assertThat(fresh.reserve(1, PATIENCE)).as("the refused delivery's side slot").isEqualTo(1);
    assertThat(old.reserve(1, PATIENCE)).isEqualTo(1);
    Message third = new Message("third");
    Message fourth = new Message("fourth");
    old.handle(third);
    fresh.handle(fourth); // waits in the line
    worker.finish(third);
    await().atMost(PATIENCE).until(() -> worker.running.equals(List.of(fourth)));
  }

  /**
   * A delivery arriving after the stop whose requeue throws an {@link Error}: the Error goes on to
   * its broker with the side's slot still taken, for the broker frees it ({@link
   * DeliveryHandler#handle}'s rule), so that slot is freed once.
   */
  @Test
  void aDeliveryArrivingAfterTheStopWhoseRequeueThrowsAnErrorLeavesItsSlotToTheBroker()
      throws Exception {
    Worker worker = new Worker(1);
    slots = new SharedSlots(worker, "test");
    DeliveryHandler side = slots.side();
    slots.stop();
    AssertionError requeueFailed = new AssertionError("injected: requeue");
    Message late = new Message("late", requeueFailed);
    assertThat(side.reserve(1)).isEqualTo(1);

    Throwable thrown = null;
    try {
      side.handle(late);
    } catch (Throwable t) {
      side.release(1); // as its broker does: not handed over
      thrown = t;
    }

    assertThat(thrown).isSameAs(requeueFailed);
    assertThat(side.reserve(1, Duration.ZERO)).isEqualTo(1);
    assertThat(side.reserve(1, Duration.ZERO))
        .as("a second slot of a side of a worker of concurrency 1")
        .isZero();
  }
}
