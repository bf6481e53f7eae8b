package io.machinery.internal;

/** Error texts that say what went wrong underneath a client library's wrapping exceptions. */
public final class Causes {
  private Causes() {}

  /**
   * {@code message}, and the root cause of {@code e} when it says more: {@code "UNAVAILABLE: io
   * exception (ConnectException: Connection refused)"}.
   *
   * @param message what the caller says went wrong
   * @param e the exception whose causes are followed
   * @return the message, with the root cause's class and message unless it has none or the message
   *     already holds it
   */
  public static String withRoot(String message, Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    if (root != e && root.getMessage() != null && !message.contains(root.getMessage())) {
      return message + " (" + root.getClass().getSimpleName() + ": " + root.getMessage() + ")";
    }
    return message;
  }
}
