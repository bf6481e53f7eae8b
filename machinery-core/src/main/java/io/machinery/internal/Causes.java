package io.machinery.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * An exception's causes, walked so that the walk always ends, and error texts that say what went
 * wrong underneath a client library's wrapping exceptions.
 */
public final class Causes {
  private Causes() {}

  /**
   * {@code message}, and the root cause of {@code e} when it says more: {@code "UNAVAILABLE: io
   * exception (ConnectException: Connection refused)"}.
   *
   * @param message what the caller says went wrong
   * @param e the exception whose causes are followed
   * @return the message, with the root cause's class and message unless it has none or the message
   *     already holds it (the root: the last of {@link #of})
   */
  public static String withRoot(String message, Throwable e) {
    List<Throwable> causes = of(e);
    Throwable root = causes.get(causes.size() - 1);
    if (root != e && root.getMessage() != null && !message.contains(root.getMessage())) {
      return message + " (" + root.getClass().getSimpleName() + ": " + root.getMessage() + ")";
    }
    return message;
  }

  /**
   * {@code e} and its causes, outermost first, each once: the walk ends where a cause is missing or
   * comes back to one already passed ({@code initCause} allows A caused by B caused by A, and a
   * library may override {@code getCause}), so a loop over it always ends.
   */
  public static List<Throwable> of(Throwable e) {
    List<Throwable> causes = new ArrayList<>(4);
    Set<Throwable> passed = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable t = e; t != null && passed.add(t); t = t.getCause()) {
      causes.add(t);
    }
    return causes;
  }
}
