package io.machinery.spi;

import io.machinery.TaskLimit;
import java.time.Duration;
import java.util.Objects;

/**
 * Shared state behind rate limits and concurrency caps ({@link TaskLimit}): a worker asks it before
 * a limited task runs, and gives a concurrency slot back when the run ends. One implementation
 * keeps the state in this JVM ({@link io.machinery.embedded.LocalTaskLimiter}); a store shared by
 * every worker makes the limit cluster-wide (the Redis one in {@code machinery-lock-redis}),
 * whatever the broker is.
 *
 * <p>Implementations are thread-safe. Calls may block for one round trip to the store. Whoever
 * builds a limiter closes it. Plug-ins are passed in explicitly ({@code
 * Worker.Builder.limiter(TaskLimiter)}).
 *
 * <p>A limit's numbers travel with each call, so the store keeps no configuration: workers that
 * share a key should configure the same limit (the numbers of the latest call apply).
 */
public interface TaskLimiter extends AutoCloseable {

  /**
   * Asks to start one run under {@code limit}, counted against {@code key}. Rate and cap are
   * decided together: a refused call takes nothing (no rate token, no slot).
   *
   * @param key what the limit counts against (the task name, or the limit's key function's result)
   * @param limit the numbers: rate, burst, concurrency cap
   * @param holder names this run: the slot it takes, when the limit caps concurrency, is held under
   *     this name until {@link #release} (or, in a shared store, until its lease lapses because the
   *     worker died)
   * @return whether to go, or how long to wait before asking again
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  Decision tryAcquire(String key, TaskLimit limit, String holder);

  /**
   * Gives back the concurrency slot {@code holder} took under {@code key}; nothing happens when it
   * holds none (a limit without cap, or a slot already lapsed). Never throws for an unreachable
   * store: the slot then lapses with its lease.
   *
   * @param key as given to {@link #tryAcquire}
   * @param limit as given to {@link #tryAcquire}
   * @param holder as given to {@link #tryAcquire}
   */
  void release(String key, TaskLimit limit, String holder);

  /** Releases what the limiter holds (connections, renewal threads); idempotent. */
  @Override
  void close();

  /**
   * The answer to {@link #tryAcquire}: go, or wait.
   *
   * @param admitted true: the run may start (and holds a slot when the limit caps concurrency)
   * @param retryAfter when refused, how long until a retry can succeed; {@link Duration#ZERO} when
   *     the limiter cannot tell (a full concurrency cap frees a slot when some run ends)
   */
  record Decision(boolean admitted, Duration retryAfter) {
    /** Go. */
    public static final Decision ADMITTED = new Decision(true, Duration.ZERO);

    /** Wait for a slot: the limiter cannot tell how long. */
    public static final Decision FULL = new Decision(false, Duration.ZERO);

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException when {@code retryAfter} is negative
     */
    public Decision {
      Objects.requireNonNull(retryAfter, "retryAfter");
      if (retryAfter.isNegative()) {
        throw new IllegalArgumentException("retryAfter must not be negative, was " + retryAfter);
      }
    }

    /**
     * A refusal: a rate token becomes free after {@code delay}.
     *
     * @param delay how long to wait before asking again
     * @return the decision
     */
    public static Decision retryAfter(Duration delay) {
      return new Decision(false, delay);
    }
  }
}
