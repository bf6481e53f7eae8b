package io.machinery;

import io.machinery.spi.Backend;
import io.machinery.wire.LogText;
import io.machinery.wire.Uuids;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A saga's compensation on the wire and where it runs ({@link Saga}): the two headers that mark it,
 * and the arguments a worker calls it with, its own followed by the results of the step it undoes.
 *
 * <p>The results are read when the compensation runs, not carried in its message: the compensation
 * was built when the saga was sent, before the step ran, and the step may have run on a Go worker,
 * which would not have written them into the messages that follow. A failed step's worker, Java's
 * or Go's, puts the error text before the first compensation's arguments (every error callback gets
 * it); {@link #OWN_ARGS} says how many of the arguments are the compensation's own, so the extra
 * ones in front are dropped.
 */
final class SagaUndo {
  /** Header: the UUID of the step a compensation undoes. */
  static final String UNDOES = "machinery_saga_undoes";

  /** Header: how many of a compensation's arguments are its own (the last ones), in decimal. */
  static final String OWN_ARGS = "machinery_saga_args";

  private SagaUndo() {}

  /** A compensation as sent: a task of its own that undoes {@code stepUuid}. */
  static Signature compensation(Signature compensation, String stepUuid) {
    Map<String, @Nullable Object> headers = new LinkedHashMap<>(compensation.headers());
    headers.put(UNDOES, stepUuid);
    // A string, not a number: a Go worker decodes headers with UseNumber, and Go's AMQP broker
    // cannot publish a json.Number header (its table takes no such type), so the failed step's
    // worker would drop the compensation.
    headers.put(OWN_ARGS, Integer.toString(compensation.args().size()));
    return compensation.toBuilder()
        .uuid(Uuids.newTaskUuid())
        .immutable(true)
        .onSuccess(List.of())
        .headers(headers)
        .build();
  }

  /** Whether a task is a saga's compensation. */
  static boolean isCompensation(Signature signature) {
    return signature.headers().containsKey(UNDOES);
  }

  /** Why a compensation cannot run (yet): the reason, and whether a retry may help. */
  static final class Unavailable extends Exception {
    private static final long serialVersionUID = 1L;
    private final boolean retryable;

    Unavailable(String message, boolean retryable) {
      super(message, null, false, false);
      this.retryable = retryable;
    }

    boolean retryable() {
      return retryable;
    }
  }

  /**
   * The arguments to run a task with: its own, and for a compensation the results of the step it
   * undoes after them.
   *
   * @throws Unavailable when the step's results cannot be read: the backend does not answer
   *     (retryable), or holds no SUCCESS for the step (not retryable)
   */
  static List<Arg> argsFor(Signature signature, Backend backend) throws Unavailable {
    Object undoes = signature.headers().get(UNDOES);
    if (undoes == null) {
      return signature.args();
    }
    String what = "compensation " + signature.name() + " (" + signature.uuid() + ")";
    if (!(undoes instanceof String stepUuid) || stepUuid.isEmpty()) {
      throw new Unavailable(
          what
              + ": its header "
              + UNDOES
              + " is not a task UUID: "
              + LogText.of(String.valueOf(undoes)),
          false);
    }
    List<Arg> own = ownArgs(signature, what);
    if (backend.consumesStatesOnRead()) {
      throw new Unavailable(
          what
              + ": the result backend's reads consume states (Go's AMQP backend), so the results"
              + " of step "
              + stepUuid
              + " cannot be read",
          false);
    }
    TaskState step;
    try {
      step = backend.getState(stepUuid).orElse(null);
    } catch (RuntimeException e) {
      throw new Unavailable(
          what + ": reading the results of step " + stepUuid + " failed: " + e.getMessage(), true);
    }
    if (step == null) {
      throw new Unavailable(
          what
              + ": step "
              + stepUuid
              + " has no stored state (expired after ResultsExpireIn, or purged): nothing says"
              + " what to undo",
          false);
    }
    if (step.state() != State.SUCCESS) {
      throw new Unavailable(
          what + ": step " + stepUuid + " is " + step.state() + ", not SUCCESS: nothing to undo",
          false);
    }
    List<Arg> args = new ArrayList<>(own.size() + step.results().size());
    args.addAll(own);
    step.results().forEach(result -> args.add(result.toArg()));
    return args;
  }

  private static List<Arg> ownArgs(Signature signature, String what) throws Unavailable {
    List<Arg> args = signature.args();
    Object count = signature.headers().get(OWN_ARGS);
    int own =
        count instanceof String digits && digits.matches("[0-9]{1,9}")
            ? Integer.parseInt(digits)
            : -1;
    if (own < 0 || own > args.size()) {
      throw new Unavailable(
          what
              + ": its header "
              + OWN_ARGS
              + " is not a count of at most its "
              + args.size()
              + " arguments: "
              + LogText.of(String.valueOf(count)),
          false);
    }
    return args.subList(args.size() - own, args.size());
  }
}
