package io.machinery;

import java.time.Duration;
import java.util.Objects;

/**
 * A bound on how many tasks may wait in one queue before the senders of new work are pushed back
 * (set with {@link Server.Builder#bound(QueueBound)}): a send that would take the queue over {@link
 * #maxPending()} is refused with {@link QueueFullException}, at once ({@link WhenFull#REJECT}) or
 * after waiting up to {@link #maxWait()} for room ({@link WhenFull#WAIT}). Off unless set.
 * Immutable.
 *
 * <pre>{@code
 * Server server =
 *     Server.builder()
 *         .broker(broker)
 *         .backend(backend)
 *         .bound(QueueBound.reject("emails", 50_000))                         // fail fast: HTTP 503
 *         .bound(QueueBound.waitFor("imports", 10_000, Duration.ofMinutes(1))) // slow the importer
 *         .build();
 * }</pre>
 *
 * <p>Only new work is bounded: {@code sendTask}, {@code sendTaskAsync}, {@code sendTasks}, {@code
 * sendGroup}, {@code sendChord}, the first task of {@code sendChain}, unique sends and periodic
 * fires. What workers send to carry on work already accepted (a chain's next task, success and
 * error callbacks, a chord's callback, retries) and requeued dead letters always go through, so a
 * full queue never breaks a workflow half-way.
 *
 * <p>The bound counts the tasks waiting in the queue (its priority bands included), as the broker's
 * {@link io.machinery.spi.Inspector#pendingCount} reads them; delayed tasks join the count when
 * they become due, and running ones are not counted. One server never takes the queue past the
 * bound; several servers bounding the same queue can overshoot it a little: see {@link
 * Server.Builder#bound(QueueBound)} for how the count is kept and by how much.
 */
public final class QueueBound {
  /** What a send does when the queue has no room for it. */
  public enum WhenFull {
    /** Throw {@link QueueFullException} at once. */
    REJECT,
    /**
     * Wait for room, up to {@link QueueBound#maxWait()}, then throw {@link QueueFullException}. A
     * blocking send waits on its caller's thread; an asynchronous one returns at once and its
     * future completes once the task is sent.
     */
    WAIT
  }

  /** How often a sender reads the queue's size while it has room, by default. */
  public static final Duration DEFAULT_RECOUNT_EVERY = Duration.ofMillis(100);

  private final String queue;
  private final long maxPending;
  private final WhenFull whenFull;
  private final Duration maxWait;
  private final Duration recountEvery;

  private QueueBound(Builder b) {
    this.queue = b.queue;
    this.maxPending = b.maxPending;
    this.whenFull = b.whenFull;
    this.maxWait = b.maxWait;
    this.recountEvery = b.recountEvery;
  }

  /**
   * A bound that refuses a send at once when {@code queue} holds {@code maxPending} waiting tasks.
   *
   * @param queue the queue's name, as workers consume it; empty means the default queue
   * @param maxPending the most tasks that may wait, at least 1
   * @return the bound
   * @throws IllegalArgumentException as {@link #builder}
   */
  public static QueueBound reject(String queue, long maxPending) {
    return builder(queue, maxPending).build();
  }

  /**
   * A bound that makes a send wait, up to {@code maxWait}, while {@code queue} holds {@code
   * maxPending} waiting tasks.
   *
   * @param queue the queue's name, as workers consume it; empty means the default queue
   * @param maxPending the most tasks that may wait, at least 1
   * @param maxWait how long a send waits for room at most, positive
   * @return the bound
   * @throws IllegalArgumentException as {@link #builder} and {@link Builder#waitFor}
   */
  public static QueueBound waitFor(String queue, long maxPending, Duration maxWait) {
    return builder(queue, maxPending).waitFor(maxWait).build();
  }

  /**
   * Starts a bound that refuses at once unless {@link Builder#waitFor} is set.
   *
   * @param queue the queue's name, as workers consume it; empty means the default queue
   * @param maxPending the most tasks that may wait, at least 1
   * @return a new builder
   * @throws IllegalArgumentException when {@code maxPending} is below 1
   */
  public static Builder builder(String queue, long maxPending) {
    return new Builder(queue, maxPending);
  }

  /**
   * The queue this bound applies to.
   *
   * @return its name; empty for the default queue
   */
  public String queue() {
    return queue;
  }

  /**
   * The most tasks that may wait in the queue.
   *
   * @return the bound, at least 1
   */
  public long maxPending() {
    return maxPending;
  }

  /**
   * What a send does when the queue is full.
   *
   * @return reject at once, or wait
   */
  public WhenFull whenFull() {
    return whenFull;
  }

  /**
   * How long a send waits for room at most.
   *
   * @return the longest wait; zero for {@link WhenFull#REJECT}
   */
  public Duration maxWait() {
    return maxWait;
  }

  /**
   * How old a sender's last reading of the queue's size may be while the queue has room, before it
   * reads it again (one round trip to the broker). Between readings a sender adds its own sends to
   * the last reading.
   *
   * @return the interval
   */
  public Duration recountEvery() {
    return recountEvery;
  }

  @Override
  public String toString() {
    return "QueueBound{"
        + (queue.isEmpty() ? "default queue" : "queue '" + queue + "'")
        + ", at most "
        + maxPending
        + " waiting, "
        + (whenFull == WhenFull.REJECT ? "reject" : "wait up to " + maxWait)
        + " when full}";
  }

  /** Builds a {@link QueueBound}. Not thread-safe. */
  public static final class Builder {
    private final String queue;
    private final long maxPending;
    private WhenFull whenFull = WhenFull.REJECT;
    private Duration maxWait = Duration.ZERO;
    private Duration recountEvery = DEFAULT_RECOUNT_EVERY;

    private Builder(String queue, long maxPending) {
      this.queue = Objects.requireNonNull(queue, "queue");
      if (maxPending < 1) {
        throw new IllegalArgumentException(
            "a queue bound must let at least 1 task wait, was " + maxPending);
      }
      this.maxPending = maxPending;
    }

    /**
     * Makes a send wait for room, up to {@code value}, instead of failing at once.
     *
     * @param value how long a send waits for room at most, positive
     * @return this builder
     * @throws IllegalArgumentException when {@code value} is zero or negative
     */
    public Builder waitFor(Duration value) {
      Objects.requireNonNull(value, "maxWait");
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("the longest wait for room must be positive: " + value);
      }
      whenFull = WhenFull.WAIT;
      maxWait = value;
      return this;
    }

    /**
     * Makes a send fail at once when the queue is full (the default).
     *
     * @return this builder
     */
    public Builder reject() {
      whenFull = WhenFull.REJECT;
      maxWait = Duration.ZERO;
      return this;
    }

    /**
     * Sets how old a sender's reading of the queue's size may be before it reads it again while the
     * queue has room; default {@link #DEFAULT_RECOUNT_EVERY}. Shorter: several senders overshoot
     * the bound by less, for more reads. A queue that looks full is read again at every send.
     *
     * @param value the interval, from 1 ms to 1 minute
     * @return this builder
     * @throws IllegalArgumentException when {@code value} is out of that range
     */
    public Builder recountEvery(Duration value) {
      Objects.requireNonNull(value, "recountEvery");
      if (value.compareTo(Duration.ofMillis(1)) < 0 || value.compareTo(Duration.ofMinutes(1)) > 0) {
        throw new IllegalArgumentException(
            "recountEvery must be from 1 ms to 1 minute, was " + value);
      }
      recountEvery = value;
      return this;
    }

    /**
     * Builds the bound.
     *
     * @return the bound
     */
    public QueueBound build() {
      return new QueueBound(this);
    }
  }
}
