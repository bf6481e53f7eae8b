package io.machinery.spi;

import io.machinery.MachineryException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go's {@code LockWithRetries} for any {@link Lock}: {@link Lock#tryLock} up to {@code retries} + 1
 * times, {@code interval} apart; a failure of the lock's store counts as a failed try and is logged
 * once per outage. What a lock's {@link Lock#tryLockWithRetries} delegates to. Thread-safe.
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
   * Tries {@code lock} until a try takes it or the retries are spent.
   *
   * @param lock the lock
   * @param key the lock's name
   * @param expiresAtUnixNanos when the lock lapses by itself
   * @return whether a try took the lock; false when interrupted (the flag is kept)
   */
  public boolean tryLock(Lock lock, String key, long expiresAtUnixNanos) {
    for (int attempt = 0; attempt <= retries; attempt++) {
      try {
        boolean taken = lock.tryLock(key, expiresAtUnixNanos);
        failing.set(false);
        if (taken) {
          return true;
        }
      } catch (MachineryException e) {
        if (failing.compareAndSet(false, true)) {
          log.warn("Taking the periodic-task lock {} failed: {}", key, e.getMessage());
        }
      }
      if (attempt < retries && !interval.isZero()) {
        try {
          TimeUnit.NANOSECONDS.sleep(interval.toNanos());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return false;
  }
}
