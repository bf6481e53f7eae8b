package io.machinery.embedded;

import io.machinery.spi.Lock;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Go's eager lock: process-local keys with expiry times; a key is free when absent or expired.
 * {@link #tryLockWithRetries} makes {@value #DEFAULT_RETRIES} attempts, {@code retryInterval} apart
 * (Go waits 5 s; the default here is {@link #DEFAULT_RETRY_INTERVAL}). Thread-safe.
 */
public final class EagerLock implements Lock {
  public static final int DEFAULT_RETRIES = 3;
  public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofSeconds(5);

  private final ConcurrentHashMap<String, Long> expiries = new ConcurrentHashMap<>();
  private final Clock clock;
  private final int retries;
  private final Duration retryInterval;

  private EagerLock(Clock clock, int retries, Duration retryInterval) {
    this.clock = clock;
    this.retries = retries;
    this.retryInterval = retryInterval;
  }

  public static EagerLock create() {
    return create(Clock.systemUTC());
  }

  public static EagerLock create(Clock clock) {
    return new EagerLock(clock, DEFAULT_RETRIES, DEFAULT_RETRY_INTERVAL);
  }

  public static EagerLock create(Clock clock, int retries, Duration retryInterval) {
    if (retries < 0) {
      throw new IllegalArgumentException("retries must be >= 0, was " + retries);
    }
    return new EagerLock(clock, retries, retryInterval);
  }

  @Override
  public boolean tryLock(String key, long expiresAtUnixNanos) {
    long now = nowNanos();
    boolean[] taken = new boolean[1];
    expiries.compute(
        key,
        (k, current) -> {
          if (current == null || current <= now) {
            taken[0] = true;
            return expiresAtUnixNanos;
          }
          return current;
        });
    return taken[0];
  }

  @Override
  public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
    for (int attempt = 0; attempt <= retries; attempt++) {
      if (tryLock(key, expiresAtUnixNanos)) {
        return true;
      }
      if (attempt < retries && !retryInterval.isZero()) {
        try {
          Thread.sleep(retryInterval);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return false;
  }

  private long nowNanos() {
    Instant now = clock.instant();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  @Override
  public void close() {
    expiries.clear();
  }
}
