package io.machinery.spi;

import io.machinery.MachineryException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go's {@code LockWithRetries} for any {@link Lock}: {@link Lock#tryLock} up to {@code retries} + 1
 * times, {@code interval} apart. A failure of the lock's store counts as a failed try; when every
 * try failed so, the last failure is thrown (the store could not be reached, which is not "someone
 * else holds the lock"). What a lock's {@link Lock#tryLockWithRetries} delegates to. Thread-safe.
 */
public final class LockRetries {
  private static final Logger log = LoggerFactory.getLogger(LockRetries.class);

  private final int retries;
  private final Duration interval;
  private final AtomicBoolean failing = new AtomicBoolean();

  /**
   * Tries that many times more after a failed one, that long apart.
   *
   * @param retries 0 or more
   * @param interval zero (a busy spin, as Go's) or more
   */
  public LockRetries(int retries, Duration interval) {
    if (retries < 0) {
      throw new IllegalArgumentException("retries must be 0 or more, was " + retries);
    }
    if (Objects.requireNonNull(interval, "interval").isNegative()) {
      throw new IllegalArgumentException("the retry interval cannot be negative, was " + interval);
    }
    this.retries = retries;
    this.interval = interval;
  }

  /**
   * Tries {@code lock} until a try takes it or the retries are spent. A try that answers, even
   * "held elsewhere", outweighs the failures of the others: the store was reached and said who
   * holds the lock. An interrupt ends the tries at once, its flag kept: what the tries made so far
   * said decides.
   *
   * @param lock the lock
   * @param key the lock's name
   * @param expiresAtUnixNanos when the lock lapses by itself
   * @return whether a try took the lock; false when none did and one at least answered
   * @throws MachineryException the last try's failure, when no try answered (the lock's store
   *     failed or could not be reached on each of them)
   */
  public boolean tryLock(Lock lock, String key, long expiresAtUnixNanos) {
    @Nullable MachineryException failure = null;
    boolean answered = false;
    boolean taken = false;
    for (int attempt = 0; attempt <= retries && !taken; attempt++) {
      if (attempt > 0 && !interval.isZero()) {
        try {
          TimeUnit.NANOSECONDS.sleep(interval.toNanos());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      try {
        taken = lock.tryLock(key, expiresAtUnixNanos);
        answered = true;
      } catch (MachineryException e) {
        failure = e;
      }
      if (Thread.currentThread().isInterrupted()) {
        break; // no further try once interrupted: the caller is closing
      }
    }
    if (!answered && failure != null) {
      throw failure; // the caller logs it
    }
    if (failure == null) {
      failing.set(false);
    } else if (failing.compareAndSet(false, true)) {
      // the failure goes no further, so it is logged here, once per outage
      log.warn("Taking the periodic-task lock {} failed on a try: {}", key, failure.getMessage());
    }
    return taken;
  }
}
