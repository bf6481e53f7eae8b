package io.machinery;

import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A saga's step failed for good, and the compensations of the steps before it have run ({@link
 * #compensated()}) or one of them failed ({@link #compensationFailure()}). {@link #taskUuid()} is
 * the failed step's UUID and {@link #error()} the error text its worker stored.
 */
public final class SagaFailedException extends TaskFailedException {
  private static final long serialVersionUID = 1L;

  /** The index of the failed step, from 0. */
  private final int failedStep;

  /** The task name of the failed step. */
  private final String failedTask;

  /** The error text the failed step's worker stored. */
  private final String error;

  /** The failure of the compensation that stopped the undoing; null when none failed. */
  private final @Nullable TaskFailedException compensationFailure;

  SagaFailedException(
      int failedStep,
      Signature step,
      String error,
      int undone,
      @Nullable TaskFailedException compensationFailure) {
    super(step.uuid(), describe(failedStep, step, error, undone, compensationFailure));
    this.failedStep = failedStep;
    this.failedTask = step.name();
    this.error = error;
    this.compensationFailure = compensationFailure;
  }

  private static String describe(
      int failedStep,
      Signature step,
      String error,
      int undone,
      @Nullable TaskFailedException compensationFailure) {
    String failed = "saga step " + failedStep + " (" + step.name() + ") failed: " + error;
    if (compensationFailure == null) {
      return failed
          + (undone == 0
              ? "; no step before it had a compensation"
              : "; the steps before it were undone (" + ran(undone) + ")");
    }
    return failed
        + "; "
        + ran(undone)
        + ", then compensation "
        + compensationFailure.taskUuid()
        + " failed: "
        + compensationFailure.getMessage()
        + " (the steps before it stay done)";
  }

  private static String ran(int compensations) {
    return compensations + (compensations == 1 ? " compensation ran" : " compensations ran");
  }

  /**
   * Returns the index of the step that failed.
   *
   * @return the index, from 0
   */
  public int failedStep() {
    return failedStep;
  }

  /**
   * Returns the task name of the step that failed.
   *
   * @return the name
   */
  public String failedTask() {
    return failedTask;
  }

  /**
   * Returns the error text the failed step's worker stored.
   *
   * @return the error
   */
  public String error() {
    return error;
  }

  /**
   * Returns whether every compensation that was to run ran and succeeded.
   *
   * @return true unless a compensation failed
   */
  public boolean compensated() {
    return compensationFailure == null;
  }

  /**
   * Returns the failure of the compensation that stopped the undoing, when one failed.
   *
   * @return its failure (its UUID and error text), or empty when every compensation succeeded
   */
  public Optional<TaskFailedException> compensationFailure() {
    return Optional.ofNullable(compensationFailure);
  }
}
