package io.machinery;

import org.jspecify.annotations.Nullable;

/**
 * The root of every unchecked exception this library throws for a failure outside the caller's
 * arguments.
 */
public class MachineryException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what failed
   */
  public MachineryException(String message) {
    super(message);
  }

  /**
   * Creates the exception with its cause.
   *
   * @param message what failed
   * @param cause the underlying failure, or null when there is none
   */
  public MachineryException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
