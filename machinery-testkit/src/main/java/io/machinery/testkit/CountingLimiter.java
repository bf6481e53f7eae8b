package io.machinery.testkit;

import io.machinery.TaskLimit;
import io.machinery.spi.TaskLimiter;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Wraps a real {@link TaskLimiter} and counts what it decided, so a test can wait until tasks were
 * refused (they wait somewhere) instead of sleeping. Decides nothing itself, but may put a
 * namespace before every key: tests of several modules run at once against one Redis, and the same
 * key (a task name, {@code user:a}) in two tests would be one cap or one rate for both.
 * Thread-safe; closing it leaves the wrapped limiter to its owner.
 */
public final class CountingLimiter implements TaskLimiter {
  private final TaskLimiter limiter;
  private final String namespace;
  private final AtomicLong refused = new AtomicLong();
  private final AtomicInteger held = new AtomicInteger();
  private final Set<String> refusedKeys = ConcurrentHashMap.newKeySet();

  /**
   * Counts the decisions of {@code limiter} on the keys the worker asks for.
   *
   * @param limiter the limiter that decides
   */
  public CountingLimiter(TaskLimiter limiter) {
    this(limiter, "");
  }

  /**
   * Counts the decisions of {@code limiter}, which sees every key with {@code namespace} before it
   * (shared by the limiters of one test, unique to it); {@link #refusedKeys()} lists the keys as
   * the worker asked for them.
   *
   * @param limiter the limiter that decides
   * @param namespace put before every key the limiter sees
   */
  public CountingLimiter(TaskLimiter limiter, String namespace) {
    this.limiter = limiter;
    this.namespace = namespace;
  }

  @Override
  public Decision tryAcquire(String key, TaskLimit limit, String holder) {
    Decision d = limiter.tryAcquire(namespace + key, limit, holder);
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
    limiter.release(namespace + key, limit, holder);
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
