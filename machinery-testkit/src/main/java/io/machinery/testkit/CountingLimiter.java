package io.machinery.testkit;

import io.machinery.TaskLimit;
import io.machinery.spi.TaskLimiter;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Wraps a real {@link TaskLimiter} and counts what it decided, so a test can wait until tasks were
 * refused (they wait somewhere) instead of sleeping. Decides nothing itself. Thread-safe; closing
 * it leaves the wrapped limiter to its owner.
 */
public final class CountingLimiter implements TaskLimiter {
  private final TaskLimiter limiter;
  private final AtomicLong refused = new AtomicLong();
  private final AtomicInteger held = new AtomicInteger();
  private final Set<String> refusedKeys = ConcurrentHashMap.newKeySet();

  public CountingLimiter(TaskLimiter limiter) {
    this.limiter = limiter;
  }

  @Override
  public Decision tryAcquire(String key, TaskLimit limit, String holder) {
    Decision d = limiter.tryAcquire(key, limit, holder);
    if (d.admitted()) {
      if (limit.maxConcurrent() > 0) {
        held.incrementAndGet();
      }
    } else {
      refused.incrementAndGet();
      refusedKeys.add(key);
    }
    return d;
  }

  @Override
  public void release(String key, TaskLimit limit, String holder) {
    if (limit.maxConcurrent() > 0) {
      held.decrementAndGet();
    }
    limiter.release(key, limit, holder);
  }

  /** How many asks were refused so far. */
  public long refused() {
    return refused.get();
  }

  /** The keys that were refused at least once. */
  public Set<String> refusedKeys() {
    return Set.copyOf(refusedKeys);
  }

  /** Slots taken and not yet given back. */
  public int held() {
    return held.get();
  }

  @Override
  public void close() {}
}
