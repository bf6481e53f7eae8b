package io.machinery.embedded;

import io.machinery.Signature;
import io.machinery.StateNotFoundException;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.spi.Backend;
import io.machinery.spi.GroupMeta;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The state store behind the memory and eager backends: Go JSON bytes per key, as a real store
 * keeps them, so the wire format is exercised; TaskName and CreatedAt carried forward as Go's Redis
 * backend does; entries expire after {@code resultsExpireIn} seconds of the injected clock (swept
 * every 1024 writes).
 */
final class ResultStore {
  /** The stored JSON, plus the state it encodes (so a merge need not decode it again). */
  private record Entry(
      byte[] json, long expiresAtMillis, @org.jspecify.annotations.Nullable TaskState state) {}

  private final ConcurrentHashMap<String, Entry> states = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Entry> groups = new ConcurrentHashMap<>();

  /** Progress reports beside the states, as the real backends keep them (JSON, same expiry). */
  private final ConcurrentHashMap<String, Entry> progress = new ConcurrentHashMap<>();

  /**
   * The member that triggered each chord, as the entry's bytes (UTF-8), with its group's expiry
   * (see {@code Backend#triggerChord(String, String)}).
   */
  private final ConcurrentHashMap<String, Entry> chordWinners = new ConcurrentHashMap<>();

  /** Uniqueness keys: the holder's UUID as the entry's bytes, with the claim's own expiry. */
  private final ConcurrentHashMap<String, Entry> unique = new ConcurrentHashMap<>();

  private final Clock clock;
  private final long expireMillis;

  /**
   * When the next sweep of expired entries is due (clock millis); sweeps run at most once a second.
   */
  private final AtomicLong nextSweepMillis = new AtomicLong();

  ResultStore(Clock clock, int expireSeconds) {
    this.clock = clock;
    this.expireMillis = expireSeconds * 1000L;
  }

  OffsetDateTime now() {
    return OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
  }

  void initGroup(String groupUuid, List<String> taskUuids) {
    groups.put(groupUuid, entry(WireCodec.encode(GroupMeta.create(groupUuid, taskUuids, now()))));
  }

  GroupMeta groupMeta(String groupUuid) {
    Entry entry = live(groups, groupUuid);
    if (entry == null) {
      throw StateNotFoundException.group(groupUuid);
    }
    return WireCodec.decodeGroupMeta(entry.json);
  }

  boolean groupCompleted(String groupUuid, int count) {
    int completed = 0;
    for (String uuid : groupMeta(groupUuid).taskUuids()) {
      Optional<TaskState> state = get(uuid);
      if (state.isEmpty()) {
        throw StateNotFoundException.task(uuid);
      }
      if (state.get().isCompleted()) {
        completed++;
      }
    }
    return completed == count;
  }

  List<TaskState> groupTaskStates(String groupUuid) {
    List<TaskState> out = new ArrayList<>();
    for (String uuid : groupMeta(groupUuid).taskUuids()) {
      out.add(get(uuid).orElseThrow(() -> StateNotFoundException.task(uuid)));
    }
    return out;
  }

  /**
   * Atomically flips ChordTriggered, keeping {@code memberUuid} (unless empty) as the winner: WON
   * for the first caller only, WON_BEFORE for a later call by the winning member.
   */
  Backend.Trigger triggerChord(String groupUuid, String memberUuid) {
    boolean[] won = new boolean[1];
    groups.computeIfPresent(
        groupUuid,
        (key, entry) -> {
          GroupMeta meta = WireCodec.decodeGroupMeta(entry.json);
          if (meta.chordTriggered()) {
            return entry;
          }
          won[0] = true;
          if (!memberUuid.isEmpty()) { // inside the flip: a winner is never unknown
            chordWinners.put(
                groupUuid,
                new Entry(
                    memberUuid.getBytes(StandardCharsets.UTF_8), entry.expiresAtMillis, null));
          }
          return new Entry(
              WireCodec.encode(meta.withChordTriggered(true)), entry.expiresAtMillis, null);
        });
    if (won[0]) {
      return Backend.Trigger.WON;
    }
    if (!groups.containsKey(groupUuid)) {
      throw StateNotFoundException.group(groupUuid);
    }
    Entry winner = live(chordWinners, groupUuid);
    return winner != null
            && !memberUuid.isEmpty()
            && memberUuid.equals(new String(winner.json, StandardCharsets.UTF_8))
        ? Backend.Trigger.WON_BEFORE
        : Backend.Trigger.LOST;
  }

