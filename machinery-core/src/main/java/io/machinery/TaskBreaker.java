package io.machinery;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A circuit breaker on the runs of one task (set with {@link Worker.Builder#breaker(String,
 * TaskBreaker)}), counted per key: the task's name by default, or what a function of the signature
 * returns (a downstream host, an API). Off unless set. Immutable.
 *
 * <pre>{@code
 * TaskBreaker perHost =
 *     TaskBreaker.builder()
 *         .failureRate(0.5)                 // open when half of
 *         .window(20)                       // the last 20 runs failed (after 10 runs at least)
 *         .openFor(Duration.ofSeconds(30))  // park the key's tasks for 30 s, then try again
 *         .key(signature -> "host:" + signature.args().get(0).value())
 *         .build();
 * }</pre>
 *
 * <p>What it is for: when a downstream fails, every task that calls it fails too, spends its
 * retries and ends in FAILURE within minutes of Fibonacci back-off. An open breaker parks the key's
 * tasks instead: they go back to the broker with a delay, neither run nor counted as a retry, so a
 * long outage costs no task its retries, and the downstream gets no load while it recovers.
 *
 * <p>States, per key:
 *
 * <ul>
 *   <li><b>Closed</b>: runs go; the outcome of each is kept among the last {@link #window()}. Once
 *       at least {@link #minimumRuns()} are kept and the failed share reaches {@link
 *       #failureRate()}, the breaker opens.
 *   <li><b>Open</b> for {@link #openFor()}: the key's tasks are handed back to the broker to be
 *       offered again when it ends (plus up to a quarter more at random, so they do not all come
 *       back at once). Runs that had started before it opened end as they would; their outcomes no
 *       longer count.
 *   <li><b>Half-open</b> after that: up to {@link #trialRuns()} runs at once are let through as
 *       trials, other tasks of the key wait a growing while (from 50 ms, at most {@code openFor}).
 *       When {@code trialRuns} trials in a row have succeeded the breaker closes with an empty
 *       window; a failed trial opens it again for {@code openFor}.
 * </ul>
 *
 * <p>What counts: a run fails when its function throws an error that {@link #countsAsFailure}
 * accepts (every error by default), or outlives its deadline (given to the predicate as a {@link
 * java.util.concurrent.TimeoutException}). A run that succeeds counts as a success. Neither counts
 * when the task asked to be retried later ({@link RetryTaskLaterException}), was cancelled or
 * abandoned, or its arguments did not bind (the message, not the downstream, is at fault).
 *
 * <p>Design notes. The state lives in each worker: each worker learns of an outage from its own
 * runs (at most {@code minimumRuns} failures each) and needs no shared store or round trip on the
 * task path, and a breaker cannot be left open by a worker that died. Openings cross workers only
 * through the control plane, read once a heartbeat: an operator's, and those of the window that
 * breakers built {@link Builder#shared} count in for the whole cluster; each such opening expires
 * by itself, and shared breakers then run one trial for the cluster. Keys are global to the worker:
 * two tasks whose breakers return the same key share one breaker (a downstream called by several
 * tasks), and should configure the same numbers (the first task's apply). Past 10,000 keys a worker
 * forgets the closed keys with no failure kept, so keys per tenant do not grow its memory without
 * bound. A parked task is counted in its header {@code machinery_breaker} and keeps its {@code
 * RetryCount}; {@code maxDeliveries} does not see it.
 */
public final class TaskBreaker {
  /** The longest a key may be (a key function's result is checked at run time). */
  public static final int MAX_KEY_LENGTH = TaskLimit.MAX_KEY_LENGTH;

  /** The state of one breaker. */
  public enum State {
    /** Runs go; outcomes are counted. */
    CLOSED,
    /** Runs are parked until {@link TaskBreaker#openFor()} has passed. */
    OPEN,
    /** A few trial runs decide whether to close or open again. */
    HALF_OPEN
  }

  private final double failureRate;
  private final int window;
  private final int minimumRuns;
  private final Duration openFor;
  private final int trialRuns;
  private final Predicate<Throwable> countsAsFailure;
  private final Function<Signature, String> key;
  private final boolean keyedByTaskName;
  private final boolean shared;

  private TaskBreaker(Builder b) {
    this.failureRate = b.failureRate;
    this.window = b.window;
    this.minimumRuns = b.minimumRuns > 0 ? Math.min(b.minimumRuns, b.window) : (b.window + 1) / 2;
    this.openFor = b.openFor;
    this.trialRuns = b.trialRuns;
    this.countsAsFailure = b.countsAsFailure;
    this.key = b.key;
    this.keyedByTaskName = b.keyedByTaskName;
    this.shared = b.shared;
  }

  /**
   * Starts a breaker with the defaults: opens when half of the last 20 runs failed (10 runs at
   * least), stays open 30 s, closes after 1 successful trial, counts every error, keyed by task
   * name.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The share of failed runs among those kept that opens the breaker.
   *
   * @return from 0 (exclusive) to 1 (inclusive)
   */
  public double failureRate() {
    return failureRate;
  }

  /**
   * How many of the latest runs' outcomes a closed breaker keeps.
   *
   * @return the window, at least 1
   */
  public int window() {
    return window;
  }

  /**
   * How many outcomes must be kept before the breaker may open.
   *
   * @return from 1 to {@link #window()}; by default half the window, rounded up
   */
  public int minimumRuns() {
    return minimumRuns;
  }

  /**
   * How long an open breaker parks its key's tasks before it lets trials through.
   *
   * @return the duration
   */
  public Duration openFor() {
    return openFor;
  }

  /**
   * How many trials run at once when half-open, and how many in a row must succeed to close.
   *
   * @return at least 1
   */
  public int trialRuns() {
    return trialRuns;
  }

  /**
   * Tells whether an error a task function threw counts as a failure of the run.
   *
   * @param error what the function threw, or a {@link java.util.concurrent.TimeoutException} when
   *     it outlived its deadline
   * @return true when it counts; false when the run counts as neither failure nor success
   */
  public boolean countsAsFailure(Throwable error) {
    return countsAsFailure.test(error);
  }

  /**
   * The key a run of {@code signature} counts against.
   *
   * @param signature the task
   * @return the key: the task name unless {@link Builder#key} was set
   * @throws IllegalArgumentException when the key function returns an empty, too long or null key
   * @throws RuntimeException what the key function throws
   */
  public String keyOf(Signature signature) {
    return TaskLimit.checkedKey(key.apply(signature), signature, "breaker");
  }

  /**
   * Whether this breaker's runs also count in the cluster's window, which opens the key on every
   * worker ({@link Builder#shared}).
   *
   * @return true when shared
   */
  public boolean shared() {
    return shared;
  }

  /** Whether the key is the task's name: no {@link Builder#key} function was given. */
  boolean keyedByTaskName() {
    return keyedByTaskName;
  }

  @Override
  public String toString() {
    return "TaskBreaker{opens at "
        + Math.round(failureRate * 100)
        + "% of the last "
        + window
        + " runs (at least "
        + minimumRuns
        + "), open for "
        + openFor
        + ", "
        + trialRuns
        + " trial(s)"
        + (shared ? ", shared" : "")
        + "}";
  }

  /** Builds a {@link TaskBreaker}. Not thread-safe. */
  public static final class Builder {
    private double failureRate = 0.5;
    private int window = 20;
    private int minimumRuns;
    private Duration openFor = Duration.ofSeconds(30);
    private int trialRuns = 1;
    private Predicate<Throwable> countsAsFailure = error -> true;
    private Function<Signature, String> key = Signature::name;
    private boolean keyedByTaskName = true;
    private boolean shared;

    private Builder() {}

    /**
     * The share of failed runs, among the kept ones, that opens the breaker; default 0.5.
     *
     * @param value above 0, at most 1 (1: open only when every kept run failed)
     * @return this builder
     * @throws IllegalArgumentException when out of range
     */
    public Builder failureRate(double value) {
      if (!(value > 0 && value <= 1)) {
        throw new IllegalArgumentException(
            "failureRate must be above 0 and at most 1, was " + value);
      }
      failureRate = value;
      return this;
    }

    /**
     * How many of the latest outcomes to keep; default 20.
     *
     * @param value from 1 to 10,000
     * @return this builder
     * @throws IllegalArgumentException when out of range
     */
    public Builder window(int value) {
      if (value < 1 || value > 10_000) {
        throw new IllegalArgumentException("window must be from 1 to 10000 runs, was " + value);
      }
      window = value;
      return this;
    }

    /**
     * How many outcomes must be kept before the breaker may open; default half the window, rounded
     * up. A value above the window counts as the window.
     *
     * @param value at least 1
     * @return this builder
     * @throws IllegalArgumentException when below 1
     */
    public Builder minimumRuns(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("minimumRuns must be at least 1, was " + value);
      }
      minimumRuns = value;
      return this;
    }

    /**
     * How long an open breaker parks its key's tasks; default 30 s.
     *
     * @param value from 10 ms to 1 hour
     * @return this builder
     * @throws IllegalArgumentException when out of range
     */
    public Builder openFor(Duration value) {
      Objects.requireNonNull(value, "openFor");
      if (value.compareTo(Duration.ofMillis(10)) < 0 || value.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("openFor must be from 10 ms to 1 hour, was " + value);
      }
      openFor = value;
      return this;
    }

    /**
     * How many trials a half-open breaker lets run at once, and how many in a row must succeed for
     * it to close; default 1.
     *
     * @param value from 1 to 1,000
     * @return this builder
     * @throws IllegalArgumentException when out of range
     */
    public Builder trialRuns(int value) {
      if (value < 1 || value > 1_000) {
        throw new IllegalArgumentException("trialRuns must be from 1 to 1000, was " + value);
      }
      trialRuns = value;
      return this;
    }

    /**
     * Which errors count as failures; default every one. Errors the predicate refuses count as
     * neither failure nor success (a validation error from a healthy downstream, say).
     *
     * @param predicate given what the function threw, or a {@link
     *     java.util.concurrent.TimeoutException} for a run that outlived its deadline; must be
     *     quick; when it throws, the error counts
     * @return this builder
     */
    public Builder countsAsFailure(Predicate<Throwable> predicate) {
      countsAsFailure = Objects.requireNonNull(predicate, "predicate");
      return this;
    }

    /**
     * What a run counts against; default the task name. Runs whose keys are equal share one
     * breaker, whatever their task.
     *
     * @param function computes the key from the signature (its args, headers); must be quick and
     *     return 1 to {@value TaskBreaker#MAX_KEY_LENGTH} characters. When it throws, the message
     *     is requeued as one that could not be processed (and dead-lettered after {@code
     *     maxDeliveries}).
     * @return this builder
     */
    public Builder key(Function<Signature, String> function) {
      key = Objects.requireNonNull(function, "function");
      keyedByTaskName = false;
      return this;
    }

    /**
     * Whether this breaker's runs also count in a window kept for the whole cluster; default false.
     * When true, the worker sends the outcomes it counts to the control plane ({@link
     * io.machinery.spi.ControlPlane#countBreakerRuns}, in batches, never on the task path), which
     * keeps the key's last {@link #window} outcomes of every worker and, once they reach {@link
     * #failureRate} (after {@link #minimumRuns}), opens the key on every worker with a breaker of
     * it for {@link #openFor}: within one heartbeat, or at once for a worker whose next count is
     * answered with the opening. When an opening of the control plane ends (the cluster's or an
     * operator's), the first worker to get a task of the key runs the cluster's one trial with it
     * ({@link io.machinery.spi.ControlPlane#claimBreakerTrial}, one round trip on that task's
     * path); the others park the key's tasks briefly until it passed (they close within a
     * heartbeat) or failed (the key opens again on every worker for {@link #openFor}), so a
     * downstream that comes back meets one trial run, not one per worker. A control plane that
     * cannot answer leaves each worker to its own trial. The worker's own window still opens its
     * own breaker alone, and such an opening ends in its own trial, so a fault only one worker sees
     * (its network) parks no other. Without a control plane that keeps openings (the AMQP one keeps
     * none) the breaker stays the worker's own, as when false.
     *
     * <p>Openings written by an operator ({@code Inspection.openBreaker}, {@code machinery
     * breaker}) reach every breaker of the key, shared or not.
     *
     * @param value true to count this breaker's runs for the cluster
     * @return this builder
     */
    public Builder shared(boolean value) {
      shared = value;
      return this;
    }

    /**
     * Builds the breaker.
     *
     * @return the breaker
     */
    public TaskBreaker build() {
      return new TaskBreaker(this);
    }
  }
}
