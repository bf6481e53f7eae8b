package io.machinery.backend.redis;

import static io.machinery.client.redis.RedisArgs.bytes;

import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.StateNotFoundException;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.redis.RedisControlPlane;
import io.machinery.client.redis.RedisKeys;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.GroupMeta;
import io.machinery.wire.WireCodec;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * Go Machinery's Redis result backend (spec §4.1, §5.1), for Java and Go workers and clients
 * sharing a Redis.
 *
 * <pre>{@code
 * Config config = Config.builder().resultBackend("redis://127.0.0.1:6379").resultsExpireIn(3600).build();
 * try (RedisBackend backend = RedisBackend.create(config)) {
 *   // hand it to Server.builder().backend(backend)
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Go's keys and values.</b> A task's state is {@code SET <task uuid> <TaskState JSON> EX
 *       <resultsExpireIn>}; a group's meta is {@code SET <group uuid> <GroupMeta JSON> EX …}; all
 *       JSON comes from {@link WireCodec}.
 *   <li><b>Fewer round trips than Go.</b> Every state after PENDING carries TaskName and CreatedAt
 *       forward from the stored one (Go: GET before every SET), spliced into the new JSON as raw
 *       bytes, so result values keep their exact digits. A worker's RECEIVED, STARTED and final
 *       state form one {@link WriteChain}: one GET, then pipelined SETs; a state the next one
 *       replaces before the GET has answered is never sent (the stored state goes straight to the
 *       later one), so a short task costs a GET and a SET, and the worker waits for one round trip.
 *       When few tasks are in flight the final state does not wait for the GET at all: it is the
 *       merge script, one round trip; and the GET itself is deferred ({@link DeferredReads}), so a
 *       task that ends within a couple of milliseconds costs that one script and nothing else. A
 *       lone state write is that script too. Group completion and group states are one script each
 *       on a single server (Go: GET then MGET); on a cluster a GET and a slot-split MGET.
 *   <li><b>Group expiry.</b> When a group member reaches RETRY, SUCCESS or FAILURE, the group key's
 *       expiry is refreshed (pipelined with the state write), so a group outliving {@code
 *       resultsExpireIn} through retries no longer loses its meta (Go issue #352).
 *   <li><b>Group completion is O(1) per member</b> on a single server, and stays right when Go
 *       workers complete some members. Go counts a group by reading the meta and every member's
 *       state on every member's completion (O(N) per member, O(N²) per chord; at 20,000 members
 *       about 10 min of blocked Redis per chord). A Java {@link #initGroup} also writes {@code
 *       {<group uuid>}:pending}, a list of the members not yet seen completed (plus a marker, so
 *       that it still exists when all are); {@link #groupCompleted} reads the state of the member
 *       at its head: not completed, the answer is "no" after one GET; completed, the member leaves
 *       the list and the next is looked at ({@link BackendScripts#GROUP_PENDING}). The states stay
 *       the only truth (the list is a cache of "already seen completed"), so members completed by
 *       Go workers, which never touch the list, are found there too, and nothing on the wire
 *       changes: Go's keys and values are as before, and Go workers keep counting their way. A
 *       group without the list (sent by a Go client, or its list expired) is counted Go's way; on a
 *       cluster too (the meta names keys in other slots). A member that was once seen completed
 *       stays counted if it runs again (a redelivery).
 *   <li><b>Chords fire once, with Go workers too.</b> Go sets the meta's {@code ChordTriggered}
 *       under one redsync mutex for every group, {@code TriggerChordMutex} ({@code SET <16 random
 *       bytes, base64> NX PX 8000}, up to 32 tries 50–250 ms apart, read-modify-write, release by
 *       compare-and-delete), so chords that complete together wait for each other a random 50–250
 *       ms. On a single server {@link #triggerChord} is one script instead: it flips the flag in
 *       place while nobody holds the mutex and waits as redsync does while someone (a Go worker)
 *       does; Java workers never hold it, so they never wait for each other (ChordBenchmark:
 *       docs/benchmarks.md). On a cluster, where the mutex and the meta live in different slots,
 *       and for a meta not in Go's layout, it follows Go's protocol (mutex, read, write, redsync's
 *       own release script), its write one script over the meta and the winner key ({@link
 *       BackendScripts#TRIGGER_CHORD_UNDER_MUTEX}, one slot), made only while the meta is still the
 *       bytes read: a worker that dies under the mutex leaves the flag and the winner together or
 *       neither (they were two commands, and a winner key beside an unset flag later made its
 *       member take another's win for its own). The winning member's UUID is kept beside the meta
 *       ({@link #winnerKey}), so that member, back as a first delivery after its worker died
 *       (Pub/Sub without a dead-letter policy), learns it won and checks that the callback was sent
 *       ({@link #triggerChord(String, String)}). A winner key names the member that won the group's
 *       current trigger or nobody: a win without a member deletes it, and so does {@link
 *       #initGroup}, in the same script as the meta (a group UUID used again starts untriggered; as
 *       two commands, a Go worker's win between them was read as the old winner's). A winner that
 *       finds a member running again releases its trigger ({@link #releaseChordTrigger}): one
 *       script over the meta and the winner key (one slot, so on a cluster too) flips the flag back
 *       in Go's bytes and forgets the winner, and needs no mutex, since it only turns a flag false
 *       that every setter (Go included) sets only after reading it false.
 *   <li><b>Progress</b> ({@link #setProgress}) is a key of its own, {@code machinery_progress:<task
 *       uuid>}, with the results' expiry: the state key keeps exactly Go's JSON.
 * </ul>
 *
 * <p>Thread-safe; calls block until Redis has answered (at most the command timeout). Whoever
 * builds a backend closes it.
 *
 * <p>Size: Go's backend interface (states, groups, chord trigger, results, progress) over one
 * session and one key layout; the Lua lives in {@code BackendScripts} and the pipelined state
 * writes in {@code WriteChain}.
 */
public final class RedisBackend implements Backend {
  /** Go's redsync mutex name, one for all groups. */
  static final String CHORD_MUTEX = "TriggerChordMutex";

  static final long CHORD_MUTEX_EXPIRY_MILLIS = 8_000;
  static final int CHORD_MUTEX_TRIES = 32;

  /**
   * With at most this many tasks writing states in this process, a final state does not wait for
   * its chain's read (see {@link #writeAndWait}): one round trip less per task, at the price of a
   * Lua script instead of a SET. Few tasks in flight means latency decides the throughput; many,
   * CPU.
   */
  static final int LATENCY_BOUND_TASKS = 16;

  private final Clock clock;
  private final RedisSession session;
  private final boolean ownsSession;
  private final RedisClusterAsyncCommands<String, byte[]> commands;
  private final long expireSeconds;
  private final byte[] expireArg;
  private final RedisControlPlane controlPlane;

  /**
   * Write chains started and not yet ended, by a final state or by {@link #runEnded}: the tasks in
   * flight.
   */
  private final AtomicInteger chainsInFlight = new AtomicInteger();

  /**
   * The write chain of the task the current thread (a worker's task thread) is writing states for.
   */
  private final ThreadLocal<@Nullable WriteChain> chains = new ThreadLocal<>();

  /** Starts the reads of chains begun while latency bound, for tasks that outlive the grace. */
  private final DeferredReads deferredReads;

  private RedisBackend(Builder b) {
    this.clock = b.clock;
    this.expireSeconds = b.config.effectiveResultsExpireIn();
    this.expireArg = bytes(Long.toString(expireSeconds));
    this.ownsSession = b.session == null;
    this.session =
        b.session != null
            ? b.session
            : RedisSession.shared(b.url != null ? b.url : b.config.resultBackend(), b.config);
    this.commands = session.commands();
    this.controlPlane = RedisControlPlane.create(session, b.controlKeyPrefix);
    this.deferredReads = new DeferredReads(b.stateReadGraceNanos);
  }

  /** A backend for {@link Config#resultBackend()}. */
  public static RedisBackend create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  // ---------------------------------------------------------------------------------------------
  // states

  @Override
  public void setStatePending(Signature signature) {
    TaskState state = TaskState.pending(signature, now());
    session.await(
        commands.set(signature.uuid(), WireCodec.encode(state), SetArgs.Builder.ex(expireSeconds)));
  }

  /** PENDING where the task has no state: {@code SET <uuid> <state> NX EX <expiry>}. */
  @Override
  public boolean setStatePendingIfAbsent(Signature signature) {
    TaskState state = TaskState.pending(signature, now());
    return session.await(
            commands.set(
                signature.uuid(), WireCodec.encode(state), SetArgs.Builder.nx().ex(expireSeconds)))
        != null;
  }

  @Override
  public boolean storesPendingIfAbsent() {
    return true;
  }

  /**
   * PENDING without waiting: Go's {@code SET <uuid> <state> EX <expiry>}, its answer in the future.
   */
  @Override
  public CompletableFuture<Void> setStatePendingAsync(Signature signature) {
    return session.timedDone(pendingWrite(signature));
  }

  /** The PENDING write: {@code SET <uuid> <state> EX <expiry>}. */
  private RedisFuture<String> pendingWrite(Signature signature) {
    TaskState state = TaskState.pending(signature, now());
    return commands.set(
        signature.uuid(), WireCodec.encode(state), SetArgs.Builder.ex(expireSeconds));
  }

  /**
   * PENDING for a batch: {@link #pendingWrite} per task, with one future and one deadline for them
   * all.
   */
  @Override
  public CompletableFuture<Void> setStatePendingAllAsync(List<Signature> signatures) {
    if (signatures.size() == 1) {
      return setStatePendingAsync(signatures.get(0));
    }
    List<CompletableFuture<?>> writes = new ArrayList<>(signatures.size());
    for (Signature signature : signatures) {
      writes.add(pendingWrite(signature).toCompletableFuture());
    }
    return session.timedAll(writes);
  }

  /** The connection state writes travel on; see {@link io.machinery.spi.Broker#writeOrder}. */
  @Override
  public Optional<Object> writeOrder() {
    return session.writeOrder();
  }

  /**
   * RECEIVED, waiting for Redis: next in this thread's write chain for the task, else the merge
   * script.
   */
  @Override
  public void setStateReceived(Signature signature) {
    writeAndWait(signature, TaskState.received(signature), false);
  }

  /**
   * STARTED, waiting for Redis: next in this thread's write chain for the task, else the merge
   * script.
   */
  @Override
  public void setStateStarted(Signature signature) {
    writeAndWait(signature, TaskState.started(signature), false);
  }

  @Override
  public void setStateRetry(Signature signature) {
    writeFinal(signature, TaskState.retry(signature));
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    writeFinal(signature, TaskState.success(signature, results));
  }

  @Override
  public void setStateFailure(Signature signature, String error) {
    writeFinal(signature, TaskState.failure(signature, error));
  }

  /**
   * RECEIVED without waiting: starts this thread's write chain for the task ({@code GET} of the
   * stored state, then {@code SET}); see {@link WriteChain}.
   */
  @Override
  public CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    return startChain(signature)
        .writeEarly(() -> StateTemplate.of(TaskState.received(signature)), expireSeconds)
        .handle(this::mapped);
  }

  /**
   * STARTED without waiting, next in this thread's write chain for the task (one is started if
   * there is none).
   */
  @Override
  public CompletableFuture<Void> setStateStartedAsync(Signature signature) {
    WriteChain chain = chains.get();
    if (chain == null || !chain.taskUuid().equals(signature.uuid())) {
      chain = startChain(signature);
    }
    return chain
        .writeEarly(() -> StateTemplate.of(TaskState.started(signature)), expireSeconds)
        .handle(this::mapped);
  }

  /**
   * A new write chain for this thread's task. With few tasks in flight its read is deferred ({@link
   * DeferredReads}): the final state will be the merge script, so a task that ends within the grace
   * needs no read at all.
   */
  private WriteChain startChain(Signature signature) {
    int inFlight =
        chains.get() == null
            ? chainsInFlight.incrementAndGet() // a chain replaced on one thread stays counted once
            : chainsInFlight.get();
    WriteChain chain;
    if (inFlight <= LATENCY_BOUND_TASKS && !closed.get()) {
      chain = WriteChain.deferred(commands, signature.uuid());
      deferredReads.add(chain);
    } else {
      chain = WriteChain.start(commands, signature.uuid());
    }
    chains.set(chain);
    return chain;
  }

  /**
   * Ends this thread's write chain for the task if a final state did not (the run stored none), so
   * it no longer counts as in flight. Its early writes already sent or due stay as they are.
   */
  @Override
  public void runEnded(Signature signature) {
    WriteChain chain = chains.get();
    if (chain != null && chain.taskUuid().equals(signature.uuid())) {
      chains.remove();
      chainsInFlight.decrementAndGet();
    }
  }

  private void writeFinal(Signature signature, TaskState state) {
    writeAndWait(signature, state, true);
  }

  /**
   * A state write that waits for Redis: the next write of this thread's chain for the task when
   * there is one (a final state ends the chain), else the merge script (one round trip). Final
   * states (RETRY, SUCCESS, FAILURE) also refresh the group's expiry.
   */
  private void writeAndWait(Signature signature, TaskState state, boolean isFinal) {
    StateTemplate template = StateTemplate.of(state);
    String group = isFinal && !signature.groupUuid().isEmpty() ? signature.groupUuid() : null;
    WriteChain chain = chains.get();
    if (chain != null && chain.taskUuid().equals(signature.uuid())) {
      if (isFinal) {
        chains.remove();
        if (chainsInFlight.getAndDecrement() <= LATENCY_BOUND_TASKS) {
          // few tasks in flight, so latency counts more than Redis CPU: rather than wait for the
          // chain's read,
          // send the merge script now (behind the read on the connection); it reads the stored
          // state itself
          awaitChained(
              chain.writeLast(
                  template, expireSeconds, group, () -> merge(signature.uuid(), template, group)),
              signature,
              template,
              group);
        } else {
          chain.startRead(); // a deferred chain's: this write waits for it
          awaitChained(chain.write(template, expireSeconds, group), signature, template, group);
        }
      } else {
        chain.startRead();
        awaitChained(chain.write(template, expireSeconds, group), signature, template, group);
      }
      return;
    }
    session.await(merge(signature.uuid(), template, group));
  }

  /**
   * Waits for a chain's write; one that a Redis at its {@code maxmemory} refused (a chain writes
   * with {@code SET}, which may grow memory) is written again by the merge script, which a full
   * Redis takes because, refused too, it deletes the stored state and writes again in the same call
   * (see {@link BackendScripts}). Only then: a plain task's states keep their one {@code SET}.
   */
  private void awaitChained(
      CompletableFuture<Void> write,
      Signature signature,
      StateTemplate template,
      @Nullable String group) {
    try {
      session.await(write);
    } catch (MachineryException e) {
      if (!isOutOfMemory(e)) {
        throw e;
      }
      session.await(merge(signature.uuid(), template, group));
    }
  }

  private static boolean isOutOfMemory(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof RedisCommandExecutionException
          && t.getMessage() != null
          && t.getMessage().startsWith("OOM ")) {
        return true;
      }
    }
    return false;
  }

  /**
   * The merge script, and the group's expiry refresh (in the script on a single server, beside it
   * on a cluster).
   */
  private CompletableFuture<?> merge(
      String taskUuid, StateTemplate template, @Nullable String group) {
    String[] keys =
        group != null && !session.isCluster()
            ? new String[] {taskUuid, group}
            : new String[] {taskUuid};
    CompletableFuture<Long> write =
        BackendScripts.MERGE_STATE.run(
            commands, keys, template.head(), template.middle(), template.tail(), expireArg);
    return group != null && session.isCluster()
        ? CompletableFuture.allOf(
            write, commands.expire(group, expireSeconds).toCompletableFuture())
        : write;
  }

  private @Nullable Void mapped(@Nullable Object ok, @Nullable Throwable error) {
    if (error != null) {
      throw session.failure(error);
    }
    return null;
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    byte[] json = session.await(commands.get(taskUuid));
    return json == null ? Optional.empty() : Optional.of(WireCodec.decodeTaskState(json));
  }

  @Override
  public void purgeState(String taskUuid) {
    session.await(commands.del(taskUuid));
  }

  /** {@code SET machinery_progress:<uuid> <json> EX <resultsExpireIn>}: a key Go never reads. */
  @Override
  public void setProgress(String taskUuid, io.machinery.TaskProgress progress) {
    session.await(
        commands.set(progressKey(taskUuid), progress.toJson(), SetArgs.Builder.ex(expireSeconds)));
  }

  @Override
  public Optional<io.machinery.TaskProgress> getProgress(String taskUuid) {
    byte[] json = session.await(commands.get(progressKey(taskUuid)));
    return json == null ? Optional.empty() : Optional.of(io.machinery.TaskProgress.fromJson(json));
  }

  /**
   * One script ({@code SET machinery_unique:<key> <uuid> NX PX}, else {@code GET}): atomic across
   * senders.
   */
  @Override
  public Optional<String> claimUnique(String key, String taskUuid, Duration ttl) {
    byte[] holder =
        session.await(
            BackendScripts.CLAIM_UNIQUE.<byte[]>run(
                commands,
                new String[] {uniqueKey(key)},
                bytes(taskUuid),
                bytes(Long.toString(Math.max(1, ttl.toMillis())))));
    return holder == null
        ? Optional.empty()
        : Optional.of(new String(holder, java.nio.charset.StandardCharsets.UTF_8));
  }

  /** Compare-and-delete, with the same script as the chord mutex's release. */
  @Override
  public void releaseUnique(String key, String taskUuid) {
    session.await(
        BackendScripts.MUTEX_RELEASE.run(commands, new String[] {uniqueKey(key)}, bytes(taskUuid)));
  }

  static String uniqueKey(String key) {
    return "machinery_unique:" + key;
  }

  static String progressKey(String taskUuid) {
    return "machinery_progress:" + taskUuid;
  }

  // ---------------------------------------------------------------------------------------------
  // groups

  /**
   * Go's {@code SET <group uuid> <GroupMeta JSON> EX …}, the deletion of the group's {@linkplain
   * #winnerKey winner key} and, on a single server, the writing of its pending list (a cluster
   * counts Go's way and never reads one, see the class notes), as one script ({@link
   * BackendScripts#INIT_GROUP}, over keys of one slot): one round trip, on a cluster too. A group
   * UUID used again (a chord or DAG sent twice with the same UUIDs) starts with {@code
   * ChordTriggered} false, so a winner kept from its previous trigger would name a member that did
   * not win this one: that member would take another's win for its own ({@code WON_BEFORE}) and
   * could release a trigger it does not hold. One step, because a trigger between two commands is
   * that case: a Go worker's win on the fresh meta beside the old winner key. While Redis is full a
   * new group is refused with nothing written, as Go's {@code SET}; a group sent again is written.
   */
  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    byte[] meta = WireCodec.encode(GroupMeta.create(groupUuid, taskUuids, now()));
    if (session.isCluster()) {
      session.await(
          BackendScripts.INIT_GROUP.run(
              commands, new String[] {groupUuid, winnerKey(groupUuid)}, expireArg, meta));
      return;
    }
    byte[][] args = new byte[taskUuids.size() + 3][];
    args[0] = expireArg;
    args[1] = meta;
    for (int i = 0; i < taskUuids.size(); i++) {
      args[i + 2] = bytes(taskUuids.get(i));
    }
    args[args.length - 1] = new byte[0]; // the marker: the list outlives its last member
    session.await(
        BackendScripts.INIT_GROUP.run(
            commands, new String[] {groupUuid, winnerKey(groupUuid), pendingKey(groupUuid)}, args));
  }

  /**
   * Whether every task of the group is SUCCESS or FAILURE.
   *
   * @throws MachineryException "Group not found: …" or "Task not found: …" when the meta or a state
   *     is missing (expired, purged), as Go fails then
   */
  @Override
  public boolean groupCompleted(String groupUuid, int groupTaskCount) {
    if (session.isCluster()) {
      int completed = 0;
      for (TaskState state : clusterStates(groupUuid)) {
        if (state.isCompleted()) {
          completed++;
        }
      }
      return completed == groupTaskCount;
    }
    long pending;
    do {
      pending =
          awaitScript(
              BackendScripts.GROUP_PENDING.<Long>run(
                  commands,
                  new String[] {groupUuid, pendingKey(groupUuid)},
                  expireArg,
                  CONFIRM_PER_CALL));
    } while (pending == 2);
    if (pending >= 0) {
      return pending == 1;
    }
    Long completed =
        awaitScript(BackendScripts.GROUP_COMPLETED.run(commands, new String[] {groupUuid}));
    return completed == groupTaskCount;
  }

  /**
   * The most members one completion script confirms before it lets other clients in (about 15 ms of
   * Redis).
   */
  private static final byte[] CONFIRM_PER_CALL = bytes("1000");

  /**
   * The list of a group's members not yet seen completed (see the design notes); Java's own key,
   * not Go's.
   */
  static String pendingKey(String groupUuid) {
    return RedisKeys.tagged(groupUuid, "pending");
  }

  /**
   * The states of the group's tasks, in the order of the group.
   *
   * @throws MachineryException when the meta or a state is missing
   */
  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount) {
    if (session.isCluster()) {
      return clusterStates(groupUuid);
    }
    List<Object> raw =
        awaitScript(BackendScripts.GROUP_STATES.run(commands, new String[] {groupUuid}));
    List<TaskState> states = new ArrayList<>(raw.size());
    for (Object json : raw) {
      states.add(WireCodec.decodeTaskState((byte[]) json));
    }
    return states;
  }

  /** GET the meta, then one MGET that Lettuce splits by slot (Go: pipelined GETs). */
  private List<TaskState> clusterStates(String groupUuid) {
    GroupMeta meta = meta(groupUuid, session.await(commands.get(groupUuid)));
    if (meta.taskUuids().isEmpty()) {
      return List.of();
    }
    List<KeyValue<String, byte[]>> values =
        session.await(commands.mget(meta.taskUuids().toArray(new String[0])));
    List<TaskState> states = new ArrayList<>(values.size());
    for (KeyValue<String, byte[]> kv : values) {
      if (!kv.hasValue()) {
        throw StateNotFoundException.task(kv.getKey());
      }
      states.add(WireCodec.decodeTaskState(kv.getValue()));
    }
    return states;
  }

  private static GroupMeta meta(String groupUuid, byte @Nullable [] json) {
    if (json == null) {
      throw StateNotFoundException.group(groupUuid);
    }
    return WireCodec.decodeGroupMeta(json);
  }

  /**
   * Script errors raised with {@code redis.error_reply('machinery: …')} become MachineryExceptions:
   * a missing group or state a {@link StateNotFoundException}.
   */
  private <T> T awaitScript(CompletableFuture<T> reply) {
    try {
      return session.await(reply);
    } catch (MachineryException e) {
      if (e.getCause() instanceof RedisCommandExecutionException r
          && r.getMessage() != null
          && r.getMessage().startsWith("machinery: ")) {
        String message = r.getMessage().substring("machinery: ".length());
        MachineryException translated = notFound(message);
        if (translated == null) {
          translated = new MachineryException(message, r);
        } else {
          translated.initCause(r);
        }
        throw translated;
      }
      throw e;
    }
  }

  /** The exception for a script's "Group not found: X" or "Task not found: X"; null otherwise. */
  private static @Nullable StateNotFoundException notFound(String message) {
    if (message.startsWith("Group not found: ")) {
      return StateNotFoundException.group(message.substring("Group not found: ".length()));
    }
    if (message.startsWith("Task not found: ")) {
      return StateNotFoundException.task(message.substring("Task not found: ".length()));
    }
    return null;
  }

  /**
   * Sets the group's {@code ChordTriggered} beside Go's {@code TriggerChordMutex}; true for exactly
   * one caller per group, Java or Go (see the class notes).
   *
   * @throws MachineryException when the mutex stays taken for 32 tries ("redsync: failed to acquire
   *     lock", as Go), or the group meta is missing
   */
  @Override
  public boolean triggerChord(String groupUuid) {
    return triggerChord(groupUuid, "") == Trigger.WON;
  }

  /**
   * {@link #triggerChord(String)}, keeping the winning member's UUID in {@code <group tag>:
   * chord_winner} (Go never reads it) with the group's expiry: set in the same step as the flag, so
   * a winner is never unknown, and read only by a member that lost.
   */
  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    if (!session.isCluster()) {
      // one script, which waits while a Go worker holds the mutex (BackendScripts.TRIGGER_CHORD)
      String[] keys = {CHORD_MUTEX, groupUuid, winnerKey(groupUuid)};
      byte[] member = bytes(memberUuid);
      for (int attempt = 1; attempt <= CHORD_MUTEX_TRIES; attempt++) {
        long outcome =
            awaitScript(BackendScripts.TRIGGER_CHORD.<Long>run(commands, keys, expireArg, member));
        if (outcome == 1) {
          return Trigger.WON;
        }
        if (outcome == 2) {
          return Trigger.WON_BEFORE;
        }
        if (outcome == 0) {
          return Trigger.LOST;
        }
        if (outcome == -2) {
          throw StateNotFoundException.group(groupUuid);
        }
        if (outcome == -3) {
          return triggerUnderMutex(
              groupUuid, memberUuid); // not Go's layout: read and written in Java
        }
        pause();
      }
      throw new MachineryException(
          "redsync: failed to acquire lock (" + CHORD_MUTEX + ") for group " + groupUuid);
    }
    return triggerUnderMutex(groupUuid, memberUuid);
  }

  /**
   * Undoes {@code memberUuid}'s win: one script ({@link BackendScripts#RELEASE_CHORD}) flips the
   * meta's {@code ChordTriggered} back in Go's bytes and deletes the winner key, on a single server
   * and on a cluster alike, without Go's mutex (see the script). A meta in another layout is
   * decoded here and replaced by the script only while unchanged.
   *
   * @throws MachineryException when Redis cannot be reached, or the meta kept changing under the
   *     release
   */
  @Override
  public boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    if (memberUuid.isEmpty()) {
      return false; // a trigger without a member (a Go worker's) is never released
    }
    String[] keys = {groupUuid, winnerKey(groupUuid)};
    byte[] member = bytes(memberUuid);
    for (int attempt = 1; attempt <= CHORD_MUTEX_TRIES; attempt++) {
      long outcome =
          awaitScript(BackendScripts.RELEASE_CHORD.<Long>run(commands, keys, expireArg, member));
      if (outcome != -3) {
        return outcome == 1;
      }
      byte[] read = session.await(commands.get(groupUuid));
      if (read == null) {
        return false;
      }
      GroupMeta meta = WireCodec.decodeGroupMeta(read);
      if (!meta.chordTriggered()) {
        return false;
      }
      byte[] released = WireCodec.encode(meta.withChordTriggered(false));
      outcome =
          awaitScript(
              BackendScripts.RELEASE_CHORD.<Long>run(
                  commands, keys, expireArg, member, read, released));
      if (outcome != -4) {
        return outcome == 1;
      }
    }
    throw new MachineryException(
        "the meta of group " + groupUuid + " kept changing while its chord trigger was released");
  }

  /** True: {@link #releaseChordTrigger} works on a single server and on a cluster. */
  @Override
  public boolean releasesChordTriggers() {
    return true;
  }

  /**
   * The key of the member that triggered a group's chord (see {@link #triggerChord(String,
   * String)}).
   */
  static String winnerKey(String groupUuid) {
    return RedisKeys.tagged(groupUuid, "chord_winner");
  }

  /**
   * Go's way, for a cluster (the mutex and the meta live in different slots) and other layouts:
   * take the mutex, read the meta, write it with the winner key in one step ({@link
   * #flipUnderMutex}), release the mutex.
   */
  private Trigger triggerUnderMutex(String groupUuid, String memberUuid) {
    byte[] token = new byte[16];
    ThreadLocalRandom.current().nextBytes(token);
    byte[] value = bytes(Base64.getEncoder().encodeToString(token));
    SetArgs nxpx = SetArgs.Builder.nx().px(CHORD_MUTEX_EXPIRY_MILLIS);
    for (int attempt = 1; attempt <= CHORD_MUTEX_TRIES; attempt++) {
      CompletableFuture<String> lock = commands.set(CHORD_MUTEX, value, nxpx).toCompletableFuture();
      byte[] meta;
      if (session.isCluster()) {
        // the mutex and the meta live on different nodes: read only once the mutex is ours
        if (!"OK".equals(session.await(lock))) {
          pause();
          continue;
        }
        meta = awaitReleasing(commands.get(groupUuid).toCompletableFuture(), value);
      } else {
        // one connection runs commands in order: this GET runs after the SET, so under the mutex if
        // we got it
        CompletableFuture<byte[]> read = commands.get(groupUuid).toCompletableFuture();
        String locked = session.await(lock);
        if (!"OK".equals(locked)) {
          awaitQuietly(read);
          pause();
          continue;
        }
        meta = awaitReleasing(read, value);
      }
      Trigger outcome = flipUnderMutex(groupUuid, meta, value, memberUuid);
      if (outcome != null) {
        return outcome;
      }
      // the meta changed since it was read (our mutex expired, or a write without it): read again
    }
    throw new MachineryException(
        "redsync: failed to acquire lock (" + CHORD_MUTEX + ") for group " + groupUuid);
  }

  /**
   * Decides the trigger on the meta read under the mutex and releases the mutex; null when the meta
   * changed before it could be written, nothing written (read again). The flag and the winner key
   * are one script ({@link BackendScripts#TRIGGER_CHORD_UNDER_MUTEX}), so a worker that dies here
   * leaves both or neither, and a win without a member leaves no winner key.
   */
  private @Nullable Trigger flipUnderMutex(
      String groupUuid, byte @Nullable [] json, byte[] value, String memberUuid) {
    GroupMeta meta;
    try {
      meta = meta(groupUuid, json);
    } catch (RuntimeException e) {
      release(value);
      throw e;
    }
    if (meta.chordTriggered()) {
      release(value);
      if (memberUuid.isEmpty()) {
        return Trigger.LOST;
      }
      byte[] winner = session.await(commands.get(winnerKey(groupUuid)).toCompletableFuture());
      return winner != null
              && memberUuid.equals(new String(winner, java.nio.charset.StandardCharsets.UTF_8))
          ? Trigger.WON_BEFORE
          : Trigger.LOST;
    }
    CompletableFuture<Long> write =
        BackendScripts.TRIGGER_CHORD_UNDER_MUTEX.run(
            commands,
            new String[] {groupUuid, winnerKey(groupUuid)},
            expireArg,
            bytes(memberUuid),
            Objects.requireNonNull(json, "decoded, so read"),
            WireCodec.encode(meta.withChordTriggered(true)));
    long written;
    if (session.isCluster()) {
      try {
        written = awaitScript(write);
      } finally {
        release(value);
      }
    } else {
      CompletableFuture<Long> unlock =
          BackendScripts.MUTEX_RELEASE.run(commands, new String[] {CHORD_MUTEX}, value);
      try {
        written = awaitScript(write);
      } finally {
        awaitQuietly(unlock);
      }
    }
    return written == 1 ? Trigger.WON : null;
  }

  private byte @Nullable [] awaitReleasing(CompletableFuture<byte[]> read, byte[] value) {
    try {
      return session.await(read);
    } catch (RuntimeException e) {
      release(value);
      throw e;
    }
  }

  private void release(byte[] value) {
    awaitQuietly(BackendScripts.MUTEX_RELEASE.run(commands, new String[] {CHORD_MUTEX}, value));
  }

  /**
   * Waits for a reply whose failure changes nothing (the mutex then expires by itself after 8 s).
   */
  private static void awaitQuietly(CompletableFuture<?> reply) {
    try {
      reply.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      // ignored, see above
    }
  }

  /** redsync's retry delay: random between 50 and 250 ms. */
  private static void pause() {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(50, 251));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while waiting for " + CHORD_MUTEX, e);
    }
  }

  @Override
  public void purgeGroupMeta(String groupUuid) {
    if (!session.isCluster()) {
      session.await(commands.del(groupUuid, pendingKey(groupUuid), winnerKey(groupUuid)));
      return;
    }
    session.await(commands.del(groupUuid));
    session.await(commands.del(winnerKey(groupUuid)));
  }

  // -------------------------------------------------------------------------------------------
  // internals

  private OffsetDateTime now() {
    return OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
  }

  /**
   * Live workers and paused queues in this backend's Redis, under {@link Builder#controlKeyPrefix}
   * (the same keys a {@code RedisBroker} on that Redis uses), for a server whose broker keeps none.
   */
  @Override
  public Optional<ControlPlane> controlPlane() {
    return Optional.of(controlPlane);
  }

  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  /**
   * Stops the deferred reads' thread and closes the connection, unless the session was passed in
   * ({@link Builder#session}); idempotent.
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      deferredReads.close();
      if (ownsSession) {
        session.close();
      }
    }
  }

  @Override
  public String toString() {
    return "RedisBackend{"
        + session.address()
        + ", expires in "
        + Duration.ofSeconds(expireSeconds)
        + "}";
  }

  /** Builds a {@link RedisBackend}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Clock clock = Clock.systemUTC();
    private @Nullable String url;
    private @Nullable RedisSession session;
    private long stateReadGraceNanos = DeferredReads.GRACE_NANOS;
    private String controlKeyPrefix = RedisControlPlane.DEFAULT_KEY_PREFIX;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /** How long a task runs before its RECEIVED and STARTED are read for (tests). */
    Builder stateReadGrace(Duration value) {
      stateReadGraceNanos = value.toNanos();
      return this;
    }

    /** The clock for PENDING's and a group's CreatedAt; default the system UTC clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * Uses {@code value} instead of opening a session of its own (a broker, a backend and a lock
     * can share one Lettuce client and its threads); the caller owns it and closes it after the
     * backend. {@link #url} is then ignored.
     */
    public Builder session(RedisSession value) {
      session = Objects.requireNonNull(value, "session");
      return this;
    }

    /**
     * The prefix of the {@linkplain RedisBackend#controlPlane() control plane}'s keys (default
     * {@value RedisControlPlane#DEFAULT_KEY_PREFIX}); processes that are operated together use the
     * same one.
     */
    public Builder controlKeyPrefix(String value) {
      controlKeyPrefix = RedisControlPlane.checkPrefix(value);
      return this;
    }

    /** The Redis URL; default {@link Config#resultBackend()}. */
    public Builder url(String value) {
      url = Objects.requireNonNull(value, "url");
      return this;
    }

    /**
     * Connects and builds the backend.
     *
     * @throws IllegalArgumentException when the URL is not a Redis URL
     * @throws MachineryException when Redis cannot be reached
     */
    public RedisBackend build() {
      return new RedisBackend(this);
    }
  }

  /**
   * The provider that lets {@link io.machinery.Machinery#connect(io.machinery.config.Config,
   * io.machinery.spi.ComponentProvider...)} build this component from a config's URL (schemes
   * chosen by URL only, never by a class name).
   *
   * @return the provider, stateless and shared
   */
  public static io.machinery.spi.ComponentProvider provider() {
    return RedisBackendProvider.INSTANCE;
  }
}
