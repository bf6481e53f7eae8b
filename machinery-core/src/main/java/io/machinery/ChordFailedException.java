package io.machinery;

import java.util.List;

/**
 * A chord did not run its callback because members of its group failed: {@link
 * ChordAsyncResult#get} throws it with every failed member's error. {@link #getMessage()} is the
 * text the worker stored for the callback.
 */
public final class ChordFailedException extends TaskFailedException {
  private static final long serialVersionUID = 1L;

  /** The failed members, in group order. */
  private final List<TaskFailedException> failures;

  /**
   * Creates the exception.
   *
   * @param callbackUuid the chord callback's UUID
   * @param message the error text
   * @param failures the failed members, in group order; not empty
   */
  public ChordFailedException(
      String callbackUuid, String message, List<TaskFailedException> failures) {
    super(callbackUuid, message);
    if (failures.isEmpty()) {
      throw new IllegalArgumentException("a failed chord has at least one failed member");
    }
    this.failures = List.copyOf(failures);
  }

  /**
   * Returns the failed members: each one's UUID ({@link TaskFailedException#taskUuid()}) and stored
   * error.
   *
   * @return the failures, in group order
   */
  public List<TaskFailedException> failures() {
    return failures;
  }
}
