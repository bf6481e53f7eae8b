package io.machinery;

import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.wire.LogText;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker's execution slots shared by the consumers of two brokers ({@link MigratingBroker}).
 *
 * <p>Design notes: a broker reserves slots before it fetches and may hold them while it waits on an
 * empty queue (a blocking move on Redis, a long poll on SQS, an untimed wait in memory). Were both
 * consumers handed the worker's handler, the one waiting on its empty queue would hold the slots
 * the other needs. So each consumer gets a {@link #side()} of its own:
 *
 * <ul>
 *   <li>a side's {@link DeliveryHandler#reserve} waits until the worker has a free slot, but only
 *       checks it (reserves it and gives it straight back) and reserves on the side's own count
 *       instead, so a side waiting on an empty queue holds nothing the other side needs;
 *   <li>a delivery takes a worker slot when it arrives; if the other side took the free slots
 *       meanwhile, it waits in a line that a dispatcher thread hands to the worker, in arrival
 *       order, as slots free up. A side's count is given back once its delivery reaches the worker,
 *       so each side has at most the worker's concurrency fetched and not yet started (the line
 *       stays short: only deliveries of a race wait in it);
 *   <li>stopping gives the deliveries still in the line back to their brokers (requeued at once):
 *       the worker never saw them. Each frees its side's slot exactly once whatever its requeue
 *       throws, {@link Error}s included (logged, with the queue: the broker returns an unsettled
 *       delivery once the consumer closes), and the rest of the line is still given back;
 *   <li>a hand-over the worker refuses (its {@link DeliveryHandler#handle} throws, having neither
 *       kept nor freed its slot) gives the worker's slot back; on arrival the throw goes on to the
 *       side's broker, which frees the side's slot and takes the message back (the same rule, one
 *       level up), while a delivery from the line goes back to its broker from here, as on a stop.
 * </ul>
 */
final class SharedSlots {
  private static final Logger log = LoggerFactory.getLogger(SharedSlots.class);

  private final DeliveryHandler worker;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition arrived = lock.newCondition();
  private final ArrayDeque<Waiting> line = new ArrayDeque<>();
  private final String consumerTag;
  private final Thread dispatcher;
  private volatile boolean stopped;
  private final AtomicBoolean endReported = new AtomicBoolean();

  /** A delivery waiting for a worker slot, with the side whose count it holds. */
  private record Waiting(Delivery delivery, Side side) {}

  SharedSlots(DeliveryHandler worker, String consumerTag) {
    this.worker = worker;
    this.consumerTag = consumerTag;
    this.dispatcher =
        Thread.ofVirtual().name("machinery-migration-" + consumerTag).start(this::dispatch);
  }

  /** A handler for one broker's consumer. */
  DeliveryHandler side() {
    return new Side();
  }

  /** Gives the waiting deliveries back to their brokers and ends the dispatcher. Idempotent. */
  void stop() {
    List<Waiting> back;
    lock.lock();
    try {
      stopped = true;
      back = new ArrayList<>(line);
      line.clear();
    } finally {
      lock.unlock();
    }
    dispatcher.interrupt();
    for (Waiting waiting : back) {
      giveBack(waiting);
    }
  }

  /**
   * Gives a delivery that waited in the line back to its broker, and its side's slot: each exactly
   * once whatever the requeue throws. Its broker handed it over long ago and frees nothing itself,
   * and whoever calls this (a stop, the dispatcher) must go on with the rest of the line, so a
   * failure, an {@link Error} too, is logged here and goes no further.
   */
  private void giveBack(Waiting waiting) {
    try {
      waiting.delivery.requeue(Duration.ZERO);
    } catch (Throwable t) {
      logGiveBackFailure(waiting.delivery, t);
    } finally {
      waiting.side.own.release();
    }
  }

  /**
   * Gives a delivery that arrived after the stop back to its broker, inside its side's {@link
   * Side#handle}. A requeue that throws a {@code RuntimeException} is logged and the side's slot
   * freed (the hand-over returns: the delivery is settled as far as this side can); an {@link
   * Error} is logged and goes on to the broker with the side's slot kept, for the broker frees it
   * ({@link DeliveryHandler#handle}'s rule).
   */
  private void giveBackOnArrival(Waiting waiting) {
    try {
      waiting.delivery.requeue(Duration.ZERO);
    } catch (RuntimeException e) {
      logGiveBackFailure(waiting.delivery, e);
    } catch (Error e) {
      logGiveBackFailure(waiting.delivery, e);
      throw e;
    }
    waiting.side.own.release();
  }

  /**
   * A requeue of a delivery the worker never saw failed: its broker returns it anyway once the
   * consumer closes (an unsettled delivery). The task is not known here (the message was never
   * decoded), so the queue names it; an {@link Error} is logged with its stack trace.
   */
  private void logGiveBackFailure(Delivery delivery, Throwable failure) {
    if (failure instanceof Error) {
      log.error(
          "Migration {}: could not give a waiting delivery from queue {} back to its broker; it"
              + " comes back when the consumer closes",
          consumerTag,
          LogText.of(delivery.queue()),
          failure);
    } else {
      log.warn(
          "Migration {}: could not give a waiting delivery from queue {} back to its broker ({});"
              + " it comes back when the consumer closes",
          consumerTag,
          LogText.of(delivery.queue()),
          failure.toString());
    }
  }

  /**
   * Hands {@code delivery} to the worker with a worker slot reserved for it. If the worker throws,
   * it neither kept nor freed that slot ({@link DeliveryHandler#handle}'s rule): it goes back here,
   * and the throw goes on.
   */
  private void handOver(Delivery delivery) {
    try {
      worker.handle(delivery);
    } catch (Throwable t) {
      worker.release(1);
      throw t;
    }
  }

  private void arrive(Delivery delivery, Side side) {
    Waiting waiting = new Waiting(delivery, side);
    lock.lock();
    try {
      if (!stopped) {
        if (line.isEmpty() && worker.reserve(1, Duration.ZERO) == 1) {
          // the side's slot goes back once the worker has the delivery: should the hand-over
          // throw, the side's broker frees it (the rule again)
          handOver(delivery);
          side.own.release();
        } else {
          line.addLast(waiting);
          arrived.signal();
        }
        return;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      line.addLast(waiting);
      arrived.signal();
      return;
    } finally {
      lock.unlock();
    }
    giveBackOnArrival(waiting);
  }

  /** Hands the line to the worker as slots free up, oldest first. */
  private void dispatch() {
    while (!stopped) {
      try {
        awaitArrival();
        worker.reserve(1); // a slot for the head of the line, taken outside the lock
      } catch (InterruptedException e) {
        if (stopped) {
          return;
        }
        continue;
      }
      @Nullable Waiting head;
      lock.lock();
      try {
        head = line.pollFirst();
      } finally {
        lock.unlock();
      }
      if (head == null) { // emptied by stop()
        worker.release(1);
        return;
      }
      try {
        handOver(head.delivery);
      } catch (Throwable t) {
        // its broker handed it to the side long ago and will not take it back by itself: give it
        // back, and go on with the line
        log.error(
            "Migration {}: the worker did not take a waiting delivery ({}); gave it back to its"
                + " broker",
            consumerTag,
            t.toString());
        giveBack(head);
        continue;
      }
      head.side.own.release();
    }
  }

  private void awaitArrival() throws InterruptedException {
    lock.lock();
    try {
      while (line.isEmpty() && !stopped) {
        arrived.await();
      }
      if (stopped) {
        throw new InterruptedException("stopped");
      }
    } finally {
      lock.unlock();
    }
  }

  /** One broker's view of the worker's slots. */
  private final class Side implements DeliveryHandler {
    private final Semaphore own = new Semaphore(worker.capacity());

    @Override
    public int reserve(int max) throws InterruptedException {
      own.acquire();
      int free;
      try {
        free = worker.reserve(max);
      } catch (InterruptedException | RuntimeException e) {
        own.release();
        throw e;
      }
      return ownUpTo(max, free);
    }

    @Override
    public int reserve(int max, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      if (!own.tryAcquire(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        return 0;
      }
      int free;
      try {
        free = worker.reserve(max, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
      } catch (InterruptedException | RuntimeException e) {
        own.release();
        throw e;
      }
      if (free == 0) {
        own.release();
        return 0;
      }
      return ownUpTo(max, free);
    }

    /**
     * With one of this side's own slots held and {@code free} worker slots reserved only to see
     * that they are free: gives those back and returns how many own slots this side now holds, up
     * to {@code max} and {@code free}.
     */
    private int ownUpTo(int max, int free) {
      worker.release(free);
      int held = 1;
      while (held < Math.min(max, free) && own.tryAcquire()) {
        held++;
      }
      return held;
    }

    @Override
    public int capacity() {
      return worker.capacity();
    }

    @Override
    public void release(int slots) {
      if (slots > 0) {
        own.release(slots);
      }
    }

    @Override
    public void handle(Delivery delivery) {
      arrive(delivery, this);
    }

    @Override
    public void handleNow(Delivery delivery) {
      worker.handleNow(delivery);
    }

    @Override
    public void brokerError(Throwable error) {
      worker.brokerError(error);
    }

    /**
     * One side ended: the worker replaces both, so the move goes on (or stops) as one consumer; the
     * other side ending too (both brokers closed) is only a broker error then.
     */
    @Override
    public void consumptionEnded(Throwable cause) {
      if (!stopped && endReported.compareAndSet(false, true)) {
        worker.consumptionEnded(cause);
      } else {
        worker.brokerError(cause);
      }
    }
  }
}
