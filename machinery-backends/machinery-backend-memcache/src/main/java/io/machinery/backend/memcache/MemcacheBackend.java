package io.machinery.backend.memcache;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.StateNotFoundException;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.internal.GoJson;
import io.machinery.spi.Backend;
import io.machinery.spi.GroupMeta;
import io.machinery.wire.ErrorText;
import io.machinery.wire.LogText;
import io.machinery.wire.WireCodec;
import java.io.ByteArrayOutputStream;
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
import net.spy.memcached.CachedData;
import net.spy.memcached.ConnectionFactoryBuilder;
import net.spy.memcached.FailureMode;
import net.spy.memcached.MemcachedClient;
import net.spy.memcached.MemcachedClientIF;
import net.spy.memcached.internal.OperationFuture;
import net.spy.memcached.ops.StatusCode;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 *       gets} and sets {@code ChordTriggered} with {@code cas}: of concurrent Java callers exactly
 *       one succeeds. The same {@code cas} writes the winning member's UUID into the meta ({@code
 *       "MachineryChordWinner"}, after Go's fields, which Go's decoder skips), so the flag and the
 *       winner are stored together or not at all. Go's trigger (read, plain {@code Set} of {@code
 *       Lock}, then {@code Replace}) is racy; this one waits while a Go worker holds {@code Lock},
 *       as Go does, but a Go worker that read the meta before Java's {@code cas} still fires too
 *       (and rewrites the meta without the winner), as two Go workers can both fire. {@link
 *       #releaseChordTrigger} undoes its winner's trigger alike ({@code gets}, then a {@code cas}
 *       writing Go's meta untriggered, without the winner); the previous version's winner key
 *       {@code <group uuid>_chord_winner} is deleted before that {@code cas}, after moving a winner
 *       kept only there into the meta, so a release cut short leaves the trigger its winner's,
 *       never nobody's or winnable twice by one member.
 *   <li><b>Item size.</b> memcached refuses an item over its limit ({@code -I}, 1 MiB by default)
 *       with {@code SERVER_ERROR}, which spymemcached takes for a broken connection, failing every
 *       operation in flight on it. So a value that would not fit is refused before it is sent, with
 *       an {@link IllegalArgumentException} (the worker then stores FAILURE with the reason), and a
 *       FAILURE's error text that would not fit is cut, with a note of its length.
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

  /** memcached's default item size limit ({@code -I 1m}). */
  public static final int DEFAULT_MAX_ITEM_SIZE = 1024 * 1024;

  /**
   * Room an item needs besides its key and value: memcached 1.6 takes 59 bytes (item header, CAS,
   * line ends); kept generous for other versions.
   */
  static final int ITEM_OVERHEAD = 128;

  /** The meta's field naming the member whose {@code cas} triggered the chord (Go skips it). */
  static final String WINNER_FIELD = "MachineryChordWinner";

  private static final Logger log = LoggerFactory.getLogger(MemcacheBackend.class);

  /** memcached reads a larger expiry as a unix time. */
  private static final long THIRTY_DAYS_SECONDS = 30L * 24 * 3600;

  private final Clock clock;
  private final MemcachedClient client;
  private final List<InetSocketAddress> servers;
  private final long expireSeconds;
  private final Duration timeout;
  private final int maxItemSize;

  private MemcacheBackend(Builder b) {
    this.clock = b.clock;
    this.maxItemSize = b.maxItemSize;
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
    writeFinal(signature, WireCodec.encode(TaskState.retry(signature)));
  }

  /**
   * Stores SUCCESS.
   *
   * @throws MachineryException caused by an {@link IllegalArgumentException} when the state is
   *     larger than a memcached item can hold ({@link Builder#maxItemSize}); nothing is sent then
   */
  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    writeFinal(signature, WireCodec.encode(TaskState.success(signature, results)));
  }

  /** Stores FAILURE; an error text too long for a memcached item is cut, saying how long it was. */
  @Override
  public void setStateFailure(Signature signature, String error) {
    writeFinal(signature, failureThatFits(signature, error));
  }

  /**
   * The FAILURE state as JSON, its error cut ({@link ErrorText#cut}) where the whole would not fit
   * in an item: to a sixth of the room the rest of the state leaves, as Go's JSON writes a byte in
   * at most six (an escape such as the one for {@code <}).
   */
  private byte[] failureThatFits(Signature signature, String error) {
    byte[] json = WireCodec.encode(TaskState.failure(signature, error));
    int limit = valueLimit(signature.uuid());
    if (json.length <= limit) {
      return json;
    }
    int rest = WireCodec.encode(TaskState.failure(signature, "")).length + ITEM_OVERHEAD;
    String cut = ErrorText.cut(error, Math.max(0, (limit - rest) / 6));
    return WireCodec.encode(TaskState.failure(signature, cut));
  }

  /**
   * A RETRY, SUCCESS or FAILURE; for a group member also a {@code touch} of the group's meta, sent
   * with it, so a group that outlives {@code resultsExpireIn} through retries keeps its meta (Go's
   * never moves; issue #352). The touch is beyond Go and best effort: once the state is stored, a
   * touch that fails (the group's server down) is logged, not thrown, as the task's outcome stands.
   */
  private void writeFinal(Signature signature, byte[] json) {
    OperationFuture<Boolean> write = set(signature.uuid(), json);
    String group = signature.groupUuid();
    if (group.isEmpty()) {
      await(write, signature.uuid());
      return;
    }
    OperationFuture<Boolean> touch;
    try {
      touch = call("refresh group " + group, () -> client.touch(group, expiration()));
    } catch (MachineryException e) {
      await(write, signature.uuid());
      refreshFailed(signature, e);
      return;
    }
    await(write, signature.uuid());
    try {
      await(touch, group, true);
    } catch (MachineryException e) {
      refreshFailed(signature, e);
    }
  }

  private static void refreshFailed(Signature signature, MachineryException e) {
    log.warn(
        "Task {} {}: its state is stored, but the expiry of its group {} was not refreshed: {}",
        LogText.of(signature.uuid()),
        LogText.of(signature.name()),
        LogText.of(signature.groupUuid()),
        e.getMessage());
  }

  private OperationFuture<Boolean> write(TaskState state) {
    return set(state.taskUuid(), WireCodec.encode(state));
  }

  private OperationFuture<Boolean> set(String key, byte[] json) {
    return store(key, json, false);
  }

  /**
   * {@code set}, or {@code add} (only a new key) when {@code onlyIfNew}.
   *
   * @throws MachineryException caused by an {@link IllegalArgumentException} when the value would
   *     not fit in an item, or the key is not a memcached key
   */
  private OperationFuture<Boolean> store(String key, byte[] json, boolean onlyIfNew) {
    try {
      checkFits(key, json);
      return onlyIfNew
          ? client.add(key, expiration(), json, GoMemcacheWire.RAW)
          : client.set(key, expiration(), json, GoMemcacheWire.RAW);
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new MachineryException("memcache: cannot store " + key + ": " + e.getMessage(), e);
    }
  }

  /**
   * Refuses a value memcached would answer {@code SERVER_ERROR object too large} to: spymemcached
   * takes that answer for a broken connection and fails the other operations in flight on it.
   *
   * @throws IllegalArgumentException when the value is larger than an item under {@code key} holds
   */
  private void checkFits(String key, byte[] value) {
    int limit = valueLimit(key);
    if (value.length > limit) {
      throw new IllegalArgumentException(
          "the value for "
              + LogText.of(key)
              + " is "
              + value.length
              + " bytes, larger than memcached holds under that key ("
              + limit
              + " bytes: an item of "
              + maxItemSize
              + " bytes, memcached's -I, less key and overhead; see MemcacheBackend.Builder"
              + ".maxItemSize)");
    }
  }

  /** The largest value memcached stores under {@code key}. */
  int valueLimit(String key) {
    return maxItemSize - key.getBytes(StandardCharsets.UTF_8).length - ITEM_OVERHEAD;
  }

  /**
   * Go's expiry: the absolute unix time now + resultsExpireIn, as int32; past 2038 memcached's
   * largest (Go's wraps negative there, which memcached reads as expired already).
   */
  int expiration() {
    return (int) Math.min(Integer.MAX_VALUE, clock.instant().getEpochSecond() + expireSeconds);
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    byte[] json = call("read " + taskUuid, () -> client.get(taskUuid, GoMemcacheWire.RAW));
    return json == null ? Optional.empty() : Optional.of(decodeState(json));
  }

  @Override
  public void purgeState(String taskUuid) {
    await(call("delete " + taskUuid, () -> client.delete(taskUuid)), taskUuid, true);
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
   * {@link #triggerChord(String)}, keeping the winning member's UUID in the meta's {@code
   * "MachineryChordWinner"} field, written by the same {@code cas} that sets {@code
   * ChordTriggered}. A member whose {@code cas} was carried out though the call failed (its answer
   * lost with the connection) reads its UUID back when it asks again: {@link Trigger#WON_BEFORE}. A
   * meta triggered without the field (by Go, or by the previous version of this backend, which kept
   * the winner under {@code <group uuid>_chord_winner}) is answered from that key if it is there,
   * else {@link Trigger#LOST}.
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
        return !memberUuid.isEmpty() && memberUuid.equals(winner(groupUuid, item.getValue()))
            ? Trigger.WON_BEFORE
            : Trigger.LOST;
      }
      if (meta.lock()) {
        waitForGoLock(groupUuid, deadline);
        continue;
      }
      byte[] triggered = withWinner(WireCodec.encode(meta.withChordTriggered(true)), memberUuid);
      CASResponse response =
          call(
              "trigger the chord of group " + groupUuid,
              () -> {
                checkFits(groupUuid, triggered);
                return client.cas(
                    groupUuid, item.getCas(), expiration(), triggered, GoMemcacheWire.RAW);
              });
      switch (response) {
        case OK:
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

  /**
   * Releases the trigger {@code memberUuid} holds (its UUID in the meta's winner field, or under
   * the previous version's key): {@code gets}, then a {@code cas} that writes Go's meta with {@code
   * ChordTriggered} false and no winner field, so the next member (or a Go worker's trigger) wins
   * it; the expiry is renewed as the trigger renews it. Before that {@code cas} the previous
   * version's key goes, as a Go trigger would make it name a winner again; a trigger held only
   * through that key is first moved into the meta (a {@code cas} that adds the winner field), so
   * that until the releasing {@code cas} the meta or the key names the winner, and after it nothing
   * does: a release cut short leaves the trigger held by the member, never held by no one or won
   * twice. A trigger held by the member while a Go worker holds {@code Lock} is waited for, as
   * {@link #triggerChord(String, String)} waits: that worker's next write replaces the meta whole.
   *
   * @throws MachineryException when memcached cannot be reached, or the Lock stays taken
   */
  @Override
  public boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    if (memberUuid.isEmpty()) {
      return false; // a trigger without a member is no member's to release
    }
    long deadline = System.nanoTime() + GO_LOCK_WAIT.toNanos();
    while (true) {
      CASValue<byte[]> item =
          call("read group " + groupUuid, () -> client.gets(groupUuid, GoMemcacheWire.RAW));
      if (item == null) {
        return false;
      }
      GroupMeta meta = decodeMeta(groupUuid, item.getValue());
      if (!meta.chordTriggered()) {
        return false;
      }
      String field = winnerField(item.getValue());
      if (!memberUuid.equals(field != null ? field : previousVersionsWinner(groupUuid))) {
        return false;
      }
      if (meta.lock()) {
        waitForGoLock(groupUuid, deadline);
        continue;
      }
      byte[] next;
      if (field == null) {
        next = withWinner(WireCodec.encode(meta), memberUuid); // then released as any other
      } else {
        deletePreviousVersionsWinner(groupUuid);
        next = WireCodec.encode(meta.withChordTriggered(false));
      }
      CASResponse response =
          call(
              "release the chord trigger of group " + groupUuid,
              () -> {
                checkFits(groupUuid, next);
                return client.cas(groupUuid, item.getCas(), expiration(), next, GoMemcacheWire.RAW);
              });
      switch (response) {
        case OK:
          if (field != null) {
            return true;
          }
          continue; // the winner is in the meta now: release it
        case EXISTS:
          continue; // someone wrote the meta in between: look again
        case NOT_FOUND:
          return false;
        default:
          throw new MachineryException(
              "memcache: cas of group " + groupUuid + " answered " + response);
      }
    }
  }

  @Override
  public boolean releasesChordTriggers() {
    return true;
  }

  /**
   * Waits a moment for a Go worker inside TriggerChord to clear the meta's {@code Lock}, as Go
   * does.
   *
   * @throws MachineryException once {@code deadline} ({@link System#nanoTime}) has passed
   */
  private static void waitForGoLock(String groupUuid, long deadline) {
    if (System.nanoTime() > deadline) {
      throw new MachineryException(
          "memcache: group "
              + groupUuid
              + " stayed locked (Lock: true) for "
              + GO_LOCK_WAIT.toSeconds()
              + " s; a Go worker may have died inside TriggerChord");
    }
    try {
      Thread.sleep(GO_LOCK_POLL);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while waiting for a group's Lock", e);
    }
  }

  /**
   * The meta JSON Go writes with the winner's field added at its end ({@code memberUuid} empty: as
   * it is). Go's {@code json.Unmarshal} skips the unknown field, and every byte Go reads stays.
   */
  static byte[] withWinner(byte[] metaJson, String memberUuid) {
    if (memberUuid.isEmpty()) {
      return metaJson;
    }
    int end = metaJson.length - 1;
    if (end < 1 || metaJson[end] != '}') {
      throw new IllegalStateException("a group meta that is not a JSON object");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(metaJson.length + 64);
    out.write(metaJson, 0, end);
    out.writeBytes((",\"" + WINNER_FIELD + "\":\"").getBytes(StandardCharsets.UTF_8));
    out.writeBytes(JsonStringEncoder.getInstance().quoteAsUTF8(memberUuid));
    out.writeBytes("\"}".getBytes(StandardCharsets.UTF_8));
    return out.toByteArray();
  }

  /**
   * The member that triggered the group's chord: the meta's winner field, else (a meta triggered by
   * Go, or by this backend's previous version) the key {@code <group uuid>_chord_winner} that
   * version kept; null when neither names one.
   */
  private @Nullable String winner(String groupUuid, byte[] metaJson) {
    String winner = winnerField(metaJson);
    return winner != null ? winner : previousVersionsWinner(groupUuid);
  }

  /** The member under the previous version's key {@code <group uuid>_chord_winner}; or null. */
  private @Nullable String previousVersionsWinner(String groupUuid) {
    String key = previousVersionsWinnerKey(groupUuid);
    if (key == null) {
      return null;
    }
    byte[] winner =
        call(
            "read the chord winner of group " + groupUuid,
            () -> client.get(key, GoMemcacheWire.RAW));
    return winner == null ? null : new String(winner, StandardCharsets.UTF_8);
  }

  private void deletePreviousVersionsWinner(String groupUuid) {
    String key = previousVersionsWinnerKey(groupUuid);
    if (key != null) {
      await(
          call("delete the chord winner of group " + groupUuid, () -> client.delete(key)),
          key,
          true);
    }
  }

  /** {@code <group uuid>_chord_winner}; null where that is no memcached key (never written). */
  private static @Nullable String previousVersionsWinnerKey(String groupUuid) {
    String key = groupUuid + "_chord_winner";
    return key.getBytes(StandardCharsets.UTF_8).length > MemcachedClientIF.MAX_KEY_LENGTH
        ? null
        : key;
  }

  /** The meta's {@code "MachineryChordWinner"}; null when it has none. */
  static @Nullable String winnerField(byte[] metaJson) {
    try (JsonParser in = GoJson.FACTORY.createParser(metaJson)) {
      if (in.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      while (in.nextToken() == JsonToken.FIELD_NAME) {
        String name = in.currentName();
        JsonToken value = in.nextToken();
        if (WINNER_FIELD.equals(name) && value == JsonToken.VALUE_STRING) {
          return in.getText();
        }
        in.skipChildren();
      }
      return null;
    } catch (IOException e) {
      return null; // decodeMeta has read it: cannot happen
    }
  }

  /** Deletes the meta (a winner key of the previous version expires by itself). */
  @Override
  public void purgeGroupMeta(String groupUuid) {
    await(call("delete group " + groupUuid, () -> client.delete(groupUuid)), groupUuid, true);
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

  CompletableFuture<Void> completion(OperationFuture<Boolean> write, String key) {
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
    done.orTimeout(timeout.toMillis() * 2, TimeUnit.MILLISECONDS)
        .whenComplete(
            (v, e) -> {
              if (e instanceof TimeoutException) {
                write.cancel(); // still queued (server down): never sent after the caller gave up
              }
            });
    return done;
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
    private int maxItemSize = DEFAULT_MAX_ITEM_SIZE;

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
     * The servers' item size limit, memcached's {@code -I} (every server of the list alike);
     * default {@link #DEFAULT_MAX_ITEM_SIZE}, 1 MiB. A value larger than an item holds, less its
     * key and 128 bytes, is refused before it is sent.
     *
     * @throws IllegalArgumentException unless between 1 KiB and spymemcached's 20 MiB
     */
    public Builder maxItemSize(int bytes) {
      if (bytes < 1024 || bytes > CachedData.MAX_SIZE) {
        throw new IllegalArgumentException(
            "the item size limit must be between 1024 and "
                + CachedData.MAX_SIZE
                + " bytes (memcached's -I): "
                + bytes);
      }
      maxItemSize = bytes;
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
