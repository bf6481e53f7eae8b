package io.machinery.backend.redis;

import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The state writes of one task by one worker thread: RECEIVED, STARTED, then a final state (the
 * Backend SPI promises this order, from one thread).
 *
 * <p>Design notes. The chain reads the stored state once ({@code GET}, sent at once) to take its
 * TaskName and CreatedAt ({@link StateTemplate#carried}); each write is then a plain {@code SET …
 * EX} with those values spliced in. Writes made before the read has answered wait for it; of those
 * only the latest is sent, the earlier ones being superseded (their futures complete with it): the
 * stored state goes straight from the one read to the latest, so a short task costs one GET and one
 * SET. The final write never waits for the read ({@link #writeLast}): then it is the merge script,
 * which reads the stored state itself; a {@link #deferred} chain sends its read only when asked
 * ({@link #startRead}), so a chain ended by {@link #writeLast} before that sends no read at all.
 * Writes leave in call order on one connection, where Redis applies them in the order sent, so the
 * stored state always ends at the last write: each is dispatched under the chain's lock, so a write
 * made just after the read answered cannot overtake the one the read released (it once could, and a
 * task's final state was overwritten by its STARTED).
 *
 * <p>An early write (RECEIVED, STARTED; {@link #writeEarly}) never replaces a stored SUCCESS: when
 * the read found one it completes without a command, else it is sent as {@link
 * BackendScripts#EARLY_STATE}, which checks again in Redis (the read may be from before a pause). A
 * worker that was paused (a long collection, SIGSTOP) in the middle of its chain would otherwise
 * write STARTED over the SUCCESS of the copy its broker handed to another worker meanwhile, as soon
 * as it resumed (found by the Redis broker's {@code RedisPausedWorkerIT}: first with the deferred
 * read still to go, then, on a loaded machine, with the read's reply not yet taken); a task that
 * runs again after a SUCCESS keeps showing it until its own final state.
 *
 * <p>A read that fails (an error reply: {@code LOADING} after a restart, {@code BUSY} behind a long
 * script) fails the writes that waited for it, and only those: the next write reads again, and a
 * final state is then the merge script, so a task's SUCCESS is not lost to an error that had passed
 * by the time it ended (it once failed with the read's error). A key of another type ({@code
 * WRONGTYPE}) is no failure: Go's merge ignores a state it cannot read and its {@code SET} replaces
 * the key, so the chain carries Go's zero values, as for a state that is not JSON. Thread-safe (the
 * read's reply arrives on a Lettuce thread).
 */
final class WriteChain {
  private final RedisClusterAsyncCommands<String, byte[]> commands;
  private final String taskUuid;
  private StateTemplate.@Nullable Carried carried;

  /**
   * Whether the last read failed (an error reply such as {@code LOADING} or {@code BUSY}): the
   * writes that waited for it failed with it, and the next write sends the read again.
   */
  private boolean readFailed;

  /**
   * Whether {@link #writeLast} ended the chain before the read answered: nothing may follow (a
   * flag, not a prepared exception: building one per task, its stack trace filled in, was 5% of a
   * worker's samples; it is built only for a write that comes after all).
   */
  private boolean ended;

  /** Whether the read was sent (a deferred chain sends it late, or never). */
  private boolean readSent;

  /**
   * The latest write waiting for the read, and the futures of the writes it supersedes (and its
   * own).
   */
  private @Nullable Waiting waiting;

  private record Waiting(
      Supplier<StateTemplate> state,
      long expireSeconds,
      @Nullable String groupUuid,
      boolean early,
      List<CompletableFuture<Void>> replies) {}

  private WriteChain(RedisClusterAsyncCommands<String, byte[]> commands, String taskUuid) {
    this.commands = commands;
    this.taskUuid = taskUuid;
  }

  /** Sends the read of the stored state now. */
  static WriteChain start(RedisClusterAsyncCommands<String, byte[]> commands, String taskUuid) {
    WriteChain chain = new WriteChain(commands, taskUuid);
    chain.startRead();
    return chain;
  }

  /**
   * A chain whose read is sent only by {@link #startRead} ({@link DeferredReads}); its writes wait
   * until then, unless {@link #writeLast} ends the chain first (without a read).
   */
  static WriteChain deferred(RedisClusterAsyncCommands<String, byte[]> commands, String taskUuid) {
    return new WriteChain(commands, taskUuid);
  }

  /** Sends the read of the stored state, once; nothing when the chain has ended. */
  void startRead() {
    synchronized (this) {
      if (readSent || ended) {
        return;
      }
      readSent = true;
    }
    try {
      commands.get(taskUuid).whenComplete(this::read);
    } catch (RuntimeException e) {
      read(null, e);
    }
  }

  String taskUuid() {
    return taskUuid;
  }

  private void read(byte @Nullable [] stored, @Nullable Throwable error) {
    Waiting send;
    Throwable failed;
    CompletableFuture<?> sent = null;
    synchronized (this) {
      if (error != null && !isWrongType(error)) {
        // the writes that waited fail; the next one reads again (a final state is the merge
        // script), so an error that has passed by then does not cost it too
        failed = error;
        readSent = false;
        readFailed = true;
      } else {
        failed = null;
        carried = error != null ? StateTemplate.Carried.ZERO : carriedOrZero(stored);
      }
      send = waiting;
      waiting = null;
      if (send != null && failed == null && overStoredSuccess(send.early())) {
        sent = CompletableFuture.completedFuture(null);
      } else if (send != null && failed == null) {
        // sent under the lock: a later write that finds `carried` set must leave after this one
        sent = sendNow(send.state(), send.expireSeconds(), send.groupUuid(), send.early());
      }
    }
    if (send == null) {
      return;
    }
    if (failed != null) {
      send.replies().forEach(reply -> reply.completeExceptionally(failed));
    } else {
      java.util.Objects.requireNonNull(sent)
          .whenComplete((ok, e) -> send.replies().forEach(reply -> complete(reply, e)));
    }
  }

  /** What the stored state carries; Go's zero values for one that cannot be read (as Go). */
  private static StateTemplate.Carried carriedOrZero(byte @Nullable [] stored) {
    try {
      return StateTemplate.carried(stored);
    } catch (RuntimeException e) {
      return StateTemplate.Carried.ZERO;
    }
  }

  /**
   * Whether the read found a key of another type: Go's merge ignores a state it cannot read, and
   * its {@code SET} replaces the key, so this chain carries Go's zero values and its writes do so.
   */
  private static boolean isWrongType(Throwable error) {
    Throwable cause =
        error instanceof java.util.concurrent.CompletionException c && c.getCause() != null
            ? c.getCause()
            : error;
    return cause instanceof io.lettuce.core.RedisCommandExecutionException
        && cause.getMessage() != null
        && cause.getMessage().startsWith("WRONGTYPE");
  }

  /**
   * {@code SET <task> <state with the carried values> EX <seconds>} (and {@code EXPIRE <group>})
   * after the previous write; the future completes with Redis' reply (to this write or to the one
   * superseding it).
   */
  CompletableFuture<Void> write(
      StateTemplate state, long expireSeconds, @Nullable String groupUuid) {
    return write(() -> state, expireSeconds, groupUuid);
  }

  /**
   * As {@link #write(StateTemplate, long, String)}, with the state built only if it is sent: a
   * write superseded while it waits for the read (a short task's RECEIVED and STARTED) costs no
   * encoding.
   */
  CompletableFuture<Void> write(
      Supplier<StateTemplate> state, long expireSeconds, @Nullable String groupUuid) {
    return write(state, expireSeconds, groupUuid, false);
  }

  /**
   * An early state (RECEIVED, STARTED) by {@link #write(Supplier, long, String)}, unless the read
   * found a SUCCESS: then it completes without a command (see the class notes).
   */
  CompletableFuture<Void> writeEarly(Supplier<StateTemplate> state, long expireSeconds) {
    return write(state, expireSeconds, null, true);
  }

  private CompletableFuture<Void> write(
      Supplier<StateTemplate> state,
      long expireSeconds,
      @Nullable String groupUuid,
      boolean early) {
    CompletableFuture<Void> reply = new CompletableFuture<>();
    Throwable failed;
    CompletableFuture<?> sent = null;
    boolean readAgain = false;
    synchronized (this) {
      failed = ended ? new IllegalStateException("the chain of " + taskUuid + " has ended") : null;
      if (failed == null && carried == null) {
        List<CompletableFuture<Void>> replies = new ArrayList<>(3);
        if (waiting != null) {
          replies.addAll(waiting.replies());
        }
        replies.add(reply);
        waiting = new Waiting(state, expireSeconds, groupUuid, early, replies);
        readAgain = readFailed;
      } else if (failed == null && overStoredSuccess(early)) {
        sent = CompletableFuture.completedFuture(null);
      } else if (failed == null) {
        // under the lock, as in read(): writes leave in the order they were made
        sent = sendNow(state, expireSeconds, groupUuid, early);
      }
    }
    if (failed == null && sent == null) { // waiting for the read
      if (readAgain) {
        startRead();
      }
      return reply;
    }
    if (failed != null) {
      reply.completeExceptionally(failed);
      return reply;
    }
    java.util.Objects.requireNonNull(sent).whenComplete((ok, e) -> complete(reply, e));
    return reply;
  }

  /** An early write the read already found a SUCCESS for: it completes without a command. */
  private boolean overStoredSuccess(boolean early) {
    StateTemplate.Carried values = carried;
    return early && values != null && values.succeeded();
  }

  /** {@link #send} of the state {@code state} builds; a failure to build it fails the future. */
  private CompletableFuture<?> sendNow(
      Supplier<StateTemplate> state,
      long expireSeconds,
      @Nullable String groupUuid,
      boolean early) {
    try {
      return early
          ? sendEarly(state.get(), expireSeconds)
          : send(state.get(), expireSeconds, groupUuid);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * An early state by {@link BackendScripts#EARLY_STATE}, which checks the stored state in Redis
   * itself: the read this chain made may be from before a pause.
   */
  private CompletableFuture<?> sendEarly(StateTemplate state, long expireSeconds) {
    StateTemplate.Carried values = carried;
    return BackendScripts.EARLY_STATE.run(
        commands,
        new String[] {taskUuid},
        state.with(values == null ? StateTemplate.Carried.ZERO : values),
        io.machinery.client.redis.RedisArgs.bytes(Long.toString(expireSeconds)));
  }

  /**
   * The last write of the chain: as {@link #write}, except that if the read has not answered yet,
   * {@code mergeNow} (a write that reads the stored state itself, sent on the same connection, so
   * after the read and any earlier write) is sent at once instead of waiting, and supersedes the
   * writes still waiting.
   */
  CompletableFuture<Void> writeLast(
      StateTemplate state,
      long expireSeconds,
      @Nullable String groupUuid,
      Supplier<CompletableFuture<?>> mergeNow) {
    List<CompletableFuture<Void>> superseded;
    synchronized (this) {
      if (carried != null || ended) {
        superseded = null;
      } else {
        superseded = waiting == null ? List.of() : waiting.replies();
        waiting = null;
        ended = true; // nothing may follow
      }
    }
    if (superseded == null) {
      return write(state, expireSeconds, groupUuid);
    }
    CompletableFuture<Void> reply = new CompletableFuture<>();
    CompletableFuture<?> sent;
    try {
      sent = mergeNow.get();
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete(
        (ok, e) -> {
          complete(reply, e);
          superseded.forEach(r -> complete(r, e));
        });
    return reply;
  }

  private CompletableFuture<?> send(
      StateTemplate state, long expireSeconds, @Nullable String groupUuid) {
    try {
      StateTemplate.Carried values = carried;
      CompletableFuture<?> reply =
          commands
              .set(
                  taskUuid,
                  state.with(values == null ? StateTemplate.Carried.ZERO : values),
                  SetArgs.Builder.ex(expireSeconds))
              .toCompletableFuture();
      if (groupUuid != null) {
        reply =
            CompletableFuture.allOf(
                reply, commands.expire(groupUuid, expireSeconds).toCompletableFuture());
      }
      return reply;
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private static void complete(CompletableFuture<Void> reply, @Nullable Throwable error) {
    if (error != null) {
      reply.completeExceptionally(error);
    } else {
      reply.complete(null);
    }
  }
}
