package io.machinery;

/**
 * Waiting for a result took longer than the caller allowed: Go's {@code ErrTimeoutReached}
 * ("Timeout reached").
 */
public final class ResultTimeoutException extends MachineryException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param taskUuid the task whose result did not come in time
   */
  public ResultTimeoutException(String taskUuid) {
    super("Timeout reached waiting for " + taskUuid);
  }
}
