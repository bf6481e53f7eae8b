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
 * <p>Implementations are thread-safe and blocking (workers call them from virtual threads). Whoever
 * builds a backend closes it. Failures are {@link io.machinery.MachineryException}s.
 */
public interface Backend extends AutoCloseable {

  /**
   * Records a new group and its task UUIDs, in order (Go's {@code InitGroup}).
   *
   * @param groupUuid the group's UUID
   * @param taskUuids the members' UUIDs, in group order
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void initGroup(String groupUuid, List<String> taskUuids);

  /**
   * Tells whether every task of the group has finished (Go's {@code GroupCompleted}).
   *
   * @param groupUuid the group's UUID
   * @param groupTaskCount how many tasks the group has
   * @return true if every member is SUCCESS or FAILURE
   * @throws io.machinery.MachineryException when the backend cannot be read; a {@link
   *     io.machinery.StateNotFoundException} when the group's meta is gone (expired or purged) or a
   *     member's state is: the worker then fails the chord at once instead of retrying (the same
   *     for {@link #groupTaskStates} and {@link #triggerChord}). A backend that throws a plain
   *     MachineryException whose message contains Go's "Group not found" or "Task not found" is
   *     understood too.
   */
  boolean groupCompleted(String groupUuid, int groupTaskCount);

