package io.machinery.spi;

import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Stores task states and group metadata: Go's {@code backends/iface.Backend}.
 *
 * <p>Implementations are thread-safe and blocking (workers call them from virtual threads). Whoever builds a
 * backend closes it. Failures are {@link io.machinery.MachineryException}s.
 */
public interface Backend extends AutoCloseable {

  /** Records a new group and its task UUIDs, in order. */
  void initGroup(String groupUuid, List<String> taskUuids);

  /** Whether every task of the group is SUCCESS or FAILURE. */
  boolean groupCompleted(String groupUuid, int groupTaskCount);

  /** The states of the group's tasks in group order. */
  List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount);

  /**
   * Marks the group's chord as triggered. Returns true for exactly one caller per group, across processes
   * (and, where the backend shares a store with Go workers, across languages).
   */
  boolean triggerChord(String groupUuid);

  void setStatePending(Signature signature);

  void setStateReceived(Signature signature);

  void setStateStarted(Signature signature);

  void setStateRetry(Signature signature);

  /**
   * Writes RECEIVED without making the worker wait for it. The worker calls this, then {@link
   * #setStateStartedAsync}, then one of the blocking final-state methods, all from one thread, and joins the
   * returned futures before it acknowledges the message. A backend whose writes on one connection are applied
   * in order (Redis, AMQP) can pipeline these, so a task costs one awaited round trip instead of three; the
   * default simply writes and returns a completed future.
   */
  default CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    setStateReceived(signature);
    return CompletableFuture.completedFuture(null);
  }

  /** {@link #setStateStarted} without waiting; see {@link #setStateReceivedAsync}. */
  default CompletableFuture<Void> setStateStartedAsync(Signature signature) {
    setStateStarted(signature);
    return CompletableFuture.completedFuture(null);
  }

  void setStateSuccess(Signature signature, List<TaskResult> results);

  void setStateFailure(Signature signature, String error);

  /** The latest state of a task, or empty when the backend has none (not yet written, or expired). */
  Optional<TaskState> getState(String taskUuid);

  void purgeState(String taskUuid);

  void purgeGroupMeta(String groupUuid);

  /**
   * Whether reading a state consumes it (Go's AMQP backend); then the worker purges a chord's group after
   * triggering it, as Go does.
   */
  default boolean consumesStatesOnRead() {
    return false;
  }

  @Override
  void close();
}
