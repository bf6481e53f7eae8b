package io.machinery;

/**
 * A message or stored value could not be decoded. For a task message the text is Go's: {@code Could
 * not unmarshal '<msg>' into a task signature: <reason>}.
 */
public final class MalformedMessageException extends MachineryException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception with its cause.
   *
   * @param message what could not be decoded, and why
   * @param cause the decoder's failure
   */
  public MalformedMessageException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * Creates the exception.
   *
   * @param message what could not be decoded, and why
   */
  public MalformedMessageException(String message) {
    super(message);
  }

  /**
   * Returns the text given at construction, never null (so it can go straight into a dead-letter
   * reason).
   *
   * @return what could not be decoded, and why
   */
  @Override
  public String getMessage() {
    String message = super.getMessage();
    return message == null ? "" : message;
  }
}
