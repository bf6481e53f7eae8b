package io.machinery.benchmarks;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the in-JVM broker benchmarks' drivers share: parallel steps, waits, time and percentiles.
 */
public final class Drivers {
  private Drivers() {}

  /** One step of a driver's loop. */
  public interface Step {
    void run(int i) throws Exception;
  }

  /**
   * Runs {@code total} steps on {@code threads} platform threads, splitting the work evenly; throws
   * the first step's failure (its thread stops; the others finish their share).
   */
  public static void runConcurrently(int threads, int total, Step step) throws Exception {
    AtomicInteger next = new AtomicInteger();
    List<Thread> started = new ArrayList<>();
    List<Exception> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int t = 0; t < threads; t++) {
      started.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    int i;
                    while ((i = next.getAndIncrement()) < total) {
                      try {
                        step.run(i);
                      } catch (Exception e) {
                        errors.add(e);
                        return;
                      }
                    }
                  }));
    }
    for (Thread thread : started) {
      thread.join();
    }
    if (!errors.isEmpty()) {
      throw errors.get(0);
    }
  }

  /** Waits until {@code counter} reaches {@code target}; fails after ten minutes. */
  public static void awaitCount(AtomicLong counter, long target) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (counter.get() < target) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "only " + counter.get() + " of " + target + " tasks finished");
      }
      Thread.sleep(1); // a benchmark driver, not a test: polling a counter is the cheapest wait
    }
  }

  /** Seconds since {@code startNanos} ({@link System#nanoTime()}). */
  public static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  /** The nearest-rank {@code p} (0-1) percentile of nanosecond values, in milliseconds. */
  public static double percentile(long[] values, double p) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    int index = (int) Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
    return sorted[Math.max(0, index)] / 1e6;
  }
}
