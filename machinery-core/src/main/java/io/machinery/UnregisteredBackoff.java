package io.machinery;

import io.machinery.wire.LogText;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a worker does with a message for a task it does not know (Go requeues it at once, for ever).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>The count lives in the message.</b> Each requeue carries header {@value
 *       MessageHeaders#UNREGISTERED} counted up, so the back-off keeps growing across workers and
 *       restarts and the worker keeps no per-message memory. A broker that cannot replace a message
 *       on requeue sends the old count back; its {@link io.machinery.spi.Delivery#deliveryCount()}
 *       is used instead where it counts.
 *   <li><b>Back-off.</b> {@link Worker#FIRST_UNREGISTERED_DELAY} doubling up to {@link
 *       Worker.Builder#maxUnregisteredDelay} (default {@link Worker#MAX_UNREGISTERED_DELAY}): never
 *       a hot loop, and a task registered later (rolling deploys) is picked up within the cap.
 *   <li><b>Bounded.</b> After {@code maxRequeues} requeues the message is dead-lettered with its
 *       reason; 0 keeps Go's behaviour (requeue for ever). {@code IgnoreWhenTaskNotRegistered}
 *       drops it, as Go does.
 *   <li><b>Logging.</b> One warning per task name per {@link #WARN_INTERVAL} (by the injected
 *       clock), for at most {@link #MAX_WARNED_NAMES} names at once, names cut by {@link LogText};
 *       the rest go to debug.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class UnregisteredBackoff {
  static final Duration WARN_INTERVAL = Duration.ofMinutes(1);
  static final int MAX_WARNED_NAMES = 256;

  /** What to do with the message. */
  sealed interface Decision {}

  /** Acknowledge and forget it ({@code IgnoreWhenTaskNotRegistered}). */
  record Drop() implements Decision {}

  /** Requeue {@code replacement} after {@code delay}; {@code requeues} counts this requeue. */
  record Requeue(Duration delay, Signature replacement, int requeues) implements Decision {}

  /** Give up: dead-letter with {@code reason}. */
  record DeadLetter(String reason) implements Decision {}

  private final Clock clock;
  private final Backoff backoff;
  private final int maxRequeues;
  private final Map<String, Long> lastWarnedMillis =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
          return size() > MAX_WARNED_NAMES;
        }
      };

  UnregisteredBackoff(Clock clock, Backoff backoff, int maxRequeues) {
    if (maxRequeues < 0) {
      throw new IllegalArgumentException(
          "maxUnregisteredRequeues must be >= 0 (0 = for ever), was " + maxRequeues);
    }
    this.clock = clock;
    this.backoff = backoff;
    this.maxRequeues = maxRequeues;
  }

  /**
   * @param deliveryCount the broker's delivery count of this message, 0 when it does not count
   */
  Decision decide(Signature signature, int deliveryCount) {
    if (signature.ignoreWhenTaskNotRegistered()) {
      return new Drop();
    }
    int done =
        Math.max(MessageHeaders.count(signature, MessageHeaders.UNREGISTERED), deliveryCount - 1);
    int next = done == Integer.MAX_VALUE ? done : done + 1;
    if (maxRequeues > 0 && next > maxRequeues) {
      return new DeadLetter(
          "task "
              + LogText.of(signature.name())
              + " is not registered with any worker that"
              + " received it; requeued "
              + done
              + " times (maxUnregisteredRequeues "
              + maxRequeues
              + ")");
    }
    return new Requeue(
        backoff.delay(next),
        MessageHeaders.with(signature, MessageHeaders.UNREGISTERED, next),
        next);
  }

  /** Whether to warn about {@code name} now (once per name per {@link #WARN_INTERVAL}). */
  boolean shouldWarn(String name) {
    String key = LogText.of(name);
    long now = clock.millis();
    synchronized (lastWarnedMillis) {
      Long last = lastWarnedMillis.get(key);
      if (last != null && now - last < WARN_INTERVAL.toMillis()) {
        return false;
      }
      lastWarnedMillis.put(key, now);
      return true;
    }
  }

  /** How many names the warning memory holds (for tests of its bound). */
  int warnedNames() {
    synchronized (lastWarnedMillis) {
      return lastWarnedMillis.size();
    }
  }
}
