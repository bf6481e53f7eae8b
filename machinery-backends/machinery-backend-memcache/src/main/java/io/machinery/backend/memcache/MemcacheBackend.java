package io.machinery.backend.memcache;

import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.StateNotFoundException;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.GroupMeta;
import io.machinery.wire.LogText;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import net.spy.memcached.CASResponse;
import net.spy.memcached.CASValue;
import net.spy.memcached.ConnectionFactoryBuilder;
import net.spy.memcached.FailureMode;
import net.spy.memcached.MemcachedClient;
import net.spy.memcached.internal.OperationFuture;
import net.spy.memcached.ops.StatusCode;
import org.jspecify.annotations.Nullable;

/**
 * Go Machinery's Memcache result backend (spec §4.2), for Java and Go workers and clients sharing
 * memcached servers.
 *
 * <pre>{@code
 * Config config = Config.builder().resultBackend("memcache://10.0.0.1:11211,10.0.0.2:11211").build();
 * try (MemcacheBackend backend = MemcacheBackend.create(config)) {
 *   // hand it to Server.builder().backend(backend)
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Go's items.</b> A task's state is the item {@code <task uuid>} holding the TaskState
 *       JSON; a group's meta the item {@code <group uuid>} holding the GroupMeta JSON (both from
 *       {@link WireCodec}), flags 0. As in Go every state replaces the previous one whole (RECEIVED
 *       has no TaskName), and every write sets the expiry to the <em>absolute</em> unix time now +
 *       {@code resultsExpireIn} (0 → 3600), which memcached reads as a timestamp because it is past
 *       30 days.
 *   <li><b>Several servers, Go's choice.</b> The URL lists servers as Go does ({@code
 *       memcache://a:11211,b:11211}); a key lives on server {@code crc32(key) % n} of that list,
 *       gomemcache's rule ({@link GoMemcacheWire#GO_CRC32}), so Java and Go find each other's
 *       items. Operations for a server that is down wait for it up to the operation timeout and
 *       then fail (spymemcached's {@code Retry} mode: never moved to another server, where Go would
 *       not look).
 *   <li><b>Group expiry.</b> A group member's RETRY, SUCCESS or FAILURE also {@code touch}es the
 *       group's meta (pipelined with the state), so a group outliving {@code resultsExpireIn} keeps
 *       its meta (Go issue #352).
 *   <li><b>Fewer round trips than Go.</b> RECEIVED and STARTED are sent without waiting
 *       (spymemcached pipelines the writes of one key on one connection, in order); group reads are
 *       one multi-get (Go: one GET per task).
 *   <li><b>Beyond Go: a chord fires once.</b> {@link #triggerChord} reads the meta with {@code
 *       gets} and sets {@code ChordTriggered} with {@code cas}: of concurrent callers exactly one
 *       succeeds. Go's trigger (plain {@code Set} of {@code Lock}, then {@code Replace}) is racy;
 *       this one waits while a Go worker holds {@code Lock}, as Go does, so it never overtakes a Go
 *       worker in its window, but two Go workers can still both fire.
 *   <li><b>Beyond Go: unique tasks.</b> {@link #claimUnique} keeps a claim in the item {@code
 *       machinery_unique:<hex SHA-256 of the key>}: {@code add} where none is, {@code cas} over one
 *       whose time is up; a release ends its holder's claim with {@code cas}.
 * </ul>
 *
 * <p>Thread-safe; calls block until memcached has answered (at most the operation timeout). Whoever
 * builds a backend closes it.
 *
 * <p>Size: Go's backend interface on memcached, each method a short translation of Go's, plus the
 * CAS chord trigger and the builder.
 */
public final class MemcacheBackend implements Backend {
  static final long GO_LOCK_WAIT_SECONDS = 10;

  /** How long {@link #triggerChord} waits for a Go worker to release a group's {@code Lock}. */
  static final Duration GO_LOCK_WAIT = Duration.ofSeconds(GO_LOCK_WAIT_SECONDS);

  /** Go's pause between two looks at a locked group meta. */
  static final Duration GO_LOCK_POLL = Duration.ofMillis(5);

  public static final Duration DEFAULT_OPERATION_TIMEOUT = Duration.ofMillis(2500);

  /** memcached reads a larger expiry as a unix time. */
  private static final long THIRTY_DAYS_SECONDS = 30L * 24 * 3600;

  private final Clock clock;
  private final MemcachedClient client;
  private final List<InetSocketAddress> servers;
  private final long expireSeconds;
  private final Duration timeout;