  /**
   * Reads the states of the group's tasks (Go's {@code GroupTaskStates}).
   *
   * @param groupUuid the group's UUID
   * @param groupTaskCount how many tasks the group has
   * @return the states, in group order
   * @throws io.machinery.MachineryException when the backend cannot be read; a {@link
   *     io.machinery.StateNotFoundException} when the group's meta or a member's state is gone
   */
  List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount);

  /**
   * Marks the group's chord as triggered. Returns true for exactly one caller per group, across
   * processes (and, where the backend shares a store with Go workers, across languages). Go's
   * {@code TriggerChord}.
   *
   * @param groupUuid the group's UUID
   * @return true for the one caller that should send the chord callback
   * @throws io.machinery.MachineryException when the backend cannot be reached
   */
  boolean triggerChord(String groupUuid);

  /**
   * {@link #triggerChord(String)}, told which member asks, so that a member that triggered the
   * chord before learns it when it comes back. Its earlier run may have died between the trigger
   * and the callback's publish, and a broker that cannot tell a redelivery (Pub/Sub without a
   * dead-letter policy, where another process gets the message back as a first delivery) gives the
   * worker no other sign. The worker then checks whether the callback was published, as it does for
   * a member its broker says was redelivered. The winner's member UUID is kept beside the group and
   * goes with {@link #purgeGroupMeta}. The default knows no members: {@link Trigger#WON} or {@link
   * Trigger#LOST}.
   *
   * @param groupUuid the group's UUID
   * @param memberUuid the UUID of the member whose worker asks
   * @return {@link Trigger#WON} for the one caller that should send the callback; {@link
   *     Trigger#WON_BEFORE} when {@code memberUuid} triggered the chord before
   * @throws io.machinery.MachineryException when the backend cannot be reached
   */
  default Trigger triggerChord(String groupUuid, String memberUuid) {
    return triggerChord(groupUuid) ? Trigger.WON : Trigger.LOST;
  }

  /**
   * Undoes a chord trigger that {@code memberUuid} won with {@link #triggerChord(String, String)},
   * in one atomic step: the group's {@code ChordTriggered} goes back to false and the kept winner
   * goes, so that the next member to ask wins it (a Go worker too). A winner that reads the states
   * and finds a member running again (its message redelivered, or a second copy of a DAG task)
   * cannot send the callback with that member's results; it releases the trigger and checks the
   * group again, so the running member wins the trigger when it finishes, or, when it finished in
   * between, the winner (or another member) wins it again. Without it, the winner would keep the
   * trigger and leave the callback to that member, and every member that loses a trigger while it
   * may be such a member would have to send the callback when it finds none stored: also while a
   * live winner is still sending it, which then runs twice.
   *
   * <p>A backend may also refuse (false) where releasing would let a second callback go out: the
   * DynamoDB backend refuses while Go's {@code Lock} on the group is held, since a Go worker reads
   * the flag before it locks, so one holding the lock is about to send the callback itself.
   *
   * @param groupUuid the group's UUID
   * @param memberUuid the UUID of the member whose worker won the trigger
   * @return true if the trigger was released; false when the group is gone, its trigger is not held
   *     by {@code memberUuid} (another member's, a Go worker's, or not triggered), or the backend
   *     refuses as above
   * @throws UnsupportedOperationException when {@link #releasesChordTriggers} is false (the
   *     default)
   * @throws io.machinery.MachineryException when the backend cannot be reached
   */
  default boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " cannot release a chord trigger");
  }

  /**
   * Tells whether {@link #releaseChordTrigger} works here.
   *
   * @return false (the default) if it throws {@link UnsupportedOperationException}
   */
  default boolean releasesChordTriggers() {
    return false;
  }

  /** What {@link #triggerChord(String, String)} answers. */
  enum Trigger {
    /** The caller triggered the chord: it sends the callback. */
    WON,
    /** Another member triggered it. */
    LOST,
    /**
     * The same member triggered it before: its earlier run, on a worker that died or on one still
     * finishing it, may not have sent the callback.
     */
    WON_BEFORE
  }

  /**
   * Stores PENDING, with the task's name and creation time (Go's {@code SetStatePending}).
   *
   * @param signature the task, with its UUID
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void setStatePending(Signature signature);

  /**
   * Stores PENDING unless the task has a state already, in one atomic step (on Redis {@code SET
   * <uuid> <state> NX EX <expiry>}). A worker that completes a chord publishes the callback first
   * and then stores its PENDING this way, where {@link #storesPendingIfAbsent} says it can, so that
   * any state of a chord callback proves the callback was published: a redelivered member that
   * finds one does not send the callback again. Go stores PENDING before publishing, where a
   * PENDING callback may never have been sent.
   *
   * @param signature the task, with its UUID
   * @return true if PENDING was stored; false if the task had a state (a worker took it already)
   * @throws UnsupportedOperationException when {@link #storesPendingIfAbsent} is false (the
   *     default)
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  default boolean setStatePendingIfAbsent(Signature signature) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " cannot store a state only where there is none");
  }

  /**
   * Tells whether {@link #setStatePendingIfAbsent} works here.
   *
   * @return false (the default) if it throws {@link UnsupportedOperationException}
   */
  default boolean storesPendingIfAbsent() {
    return false;
  }

  /**
   * Stores PENDING without making the sender wait: {@link #setStatePending} with its answer in the
   * returned future (what {@code Server.sendTask} and its asynchronous and batch forms call). The
   * default writes before returning.
   *
   * @param signature the task, with its UUID
   * @return a future completed when the write is done, exceptionally when it failed
   */
  default CompletableFuture<Void> setStatePendingAsync(Signature signature) {
    try {
      setStatePending(signature);
      return CompletableFuture.completedFuture(null);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Stores PENDING for several tasks without making the sender wait (what {@code Server.sendTasks}
   * and its asynchronous form call): one future for all the writes, so that a batch does not cost a
   * future per task. The default calls {@link #setStatePendingAsync} for each.
   *
   * @param signatures the tasks, with their UUIDs
   * @return a future completed when every write is done, exceptionally when one failed (with that
   *     failure)
   */
  default CompletableFuture<Void> setStatePendingAllAsync(List<Signature> signatures) {
    if (signatures.size() == 1) {
      return setStatePendingAsync(signatures.get(0));
    }
    CompletableFuture<?>[] writes = new CompletableFuture<?>[signatures.size()];
    for (int i = 0; i < writes.length; i++) {
      try {
        writes[i] = setStatePendingAsync(signatures.get(i));
      } catch (RuntimeException e) {
        writes[i] = CompletableFuture.failedFuture(e);
      }
    }
    return CompletableFuture.allOf(writes);
  }

  /**
   * The connection this backend's writes travel on, when a broker may share it; see {@link
   * Broker#writeOrder()}. Empty (the default): none is shared.
   *
   * @return an object that stands for the connection
   */
  default java.util.Optional<Object> writeOrder() {
    return java.util.Optional.empty();
  }

  /**
   * Stores RECEIVED (Go's {@code SetStateReceived}).
   *
   * @param signature the task, with its UUID
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void setStateReceived(Signature signature);

  /**
   * Stores STARTED (Go's {@code SetStateStarted}).
   *
   * @param signature the task, with its UUID
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void setStateStarted(Signature signature);

  /**
   * Stores RETRY (Go's {@code SetStateRetry}).
   *
   * @param signature the task, with its UUID
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void setStateRetry(Signature signature);

  /**
   * Writes RECEIVED without making the worker wait for it. The worker calls this, then {@link
   * #setStateStartedAsync}, then one of the blocking final-state methods, all from one thread, and
   * joins the returned futures before it acknowledges the message. A backend whose writes on one
   * connection are applied in order (Redis, AMQP) can pipeline these, so a task costs one awaited
   * round trip instead of three; the default simply writes and returns a completed future.
   *
   * @param signature the task, with its UUID
   * @return a future completed when the write is done, exceptionally when it failed
   */
  default CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    setStateReceived(signature);
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Writes STARTED without making the worker wait for it; see {@link #setStateReceivedAsync}.
   *
   * @param signature the task, with its UUID
   * @return a future completed when the write is done, exceptionally when it failed
   */
  default CompletableFuture<Void> setStateStartedAsync(Signature signature) {
    setStateStarted(signature);
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Tells the backend that the calling thread's run of a task is over, whether or not it stored a
   * final state (a run dropped because its broker's hold broke, abandoned by a shutdown, or whose
   * bookkeeping gave up stores none), so a backend that keeps state per run lets it go (the Redis
   * backend: the run's write chain, counted among the runs in flight). The worker calls it once per
   * run that got as far as a task, after its last write. The default does nothing.
   *
   * @param signature the task, with its UUID
   */
  default void runEnded(Signature signature) {}

  /**
   * Stores SUCCESS with the task's results (Go's {@code SetStateSuccess}).
   *
   * @param signature the task, with its UUID
   * @param results the values the task returned, each with its Go type
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void setStateSuccess(Signature signature, List<TaskResult> results);

  /**
   * Stores FAILURE with the error text (Go's {@code SetStateFailure}).
   *
   * @param signature the task, with its UUID
   * @param error the error text
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void setStateFailure(Signature signature, String error);

  /**
   * Reads the latest state of a task (Go's {@code GetState}). On a backend whose reads consume
   * ({@link #consumesStatesOnRead()}), the state read is gone for every other reader.
   *
   * @param taskUuid the task's UUID
   * @return the state, or empty when the backend has none (not yet written, expired, or consumed)
   * @throws io.machinery.MachineryException when the backend cannot be read
   */
  Optional<TaskState> getState(String taskUuid);

  /**
   * Deletes a task's state (Go's {@code PurgeState}); nothing happens when there is none.
   *
   * @param taskUuid the task's UUID
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void purgeState(String taskUuid);

  /**
   * Deletes a group's metadata (Go's {@code PurgeGroupMeta}); nothing happens when there is none.
   *
   * @param groupUuid the group's UUID
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  void purgeGroupMeta(String groupUuid);

  /**
   * Tells whether reading a state consumes it (Go's AMQP backend); then the worker purges a chord's
   * group after triggering it, as Go does, and never reads a state it does not own.
   *
   * @return true if {@link #getState} takes the state away; false (the default) if reads leave it
   */
  default boolean consumesStatesOnRead() {
    return false;
  }

  /**
   * Stores how far a running task is, replacing the previous report; kept for the results' expiry,
   * apart from the task's state (Go's clients and workers never see it). Called by the worker from
   * the task's thread on {@link io.machinery.TaskContext#reportProgress}.
   *
   * @param taskUuid the task's UUID
   * @param progress the report
   * @throws UnsupportedOperationException when this backend cannot keep progress (the default)
   * @throws io.machinery.MachineryException when the backend cannot be written
   */
  default void setProgress(String taskUuid, io.machinery.TaskProgress progress) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " cannot keep task progress");
  }

  /**
   * Reads the last progress report of a task, without consuming it (also on a backend whose state
   * reads consume).
   *
   * @param taskUuid the task's UUID
   * @return the last report; empty when the task reported none (or it expired)
   * @throws UnsupportedOperationException when this backend cannot keep progress (the default)
   * @throws io.machinery.MachineryException when the backend cannot be read
   */
  default Optional<io.machinery.TaskProgress> getProgress(String taskUuid) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " cannot keep task progress");
  }

  /**
   * Returns the {@link ControlPlane} this backend can keep (live workers, paused queues), for a
   * server whose broker has none.
   *
   * @return the control plane, which works through this backend and has nothing of its own to
   *     close; empty when the backend cannot keep shared state (the default)
   */
  default Optional<ControlPlane> controlPlane() {
    return Optional.empty();
  }

  /**
   * Claims a uniqueness key for a task, atomically across processes: the key is set to {@code
   * taskUuid} for {@code ttl} unless it is held already, in which case the holder is returned.
   * {@link io.machinery.Server#sendTaskUnique} calls it before sending; the worker releases it when
   * the task finishes. On Redis: {@code SET machinery_unique:<key> <uuid> NX PX <ttl>}, and {@code
   * GET} when that fails, in one script.
   *
   * @param key the uniqueness key
   * @param taskUuid the UUID of the task that wants it
   * @param ttl how long the claim lasts at most; positive
   * @return the UUID of the task holding the key; empty when {@code taskUuid} got it
   * @throws UnsupportedOperationException when this backend cannot keep uniqueness keys (the
   *     default)
   * @throws io.machinery.MachineryException when the backend cannot be reached
   */
  default Optional<String> claimUnique(String key, String taskUuid, java.time.Duration ttl) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " cannot keep uniqueness keys");
  }

  /**
   * Releases a uniqueness key if {@code taskUuid} still holds it (compare and delete); otherwise
   * nothing happens.
   *
   * @param key the uniqueness key
   * @param taskUuid the task that claimed it
   * @throws UnsupportedOperationException when this backend cannot keep uniqueness keys (the
   *     default)
   * @throws io.machinery.MachineryException when the backend cannot be reached
   */
  default void releaseUnique(String key, String taskUuid) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " cannot keep uniqueness keys");
  }

  /** Releases the backend's connections; idempotent. */
  @Override
  void close();
}
