package io.machinery;

import io.machinery.wire.LogText;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A rate limit, a concurrency cap, or both, on the runs of one task (set with {@link
 * Worker.Builder#limit(String, TaskLimit)}), counted per key: the task's name by default, or what a
 * function of the signature returns (a user id, a downstream host). Off unless set. Immutable.
 *
 * <pre>{@code
 * TaskLimit perUser =
 *     TaskLimit.builder()
 *         .rate(10, Duration.ofSeconds(1))  // at most 10 starts a second per user, in bursts of 10
 *         .maxConcurrent(2)                 // and at most 2 running at once per user
 *         .key(signature -> "user:" + signature.args().get(0).value())
 *         .build();
 * }</pre>
 *
 * <p>Design notes. The rate is a generic cell rate (GCRA, a token bucket kept as one timestamp):
 * one start every {@link #interval()}, and up to {@link #burst()} at once after an idle spell. The
 * cap counts runs in progress. Keys are global to the {@link io.machinery.spi.TaskLimiter}: two
 * tasks whose limits return the same key share one budget (a downstream API called by several
 * tasks), and workers sharing a key should configure the same numbers.
 */
public final class TaskLimit {
  /** The shortest interval between two starts a rate may ask for. */
  public static final Duration MIN_INTERVAL = Duration.ofMillis(1);

  /** The longest a key may be (a key function's result is checked at run time). */
  public static final int MAX_KEY_LENGTH = 512;

  /**
   * The default key function: the task's name. One instance, so a limit can tell that no {@link
   * Builder#key} was given ({@link #keyedByTaskName()}), also through a setting made over it.
   */
  static final Function<Signature, String> BY_TASK_NAME = Signature::name;

  private final int ratePermits;
  private final Duration ratePeriod;
  private final int burst;
  private final int maxConcurrent;
  private final Function<Signature, String> key;

  private TaskLimit(Builder b) {
    this.ratePermits = b.ratePermits;
    this.ratePeriod = b.ratePeriod;
    this.burst = b.burst > 0 ? b.burst : b.ratePermits;
    this.maxConcurrent = b.maxConcurrent;
    this.key = b.key;
  }

  /**
   * A rate limit per task name: at most {@code permits} starts per {@code period}, in bursts of up
   * to {@code permits}.
   *
   * @param permits starts per period, at least 1
   * @param period the period
   * @return the limit
   * @throws IllegalArgumentException as {@link Builder#rate}
   */
  public static TaskLimit rate(int permits, Duration period) {
    return builder().rate(permits, period).build();
  }

  /**
   * A concurrency cap per task name: at most {@code max} runs at once.
   *
   * @param max runs at once, at least 1
   * @return the limit
   * @throws IllegalArgumentException as {@link Builder#maxConcurrent}
   */
  public static TaskLimit maxConcurrent(int max) {
    return builder().maxConcurrent(max).build();
  }

  /**
   * Starts a limit; set a rate, a cap, or both.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Tells whether this limit has a rate.
   *
   * @return true when {@link Builder#rate} was set
   */
  public boolean hasRate() {
    return ratePermits > 0;
  }

  /**
   * The time between two starts at the steady rate: the period divided by the permits.
   *
   * @return the interval; zero when there is no rate
   */
  public Duration interval() {
    return ratePermits == 0 ? Duration.ZERO : ratePeriod.dividedBy(ratePermits);
  }

  /**
   * How many starts may follow one another at once after an idle spell.
   *
   * @return the burst; 0 when there is no rate
   */
  public int burst() {
    return ratePermits == 0 ? 0 : burst;
  }

  /**
   * The most runs under one key at once.
   *
   * @return the cap; 0 when there is none
   */
  public int maxConcurrent() {
    return maxConcurrent;
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
    return checkedKey(key.apply(signature), signature, "limit");
  }

  /** The key function ({@link Builder#key}), for a limit set at run time over this one. */
  Function<Signature, String> keyFunction() {
    return key;
  }

  /** Whether runs count per task name: no key function but the default was given. */
  boolean keyedByTaskName() {
    return key == BY_TASK_NAME;
  }

  /** The rate's starts per period; 0 when there is no rate. */
  int ratePermits() {
    return ratePermits;
  }

  /** The rate's period; zero when there is no rate. */
  Duration ratePeriod() {
    return ratePeriod;
  }

  /**
   * {@code value} when it is a valid key (of a limit or a breaker).
   *
   * @throws IllegalArgumentException naming the task, when {@code value} is null, empty or too long
   */
  static String checkedKey(@Nullable String value, Signature signature, String of) {
    if (value == null || value.isEmpty() || value.length() > MAX_KEY_LENGTH) {
      throw new IllegalArgumentException(
          "the "
              + of
              + " key function of task "
              + LogText.of(signature.name())
              + " returned "
              + (value == null ? "null" : LogText.of(value))
              + ": a key must have 1 to "
              + MAX_KEY_LENGTH
              + " characters");
    }
    return value;
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("TaskLimit{");
    if (hasRate()) {
      s.append(ratePermits).append(" per ").append(ratePeriod).append(", burst ").append(burst);
    }
    if (maxConcurrent > 0) {
      s.append(hasRate() ? ", " : "").append("at most ").append(maxConcurrent).append(" at once");
    }
    return s.append('}').toString();
  }

  /** Builds a {@link TaskLimit}. Not thread-safe. */
  public static final class Builder {
    private int ratePermits;
    private Duration ratePeriod = Duration.ZERO;
    private int burst;
    private int maxConcurrent;
    private Function<Signature, String> key = BY_TASK_NAME;

    private Builder() {}

    /**
     * At most {@code permits} starts per {@code period}, spread evenly (one every period/permits).
     *
     * @param permits starts per period, at least 1
     * @param period the period; period/permits must be at least {@link TaskLimit#MIN_INTERVAL}
     * @return this builder
     * @throws IllegalArgumentException when {@code permits} is below 1 or the interval is below
     *     {@link TaskLimit#MIN_INTERVAL}
     */
    public Builder rate(int permits, Duration period) {
      Objects.requireNonNull(period, "period");
      if (permits < 1) {
        throw new IllegalArgumentException("rate permits must be at least 1, was " + permits);
      }
      if (period.dividedBy(permits).compareTo(MIN_INTERVAL) < 0) {
        throw new IllegalArgumentException(
            "a rate of "
                + permits
                + " per "
                + period
                + " leaves less than "
                + MIN_INTERVAL
                + " between starts; use a longer period or fewer permits");
      }
      ratePermits = permits;
      ratePeriod = period;
      return this;
    }

    /**
     * How many starts may follow one another at once after an idle spell; default the rate's
     * permits (a bucket holding one period's worth). 1 spreads every start evenly.
     *
     * @param value the burst, at least 1
     * @return this builder
     * @throws IllegalArgumentException when {@code value} is below 1
     */
    public Builder burst(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("burst must be at least 1, was " + value);
      }
      burst = value;
      return this;
    }

    /**
     * At most {@code value} runs under one key at once.
     *
     * @param value the cap, at least 1
     * @return this builder
     * @throws IllegalArgumentException when {@code value} is below 1
     */
    public Builder maxConcurrent(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("maxConcurrent must be at least 1, was " + value);
      }
      maxConcurrent = value;
      return this;
    }

    /**
     * What a run counts against; default the task name. Runs whose keys are equal share the budget,
     * whatever their task.
     *
     * @param function computes the key from the signature (its args, headers); must be quick and
     *     return 1 to {@value TaskLimit#MAX_KEY_LENGTH} characters. When it throws, the message is
     *     requeued as one that could not be processed (and dead-lettered after {@code
     *     maxDeliveries}).
     * @return this builder
     */
    public Builder key(Function<Signature, String> function) {
      key = Objects.requireNonNull(function, "key");
      return this;
    }

    /**
     * Builds the limit.
     *
     * @return the limit
     * @throws IllegalArgumentException when neither a rate nor a cap was set, or a burst was set
     *     without a rate
     */
    public TaskLimit build() {
      if (ratePermits == 0 && maxConcurrent == 0) {
        throw new IllegalArgumentException(
            "a TaskLimit needs a rate (rate(permits, period)) or a cap (maxConcurrent(n)), or both");
      }
      if (burst > 0 && ratePermits == 0) {
        throw new IllegalArgumentException("burst needs a rate: set rate(permits, period) too");
      }
      return new TaskLimit(this);
    }
  }
}
