package io.machinery;

/**
 * A message or stored value could not be decoded. For a task message the text is Go's: {@code Could not
 * unmarshal '<msg>' into a task signature: <reason>}.
 */
public final class MalformedMessageException extends MachineryException {
  private static final long serialVersionUID = 1L;

  public MalformedMessageException(String message, Throwable cause) {
    super(message, cause);
  }

  public MalformedMessageException(String message) {
    super(message);
  }
}
