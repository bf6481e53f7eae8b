package io.machinery;

/** The root of every unchecked exception this library throws for a failure outside the caller's arguments. */
public class MachineryException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public MachineryException(String message) {
    super(message);
  }

  public MachineryException(String message, Throwable cause) {
    super(message, cause);
  }
}
