package io.machinery;

/**
 * The six task states, spelled exactly as Go Machinery writes them into result stores.
 *
 * <p>A task moves {@code PENDING → RECEIVED → STARTED → SUCCESS | FAILURE}, or through {@code
 * RETRY} back to {@code PENDING} when it is retried.
 */
public enum State {
  /** Stored before the task is published; the task waits in a queue or for its ETA. */
  PENDING,
  /** A worker took the task from the broker. */
  RECEIVED,
  /** The worker decoded the arguments and is about to run the task. */
  STARTED,
  /** The task failed and was scheduled to run again. */
  RETRY,
  /** The task returned; its results are stored. */
  SUCCESS,
  /** The task failed for good; its error text is stored. */
  FAILURE;

  /**
   * Tells whether the task is finished.
   *
   * @return true for {@link #SUCCESS} and {@link #FAILURE}
   */
  public boolean isCompleted() {
    return this == SUCCESS || this == FAILURE;
  }
}