  private MemcacheBackend(Builder b) {
    this.clock = b.clock;
    this.expireSeconds = b.config.effectiveResultsExpireIn();
    this.timeout = b.timeout;
    this.servers =
        List.copyOf(GoMemcacheWire.servers(b.url != null ? b.url : b.config.resultBackend()));
    ConnectionFactoryBuilder factory =
        new ConnectionFactoryBuilder()
            .setProtocol(ConnectionFactoryBuilder.Protocol.TEXT)
            .setLocatorType(ConnectionFactoryBuilder.Locator.ARRAY_MOD)
            .setHashAlg(GoMemcacheWire.GO_CRC32)
            .setFailureMode(FailureMode.Retry)
            .setOpTimeout(timeout.toMillis())
            .setDaemon(true);
    try {
      this.client = new MemcachedClient(factory.build(), servers);
    } catch (IOException e) {
      throw new MachineryException(
          "memcache: cannot connect to " + servers + ": " + e.getMessage(), e);
    }
  }

  /** A backend for {@link Config#resultBackend()} ({@code memcache://host:port[,host:port...]}). */
  public static MemcacheBackend create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  // ---------------------------------------------------------------------------------------------
  // states

  @Override
  public void setStatePending(Signature signature) {
    await(write(TaskState.pending(signature, now())), signature.uuid());
  }

  /** PENDING where the task has no item: memcache's {@code add}, which stores only a new key. */
  @Override
  public boolean setStatePendingIfAbsent(Signature signature) {
    String key = signature.uuid();
    OperationFuture<Boolean> add =
        store(key, WireCodec.encode(TaskState.pending(signature, now())), true);
    if (answer(add, key)) {
      return true;
    }
    StatusCode code = add.getStatus().getStatusCode();
    if (code == StatusCode.ERR_NOT_STORED || code == StatusCode.ERR_EXISTS) {
      return false;
    }
    throw refused(add, key);
  }

  @Override
  public boolean storesPendingIfAbsent() {
    return true;
  }

  @Override
  public void setStateReceived(Signature signature) {
    await(write(TaskState.received(signature)), signature.uuid());
  }

  @Override
  public void setStateStarted(Signature signature) {
    await(write(TaskState.started(signature)), signature.uuid());
  }