  /**
   * Atomically unflips ChordTriggered and forgets the winner when {@code memberUuid} is the kept
   * winner; true if released.
   */
  boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    boolean[] released = new boolean[1];
    groups.computeIfPresent(
        groupUuid,
        (key, entry) -> {
          Entry winner = live(chordWinners, groupUuid);
          GroupMeta meta = WireCodec.decodeGroupMeta(entry.json);
          if (!meta.chordTriggered()
              || memberUuid.isEmpty()
              || winner == null
              || !memberUuid.equals(new String(winner.json, StandardCharsets.UTF_8))) {
            return entry;
          }
          released[0] = true;
          chordWinners.remove(groupUuid);
          return new Entry(
              WireCodec.encode(meta.withChordTriggered(false)), entry.expiresAtMillis, null);
        });
    return released[0];
  }

  void pending(Signature signature) {
    put(TaskState.pending(signature, now()));
  }

  /** PENDING unless the task has a live state; true if stored. */
  boolean pendingIfAbsent(Signature signature) {
    TaskState pending = TaskState.pending(signature, now());
    long now = clock.millis();
    Entry mine = new Entry(WireCodec.encode(pending), now + expireMillis, pending);
    Entry held =
        states.compute(
            signature.uuid(), (k, old) -> old == null || old.expiresAtMillis <= now ? mine : old);
    sweepSometimes();
    return held == mine;
  }

  void merge(TaskState state) {
    states.compute(
        state.taskUuid(),
        (key, old) -> {
          TaskState previous =
              old == null
                  ? null
                  : old.state != null ? old.state : WireCodec.decodeTaskState(old.json);
          TaskState merged = previous == null ? state : state.withCarriedForward(previous);
          return new Entry(WireCodec.encode(merged), clock.millis() + expireMillis, merged);
        });
    sweepSometimes();
  }

  void success(Signature signature, List<TaskResult> results) {
    merge(TaskState.success(signature, results));
  }

  void put(TaskState state) {
    states.put(
        state.taskUuid(), new Entry(WireCodec.encode(state), clock.millis() + expireMillis, state));
    sweepSometimes();
  }

  Optional<TaskState> get(String uuid) {
    Entry entry = live(states, uuid);
    return entry == null ? Optional.empty() : Optional.of(WireCodec.decodeTaskState(entry.json));
  }

  void setProgress(String uuid, io.machinery.TaskProgress report) {
    progress.put(uuid, entry(report.toJson()));
    sweepSometimes();
  }

  Optional<io.machinery.TaskProgress> getProgress(String uuid) {
    Entry entry = live(progress, uuid);
    return entry == null
        ? Optional.empty()
        : Optional.of(io.machinery.TaskProgress.fromJson(entry.json));
  }

  Optional<String> claimUnique(String key, String taskUuid, java.time.Duration ttl) {
    long now = clock.millis();
    Entry mine =
        new Entry(
            taskUuid.getBytes(java.nio.charset.StandardCharsets.UTF_8),
            now + Math.max(1, ttl.toMillis()),
            null);
    Entry held =
        unique.compute(key, (k, old) -> old == null || old.expiresAtMillis <= now ? mine : old);
    return held == mine
        ? Optional.empty()
        : Optional.of(new String(held.json, java.nio.charset.StandardCharsets.UTF_8));
  }

  void releaseUnique(String key, String taskUuid) {
    unique.computeIfPresent(
        key,
        (k, old) ->
            taskUuid.equals(new String(old.json, java.nio.charset.StandardCharsets.UTF_8))
                ? null
                : old);
  }

  void purgeState(String uuid) {
    states.remove(uuid);
  }

  void purgeGroup(String uuid) {
    groups.remove(uuid);
    chordWinners.remove(uuid);
  }

  void clear() {
    states.clear();
    groups.clear();
    chordWinners.clear();
    progress.clear();
    unique.clear();
  }

  private Entry entry(byte[] json) {
    return new Entry(json, clock.millis() + expireMillis, null);
  }

  private @org.jspecify.annotations.Nullable Entry live(
      ConcurrentHashMap<String, Entry> map, String key) {
    Entry entry = map.get(key);
    if (entry != null && entry.expiresAtMillis <= clock.millis()) {
      map.remove(key, entry);
      return null;
    }
    return entry;
  }

  private void sweepSometimes() {
    long now = clock.millis();
    long due = nextSweepMillis.get();
    if (now >= due && nextSweepMillis.compareAndSet(due, now + 1000)) {
      states.values().removeIf(e -> e.expiresAtMillis <= now);
      groups.values().removeIf(e -> e.expiresAtMillis <= now);
      chordWinners.values().removeIf(e -> e.expiresAtMillis <= now);
      progress.values().removeIf(e -> e.expiresAtMillis <= now);
      unique.values().removeIf(e -> e.expiresAtMillis <= now);
    }
  }
}
