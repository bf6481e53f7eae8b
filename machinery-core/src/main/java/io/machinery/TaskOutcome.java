package io.machinery;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * How one run of a task ended: the state it leads to, the error, how long the function ran, and
 * whether the outcome was recorded. Given to {@link TaskListener#finished} and {@link
 * Worker.Builder#postTaskOutcomeHandler}. Immutable.
 */
public final class TaskOutcome {
  private final Signature signature;
  private final State state;
  private final @Nullable String error;
  private final Duration runTime;
  private final boolean recorded;

  TaskOutcome(
      Signature signature,
      State state,
      @Nullable String error,
      Duration runTime,
      boolean recorded) {
    this.signature = Objects.requireNonNull(signature);
    this.state = Objects.requireNonNull(state);
    this.error = error;
    this.runTime = Objects.requireNonNull(runTime);
    this.recorded = recorded;
  }

  /**
   * Returns the task this outcome belongs to.
   *
   * @return the task as it was delivered (its {@link TaskContext#attempt() attempt} header
   *     included)
   */
  public Signature signature() {
    return signature;
  }

  /**
   * Returns the state this run leads to.
   *
   * @return {@link State#SUCCESS}, {@link State#FAILURE} (no retries left, or a permanent error
   *     such as arguments that do not bind), or {@link State#RETRY} (the task is sent again)
   */
  public State state() {
    return state;
  }

  /**
   * Returns the error the run failed with.
   *
   * @return the error text as stored in the backend (Go's wording); empty on success, and on a
   *     retry the task asked for by throwing {@link RetryTaskLaterException}
   */
  public Optional<String> error() {
    return Optional.ofNullable(error);
  }

  /**
   * Returns how long the task function ran.
   *
   * @return the function's run time; zero when it did not run because its arguments did not bind
   */
  public Duration runTime() {
    return runTime;
  }

  /**
   * Tells whether the state, retry message and callbacks were all recorded.
   *
   * @return true when all were recorded; false when the bookkeeping gave up (the message is then
   *     dead-lettered), the worker abandoned the run while recording it, or the broker had handed
   *     the message to another worker whose run already stored its outcome (see {@link
   *     io.machinery.spi.Delivery#stillHeld()})
   */
  public boolean recorded() {
    return recorded;
  }

  @Override
  public String toString() {
    return "TaskOutcome["
        + signature.name()
        + " "
        + signature.uuid()
        + " "
        + state
        + (error == null ? "" : " error=" + error)
        + " runTime="
        + runTime
        + (recorded ? "" : " unrecorded")
        + "]";
  }
}