  /** RECEIVED without waiting; the writes of one key travel in order on one connection. */
  @Override
  public CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    return completion(write(TaskState.received(signature)), signature.uuid());
  }

  /** STARTED without waiting; see {@link #setStateReceivedAsync}. */
  @Override
  public CompletableFuture<Void> setStateStartedAsync(Signature signature) {
    return completion(write(TaskState.started(signature)), signature.uuid());
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
   * A RETRY, SUCCESS or FAILURE; for a group member also a {@code touch} of the group's meta, sent
   * with it, so a group that outlives {@code resultsExpireIn} through retries keeps its meta (Go's
   * never moves; issue #352).
   */
  private void writeFinal(Signature signature, TaskState state) {
    OperationFuture<Boolean> write = write(state);
    if (!signature.groupUuid().isEmpty()) {
      OperationFuture<Boolean> touch =
          call(
              "refresh group " + signature.groupUuid(),
              () -> client.touch(signature.groupUuid(), expiration()));
      await(write, signature.uuid());
      await(touch, signature.groupUuid(), true);
      return;
    }
    await(write, signature.uuid());
  }

  private OperationFuture<Boolean> write(TaskState state) {
    return set(state.taskUuid(), WireCodec.encode(state));
  }

  private OperationFuture<Boolean> set(String key, byte[] json) {
    return store(key, json, false);
  }

  /** {@code set}, or {@code add} (only a new key) when {@code onlyIfNew}. */
  private OperationFuture<Boolean> store(String key, byte[] json, boolean onlyIfNew) {
    try {
      return onlyIfNew
          ? client.add(key, expiration(), json, GoMemcacheWire.RAW)
          : client.set(key, expiration(), json, GoMemcacheWire.RAW);
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new MachineryException("memcache: cannot store " + key + ": " + e.getMessage(), e);
    }
  }

  /** Go's expiry: the absolute unix time now + resultsExpireIn, as int32. */
  int expiration() {
    return (int) (clock.instant().getEpochSecond() + expireSeconds);
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    byte[] json = call("read " + taskUuid, () -> client.get(taskUuid, GoMemcacheWire.RAW));
    return json == null ? Optional.empty() : Optional.of(decodeState(json));
  }

  @Override
  public void purgeState(String taskUuid) {
    await(client.delete(taskUuid), taskUuid, true);
  }

  // ---------------------------------------------------------------------------------------------
  // groups

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    await(
        set(groupUuid, WireCodec.encode(GroupMeta.create(groupUuid, taskUuids, now()))), groupUuid);
  }

  /**
   * Whether every task of the group is SUCCESS or FAILURE.
   *
   * @throws MachineryException "Group not found: …" or "Task not found: …" when an item is missing,
   *     as Go fails then
   */
  @Override
  public boolean groupCompleted(String groupUuid, int groupTaskCount) {
    int completed = 0;
    for (TaskState state : groupTaskStates(groupUuid, groupTaskCount)) {
      if (state.isCompleted()) {
        completed++;
      }
    }
    return completed == groupTaskCount;
  }

  /**
   * The states of the group's tasks in group order: a GET of the meta, then one multi-get.
   *
   * @throws MachineryException when the meta or a state is missing
   */
  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount) {
    byte[] metaJson =
        call("read group " + groupUuid, () -> client.get(groupUuid, GoMemcacheWire.RAW));
    if (metaJson == null) {
      throw StateNotFoundException.group(groupUuid);
    }
    List<String> uuids = decodeMeta(groupUuid, metaJson).taskUuids();
    if (uuids.isEmpty()) {
      return List.of();
    }
    Map<String, byte[]> items =
        call(
            "read the states of group " + groupUuid,
            () -> client.getBulk(uuids, GoMemcacheWire.RAW));
    List<TaskState> states = new ArrayList<>(uuids.size());
    for (String uuid : uuids) {
      byte[] json = items.get(uuid);
      if (json == null) {
        throw StateNotFoundException.task(uuid, "group " + groupUuid);
      }
      states.add(decodeState(json));
    }
    return states;
  }

  /**
   * Sets the group's {@code ChordTriggered} with compare-and-swap; true for exactly one caller per
   * group among Java workers. Waits (up to {@value #GO_LOCK_WAIT_SECONDS} s, polling every 5 ms as
   * Go) while a Go worker holds the meta's {@code Lock}.
   *
   * @throws MachineryException when the group is missing, or its Lock stays taken
   */
  @Override
  public boolean triggerChord(String groupUuid) {
    return triggerChord(groupUuid, "") == Trigger.WON;
  }

  /**
   * {@link #triggerChord(String)}, keeping the winning member's UUID under {@code <group
   * uuid>_chord_winner} (Go never reads it), added right after the flag's compare-and-set:
   * memcached has no write of two keys at once, so a winner killed between the two is not known
   * (its member, back as a first delivery, then loses as before).
   */
  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    long deadline = System.nanoTime() + GO_LOCK_WAIT.toNanos();
    while (true) {
      CASValue<byte[]> item =
          call("read group " + groupUuid, () -> client.gets(groupUuid, GoMemcacheWire.RAW));
      if (item == null) {
        throw StateNotFoundException.group(groupUuid);
      }
      GroupMeta meta = decodeMeta(groupUuid, item.getValue());
      if (meta.chordTriggered()) {
        if (memberUuid.isEmpty()) {
          return Trigger.LOST;
        }
        byte[] winner =
            call(
                "read the chord winner of group " + groupUuid,
                () -> client.get(winnerKey(groupUuid), GoMemcacheWire.RAW));
        return winner != null && memberUuid.equals(new String(winner, StandardCharsets.UTF_8))
            ? Trigger.WON_BEFORE
            : Trigger.LOST;
      }
      if (meta.lock()) {
        if (System.nanoTime() > deadline) {
          throw new MachineryException(
              "memcache: group "
                  + groupUuid
                  + " stayed locked (Lock: true) for "
                  + GO_LOCK_WAIT.toSeconds()
                  + " s; a Go worker may have died inside TriggerChord");
        }
        pause();
        continue;
      }
      byte[] triggered = WireCodec.encode(meta.withChordTriggered(true));
      CASResponse response =
          call(
              "trigger the chord of group " + groupUuid,
              () ->
                  client.cas(
                      groupUuid, item.getCas(), expiration(), triggered, GoMemcacheWire.RAW));
      switch (response) {
        case OK:
          if (!memberUuid.isEmpty()) {
            // not kept (memcached refused it): the member, back as a first delivery, loses as
            // before
            answer(
                store(winnerKey(groupUuid), memberUuid.getBytes(StandardCharsets.UTF_8), true),
                winnerKey(groupUuid));
          }
          return Trigger.WON;
        case EXISTS:
          continue; // someone wrote the meta in between: look again
        case NOT_FOUND:
          throw StateNotFoundException.group(groupUuid);
        default:
          throw new MachineryException(
              "memcache: cas of group " + groupUuid + " answered " + response);
      }
    }
  }

  private static void pause() {
    try {
      Thread.sleep(GO_LOCK_POLL);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while waiting for a group's Lock", e);
    }
  }

  @Override
  public void purgeGroupMeta(String groupUuid) {
    await(client.delete(groupUuid), groupUuid, true);
    await(client.delete(winnerKey(groupUuid)), winnerKey(groupUuid), true);
  }

  /** The key of the member that triggered a group's chord. */
  static String winnerKey(String groupUuid) {
    return groupUuid + "_chord_winner";
  }

  // -------------------------------------------------------------------------------------------
  // uniqueness keys

  /**
   * {@code add} (atomic: only where no item is), else the holder read with {@code gets}; a claim
   * whose time is up (memcached keeps items to the second, claims to the millisecond) is taken over
   * with {@code cas}, so of racing claimers exactly one wins there too.
   */
  @Override
  public Optional<String> claimUnique(String key, String taskUuid, Duration ttl) {
    String itemKey = uniqueItemKey(key);
    for (int attempt = 1; ; attempt++) {
      long now = clock.millis();
      long ttlMillis = Math.max(1, ttl.toMillis());
      byte[] claim = UniqueClaim.encode(taskUuid, now + ttlMillis);
      int exptime = uniqueExpiration(ttlMillis);
      if (answer(
          call("claim " + itemKey, () -> client.add(itemKey, exptime, claim, GoMemcacheWire.RAW)),
          itemKey)) {
        return Optional.empty();
      }
      CASValue<byte[]> held =
          call("read the holder of " + itemKey, () -> client.gets(itemKey, GoMemcacheWire.RAW));
      if (held != null) {
        UniqueClaim standing = UniqueClaim.decode(held.getValue());
        if (standing != null && standing.untilMillis() > now) {
          return Optional.of(standing.holder());
        }
        CASResponse takeOver =
            call(
                "claim the lapsed " + itemKey,
                () -> client.cas(itemKey, held.getCas(), exptime, claim, GoMemcacheWire.RAW));
        if (takeOver == CASResponse.OK) {
          return Optional.empty();
        }
      }
      if (attempt == 5) { // released, lapsed or taken over between the calls, five times over
        throw new MachineryException(
            "memcache: the uniqueness key "
                + LogText.of(key)
                + " kept changing hands while claiming it");
      }
    }
  }

  /**
   * {@code gets}, then a {@code cas} that ends the claim if {@code taskUuid} holds it (text
   * memcached has no delete on condition): the item stays a second, a lapsed claim anyone takes.
   */
  @Override
  public void releaseUnique(String key, String taskUuid) {
    String itemKey = uniqueItemKey(key);
    for (int attempt = 1; attempt <= 5; attempt++) {
      CASValue<byte[]> held =
          call("read the holder of " + itemKey, () -> client.gets(itemKey, GoMemcacheWire.RAW));
      UniqueClaim standing = held == null ? null : UniqueClaim.decode(held.getValue());
      if (standing == null || !standing.holder().equals(taskUuid)) {
        return; // held by another task, or by none
      }
      byte[] ended = UniqueClaim.encode(taskUuid, 0);
      CASResponse response =
          call(
              "release " + itemKey,
              () -> client.cas(itemKey, held.getCas(), 1, ended, GoMemcacheWire.RAW));
      if (response != CASResponse.EXISTS) {
        return; // ended, or gone by itself
      }
    }
    throw new MachineryException(
        "memcache: the uniqueness key " + LogText.of(key) + " kept changing while releasing it");
  }

  /** The item of a uniqueness key: its hex SHA-256 (memcached keys: 250 bytes, no spaces). */
  static String uniqueItemKey(String key) {
    return "machinery_unique:"
        + io.machinery.wire.BodyPreview.sha256Hex(key.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * A claim's memcached expiry: whole seconds past its time, relative (so the claimer's clock does
   * not shorten it), as a unix time past memcached's 30-day limit of relative times (at most its
   * largest, in 2038).
   */
  int uniqueExpiration(long ttlMillis) {
    long seconds = ttlMillis / 1000 + 2;
    return seconds <= THIRTY_DAYS_SECONDS
        ? (int) seconds
        : (int) Math.min(Integer.MAX_VALUE, clock.instant().getEpochSecond() + seconds);
  }

  /** A uniqueness claim as kept: {@code <task uuid> <until, epoch ms>}. */
  record UniqueClaim(String holder, long untilMillis) {
    static byte[] encode(String holder, long untilMillis) {
      return (holder + " " + untilMillis).getBytes(StandardCharsets.UTF_8);
    }

    /** The claim in {@code value}; null for one that does not read as a claim. */
    static @Nullable UniqueClaim decode(byte[] value) {
      String text = new String(value, StandardCharsets.UTF_8);
      int space = text.lastIndexOf(' ');
      if (space <= 0) {
        return null;
      }
      try {
        return new UniqueClaim(text.substring(0, space), Long.parseLong(text.substring(space + 1)));
      } catch (NumberFormatException e) {
        return null;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // internals

  private static TaskState decodeState(byte[] json) {
    return WireCodec.decodeTaskState(json);
  }

  private static GroupMeta decodeMeta(String groupUuid, byte[] json) {
    try {
      return WireCodec.decodeGroupMeta(json);
    } catch (MalformedMessageException e) {
      throw new MachineryException(
          "memcache: the meta of group " + groupUuid + " is unreadable: " + e.getMessage(), e);
    }
  }

  private OffsetDateTime now() {
    return OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
  }

  private <T> T call(String what, Supplier<T> action) {
    try {
      return action.get();
    } catch (RuntimeException e) {
      throw new MachineryException(
          "memcache: could not " + what + " on " + servers + ": " + e.getMessage(), e);
    }
  }

  private void await(OperationFuture<Boolean> write, String key) {
    await(write, key, false);
  }

  /** Waits for a write; a delete of a missing key is fine. */
  private void await(OperationFuture<Boolean> write, String key, boolean missingIsFine) {
    if (!answer(write, key) && !(missingIsFine && isNotFound(write))) {
      throw refused(write, key);
    }
  }

  /** A write that memcached answered with other than success, with its status. */
  private static MachineryException refused(OperationFuture<?> write, String key) {
    return new MachineryException(
        "memcache: writing " + key + " failed: " + write.getStatus().getMessage());
  }

  /** Waits for a write's answer: true if it was carried out. */
  private boolean answer(OperationFuture<Boolean> write, String key) {
    try {
      return Boolean.TRUE.equals(write.get(timeout.toMillis(), TimeUnit.MILLISECONDS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      write.cancel();
      throw new MachineryException("interrupted while writing " + key + " to memcache", e);
    } catch (TimeoutException e) {
      write.cancel();
      throw new MachineryException(
          "memcache: writing " + key + " to " + servers + " timed out after " + timeout, e);
    } catch (ExecutionException e) {
      throw new MachineryException(
          "memcache: writing " + key + " to " + servers + " failed: " + e.getCause(), e.getCause());
    }
  }

  private static boolean isNotFound(OperationFuture<Boolean> write) {
    String message = write.getStatus().getMessage();
    return message != null && message.contains("NOT_FOUND");
  }

  private CompletableFuture<Void> completion(OperationFuture<Boolean> write, String key) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    write.addListener(
        f -> {
          try {
            if (Boolean.TRUE.equals(f.get())) {
              done.complete(null);
            } else {
              done.completeExceptionally(refused(write, key));
            }
          } catch (ExecutionException e) {
            done.completeExceptionally(
                new MachineryException(
                    "memcache: writing " + key + " failed: " + e.getCause(), e.getCause()));
          } catch (RuntimeException e) {
            done.completeExceptionally(
                new MachineryException("memcache: writing " + key + " failed: " + e, e));
          }
        });
    return done.orTimeout(timeout.toMillis() * 2, TimeUnit.MILLISECONDS);
  }

  /** Closes the connections, waiting briefly for queued writes; idempotent. */
  @Override
  public void close() {
    client.shutdown(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public String toString() {
    return "MemcacheBackend{" + servers + ", expires in " + Duration.ofSeconds(expireSeconds) + "}";
  }

  /** Builds a {@link MemcacheBackend}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Clock clock = Clock.systemUTC();
    private @Nullable String url;
    private Duration timeout = DEFAULT_OPERATION_TIMEOUT;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /** The clock for expiry timestamps and CreatedAt; default the system UTC clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * The server list ({@code memcache://host:port[,host:port...]}); default {@link
     * Config#resultBackend()}.
     */
    public Builder url(String value) {
      url = Objects.requireNonNull(value, "url");
      return this;
    }

    /** How long one memcached operation may take; default {@link #DEFAULT_OPERATION_TIMEOUT}. */
    public Builder operationTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("the operation timeout must be positive: " + value);
      }
      timeout = value;
      return this;
    }

    /**
     * Builds the backend; connections are made in the background.
     *
     * @throws IllegalArgumentException when the URL is not a memcache server list
     */
    public MemcacheBackend build() {
      return new MemcacheBackend(this);
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
    return MemcacheBackendProvider.INSTANCE;
  }
}
