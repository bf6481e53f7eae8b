package io.machinery.backend.redis;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Starts the reads of deferred write chains ({@link WriteChain#deferred}) whose task is still
 * running a grace ({@link #GRACE_NANOS} by default) after it began.
 *
 * <p>Design notes. With few tasks in flight a task's final state is the merge script, which reads
 * the stored state itself, so the chain's {@code GET} is only needed by the RECEIVED and STARTED
 * writes of a task that runs for a while; most short tasks end first, and then their RECEIVED and
 * STARTED are superseded by the final state without a command sent (one Redis command and one reply
 * less per task). A task still running after the grace gets its read, then those writes, as before:
 * its STARTED becomes visible at most the grace plus one tick late. One platform thread serves the
 * backend: chains enter a FIFO in start order, so the due ones are always at its head; it parks
 * while the FIFO is empty and is woken by the first chain after that, so an idle backend costs no
 * wake-ups. Thread-safe.
 */
final class DeferredReads implements AutoCloseable {
  /** How long a task runs before its RECEIVED and STARTED are written, by default. */
  static final long GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(2);

  private final long graceNanos;

  private record Due(WriteChain chain, long atNanos) {}

  private final ConcurrentLinkedQueue<Due> due = new ConcurrentLinkedQueue<>();
  private final AtomicInteger size = new AtomicInteger();
  private final AtomicBoolean started = new AtomicBoolean();
  private volatile boolean closed;
  private volatile @Nullable Thread thread;

  DeferredReads(long graceNanos) {
    this.graceNanos = graceNanos;
  }

  /** Starts {@code chain}'s read after the grace, unless the chain has ended by then. */
  void add(WriteChain chain) {
    due.add(new Due(chain, System.nanoTime() + graceNanos));
    if (size.getAndIncrement() == 0) {
      Thread t = thread;
      if (t == null && started.compareAndSet(false, true)) {
        t = Thread.ofPlatform().daemon().name("machinery-redis-state-reads").start(this::run);
        thread = t;
      }
      if (t != null) {
        LockSupport.unpark(t);
      }
    }
  }

  private void run() {
    while (!closed) {
      Due head = due.peek();
      if (head == null) {
        LockSupport.park(this);
        continue;
      }
      long wait = head.atNanos() - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(this, wait);
        continue;
      }
      due.poll();
      size.decrementAndGet();
      try {
        head.chain().startRead();
      } catch (Throwable e) {
        // startRead reports a failed send through the chain's writes; nothing may end this loop
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    Thread t = thread;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }
}
