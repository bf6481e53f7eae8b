package io.machinery.dashboard;

import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Runs the dashboard's reads with a deadline, so that a broker or backend that is down or stuck
 * costs an operator the deadline ({@link Dashboard.Builder#readTimeout}, 10 s by default) and a 503
 * that says so, not the client library's own timeout (Redis: 15 s a command by default, several
 * commands a page) for every poll of every open page.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li>A read runs on a virtual thread of its own; the request's thread waits for it at most the
 *       deadline, then interrupts it and answers 503. Reads change nothing, so giving one up is
 *       safe. Core's Redis client gives up its wait when interrupted; a client that does not keeps
 *       its thread until its own timeout, hence the next point.
 *   <li>At most {@link Dashboard.Builder#maxConcurrentReads} reads (16 by default) run at once,
 *       those given up but not yet ended included: beyond that a read answers 503 at once instead
 *       of leaving one more thread and one more queued command behind every poll while the broker
 *       is down.
 *   <li>Actions are not run here: an action given up at a deadline might still take effect, and the
 *       operator would be told it failed. They wait for the broker's own timeout, one click at a
 *       time.
 *   <li>The answer is written by the request's thread, after the read returned: a read given up
 *       never writes to the exchange.
 * </ul>
 *
 * Thread-safe. {@link #close()} interrupts the reads still running.
 */
final class BoundedReads implements AutoCloseable {
  private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
  private final Semaphore running;
  private final int maxRunning;
  private final Duration deadline;

  /**
   * @param deadline how long a read is waited for, at least 1 ms
   * @param maxRunning the most reads running at once, at least 1
   */
  BoundedReads(Duration deadline, int maxRunning) {
    this.deadline = deadline;
    this.maxRunning = maxRunning;
    this.running = new Semaphore(maxRunning);
  }

  /** How long a read is waited for. */
  Duration deadline() {
    return deadline;
  }

  /**
   * The deadline as an operator reads it: {@code 10 s}, or {@code 250 ms} when not whole seconds.
   */
  String shownDeadline() {
    long millis = deadline.toMillis();
    return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
  }

  /**
   * Runs {@code read} and returns its result, or throws what it threw.
   *
   * @throws Guard.Refused 503 when it did not end within the deadline, or when the most reads that
   *     may run at once are still running
   */
  <T> T call(Supplier<T> read) {
    if (!running.tryAcquire()) {
      throw new Guard.Refused(
          503,
          maxRunning
              + (maxRunning == 1 ? " read is" : " reads are")
              + " still waiting for the broker or the result backend, which are slow"
              + " or down: try again in a moment");
    }
    Future<T> result;
    try {
      result =
          threads.submit(
              () -> {
                try {
                  return read.get();
                } finally {
                  running.release();
                }
              });
    } catch (RejectedExecutionException e) {
      running.release();
      throw new Guard.Refused(503, "the dashboard is closing");
    }
    try {
      return result.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      result.cancel(true);
      throw new Guard.Refused(
          503,
          "the broker or the result backend did not answer within "
              + shownDeadline()
              + ": it is slow or down; the page tries again");
    } catch (InterruptedException e) {
      result.cancel(true);
      Thread.currentThread().interrupt();
      throw new Guard.Refused(503, "the dashboard is closing");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException(cause);
    }
  }

  @Override
  public void close() {
    threads.shutdownNow();
  }
}
