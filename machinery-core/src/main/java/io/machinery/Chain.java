package io.machinery;

import io.machinery.wire.Uuids;
import java.util.ArrayList;
import java.util.List;

/**
 * Tasks that run one after another, each receiving the previous one's results after its own
 * arguments: Go's {@code tasks.NewChain}. On the wire a chain is one message, the first task, with
 * the rest nested in {@code OnSuccess}. Immutable.
 *
 * <p>Each link nests the message two JSON levels deeper, and a worker decodes at most {@value
 * io.machinery.internal.GoJson#MAX_MESSAGE_DEPTH} levels, as Go's decoder: a chain of 4,999 tasks
 * with arguments fits (5,000 without), and {@link Server#sendChain} refuses a longer one instead of
 * sending a message no worker, Go or Java, could read. Each message carries the rest of the chain,
 * so a chain of n tasks sends and reads messages whose sizes add up by the square of n, in Go too.
 */
public final class Chain {
  private final List<Signature> tasks;

  private Chain(List<Signature> tasks) {
    this.tasks = List.copyOf(tasks);
  }

  /**
   * Creates a chain: Go's {@code NewChain(signatures...)}.
   *
   * @param tasks the tasks in order, at least one; each one's {@code OnSuccess} is replaced by the
   *     next
   * @return the chain
   * @throws IllegalArgumentException if there are no tasks
   */
  public static Chain of(Signature... tasks) {
    return of(List.of(tasks));
  }

  /**
   * Creates a chain, as {@link #of(Signature...)} does.
   *
   * @param tasks the tasks in order, at least one
   * @return the chain
   * @throws IllegalArgumentException if there are no tasks
   */
  public static Chain of(List<Signature> tasks) {
    if (tasks.isEmpty()) {
      throw new IllegalArgumentException("a chain needs at least one task");
    }
    List<Signature> withUuids = new ArrayList<>(tasks.size());
    for (Signature task : tasks) {
      withUuids.add(
          task.uuid().isEmpty() ? task.toBuilder().uuid(Uuids.newTaskUuid()).build() : task);
    }
    // Nest from the end: each task's OnSuccess is the (already nested) next one, replacing any
    // OnSuccess.
    List<Signature> nested = new ArrayList<>(withUuids);
    for (int i = nested.size() - 1; i > 0; i--) {
      nested.set(i - 1, nested.get(i - 1).toBuilder().onSuccess(List.of(nested.get(i))).build());
    }
    return new Chain(nested);
  }

  /**
   * Returns the tasks in order; the first one carries the rest nested in its {@code OnSuccess}.
   *
   * @return the tasks, each with a UUID
   */
  public List<Signature> tasks() {
    return tasks;
  }
}
