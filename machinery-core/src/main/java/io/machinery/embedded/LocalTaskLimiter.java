package io.machinery.embedded;

import io.machinery.TaskLimit;
import io.machinery.spi.TaskLimiter;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A {@link TaskLimiter} whose state lives in this JVM: limits hold for the workers that share this
 * instance (one worker by default), not across processes. Use it with the memory and eager brokers
 * and for single-JVM deployments; a cluster needs a shared store (the Redis limiter).
 *
 * <p>Design notes: the same GCRA as the Redis limiter (one "theoretical arrival time" per key, in
 * nanoseconds of the injected clock) and a set of holders per key for the cap, all under one lock
 * (decisions are microseconds; the worker asks once per limited delivery). A key's holders go when
 * its last slot is released, and arrival times already past (a full bucket again) are pruned once
 * over 1,024 keys have one, so keys from arguments do not pile up. Thread-safe; nothing to close.
 */
public final class LocalTaskLimiter implements TaskLimiter {
  private final Clock clock;
  private final Map<String, Long> arrival = new HashMap<>();
  private final Map<String, Set<String>> holders = new HashMap<>();

  private LocalTaskLimiter(Clock clock) {
    this.clock = clock;
  }

  /**
   * A limiter on the system clock.
   *
   * @return a new limiter
   */
  public static LocalTaskLimiter create() {
    return new LocalTaskLimiter(Clock.systemUTC());
  }

  /**
   * A limiter on {@code clock} (tests pass a manual one).
   *
   * @param clock gives "now" for rates
   * @return a new limiter
   */
  public static LocalTaskLimiter create(Clock clock) {
    return new LocalTaskLimiter(Objects.requireNonNull(clock, "clock"));
  }

  @Override
  public synchronized Decision tryAcquire(String key, TaskLimit limit, String holder) {
    Set<String> running = holders.get(key);
    if (limit.maxConcurrent() > 0
        && running != null
        && !running.contains(holder)
        && running.size() >= limit.maxConcurrent()) {
      return Decision.FULL;
    }
    if (limit.hasRate()) {
      long now = nanos();
      long interval = limit.interval().toNanos();
      long tat = Math.max(arrival.getOrDefault(key, now), now);
      long allowAt = tat + interval - limit.burst() * interval;
      if (allowAt > now) {
        return Decision.retryAfter(Duration.ofNanos(allowAt - now));
      }
      arrival.put(key, tat + interval);
      pruneArrivals(now);
    }
    if (limit.maxConcurrent() > 0) {
      holders.computeIfAbsent(key, k -> new HashSet<>()).add(holder);
    }
    return Decision.ADMITTED;
  }

  @Override
  public synchronized void release(String key, TaskLimit limit, String holder) {
    Set<String> running = holders.get(key);
    if (running != null && running.remove(holder) && running.isEmpty()) {
      holders.remove(key);
    }
  }

  /** How many keys hold state (for tests of the pruning). */
  synchronized int keys() {
    Set<String> all = new HashSet<>(arrival.keySet());
    all.addAll(holders.keySet());
    return all.size();
  }

  /** Drops arrival times already in the past: such a key is back to a full bucket. */
  private void pruneArrivals(long now) {
    if (arrival.size() > 1024) {
      arrival.values().removeIf(tat -> tat <= now);
    }
  }

  private long nanos() {
    java.time.Instant i = clock.instant();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  /** Nothing to release. */
  @Override
  public void close() {}

  @Override
  public String toString() {
    return "LocalTaskLimiter";
  }
}
