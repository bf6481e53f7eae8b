package io.machinery.client.redis;

import io.lettuce.core.ScriptOutputType;
import io.machinery.MalformedMessageException;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link ControlPlane} kept in Redis, shared by the Redis broker and the Redis backend (both
 * return one from {@code controlPlane()}), so workers, the CLI and a dashboard meet on the same
 * keys whichever of the two they hold.
 *
 * <pre>{@code
 * ControlPlane plane = RedisControlPlane.create(session, RedisControlPlane.DEFAULT_KEY_PREFIX);
 * plane.pause("machinery_tasks"); // every worker of the queue stops fetching within one heartbeat
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Keys</b> (prefix {@code machinery:control} by default, never a name Go uses): each
 *       worker's status is its own key {@code {machinery:control}:worker:<id>} holding {@link
 *       WorkerStatus#toJson()}, written with {@code SET ... PX ttl}, so Redis itself forgets a
 *       worker that stops announcing: no clocks of the processes are compared. The set {@code
 *       {machinery:control}:workers} indexes the ids; a listing drops the ids whose key expired.
 *       Paused queues are the set {@code {machinery:control}:paused}. The prefix is the hash tag,
 *       so every key is in one cluster slot and each step below is one atomic script. Revoked task
 *       UUIDs ({@link #revoke}) are the sorted set {@code {machinery:control}:revoked}, scored by
 *       expiry in Redis's own clock (epoch ms), expired members dropped on every write and read.
 *       Task limits set at run time ({@link #setTaskLimit}) are the hash {@code
 *       {machinery:control}:limits}, task name to {@link TaskLimitSetting#toJson()}, with no
 *       expiry: a limit holds until an operator clears it. Each worker reads it with one {@code
 *       HGETALL} per heartbeat. Breaker openings ({@link #openBreaker}) are the sorted set {@code
 *       {machinery:control}:breakers}, key scored by expiry in Redis's clock, beside the hash
 *       {@code {machinery:control}:breakers:details}, key to {@link BreakerOpening#toJson()}; each
 *       write and read is one script that drops the expired ones from both, and a read returns the
 *       milliseconds left, so the reader's {@code until} is in its own clock. The cluster's trial
 *       after an opening ({@link #claimBreakerTrial}) is a trial opening in the same two keys plus
 *       the key's record {@code {machinery:control}:breakers:trial:<key>} (which opening it
 *       followed, its id, whether it passed; it outlives the trial opening by an hour).
 *   <li><b>Round trips.</b> {@link #announce} and {@link #withdraw} are one script each; {@link
 *       #workers} is one script (read the index, read each status, drop the expired ids); pause,
 *       resume and the paused list are one command each.
 *   <li><b>Task events</b> ({@link #recordTaskEvents}): each task's history is the list {@code
 *       {machinery:control}:events:<uuid>} of {@link TaskEvent#toJson()} entries. A batch is
 *       written as {@code RPUSH} (the task's events of the batch), {@code LTRIM} to the last {@link
 *       #MAX_TASK_EVENTS} and {@code PEXPIRE ttl} per task, all sent before any reply is awaited:
 *       one pipelined round trip per batch, whatever its size. Not a script: the lists of one batch
 *       are independent and a partial write only loses history, never a task. {@link #taskHistory}
 *       is one {@code LRANGE}; an entry that does not decode is left out and logged.
 *   <li>A status that does not decode (written by something else) is left out of the listing and
 *       logged.
 * </ul>
 *
 * <p>Thread-safe; it owns nothing (it works through a session its creator closes).
 */
public final class RedisControlPlane implements ControlPlane {
  private static final Logger log = LoggerFactory.getLogger(RedisControlPlane.class);

  /** The default key prefix (and hash tag) of the control plane's keys. */
  public static final String DEFAULT_KEY_PREFIX = "machinery:control";

  /** Stores one status and indexes its id. KEYS: index, status key. ARGV: id, status, ttl ms. */
  private static final RedisScript ANNOUNCE =
      RedisScript.of(
          "control-announce",
          """
      redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
      redis.call('SADD', KEYS[1], ARGV[1])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /** Removes one status and its id. KEYS: index, status key. ARGV: id. */
  private static final RedisScript WITHDRAW =
      RedisScript.of(
          "control-withdraw",
          """
      redis.call('DEL', KEYS[2])
      redis.call('SREM', KEYS[1], ARGV[1])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * Reads every indexed status; ids whose status expired leave the index. KEYS: index. ARGV: the
   * status keys' prefix (same hash tag as the index, so same slot). Returns the statuses.
   */
  private static final RedisScript WORKERS =
      RedisScript.of(
          "control-workers",
          """
      local out = {}
      for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
        local status = redis.call('GET', ARGV[1] .. id)
        if status then
          out[#out + 1] = status
        else
          redis.call('SREM', KEYS[1], id)
        end
      end
      return out
      """,
          ScriptOutputType.MULTI);

  /**
   * Revokes task UUIDs until now + ttl, by Redis's clock (the processes' clocks are never
   * compared); drops the expired ones and keeps the set's own expiry at least ttl. KEYS: the
   * revoked set. ARGV: ttl ms, then the UUIDs.
   */
  private static final RedisScript REVOKE =
      RedisScript.of(
          "control-revoke",
          """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      local ttl = tonumber(ARGV[1])
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
      for i = 2, #ARGV do
        redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
      end
      if redis.call('PTTL', KEYS[1]) < ttl then
        redis.call('PEXPIRE', KEYS[1], ttl)
      end
      return 1
      """,
          ScriptOutputType.INTEGER);

  /** The unexpired revoked UUIDs; expired ones leave the set. KEYS: the revoked set. */
  private static final RedisScript REVOKED =
      RedisScript.of(
          "control-revoked",
          """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
      return redis.call('ZRANGE', KEYS[1], 0, -1)
      """,
          ScriptOutputType.MULTI);

  /**
   * The start of each breaker-opening script: {@code now} in Redis's clock (epoch ms), and the
   * openings expired by then dropped from both keys. KEYS: the expiry set, the details hash.
   */
  private static final String DROP_EXPIRED_OPENINGS =
      """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      for _, k in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
        redis.call('HDEL', KEYS[2], k)
      end
      redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
      """;

  /**
   * Opens one breaker key until now + ttl by Redis's clock, replacing its opening; drops the
   * expired openings. KEYS: the expiry set, the details hash. ARGV: key, ttl ms, details.
   */
  private static final RedisScript OPEN_BREAKER =
      RedisScript.of(
          "control-open-breaker",
          DROP_EXPIRED_OPENINGS
              + """
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
      redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * Adds outcomes to a key's cluster window and opens the key once the window says so (see {@link
   * ControlPlane#countBreakerRuns}); an open key counts nothing. KEYS: the expiry set, the details
   * hash, the key's window (a string of '0' and '1', oldest first, forgotten after an hour without
   * runs). ARGV: key, outcomes, size, minimum runs, failure rate, openFor ms, opening id, openedBy,
   * the reason's format. Returns milliseconds left and details of the opening in force, or nothing.
   */
  private static final RedisScript COUNT_BREAKER_RUNS =
      RedisScript.of(
          "control-count-breaker-runs",
          DROP_EXPIRED_OPENINGS
              + """
      local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
      if expiry then
        return {string.format('%d', tonumber(expiry) - now), redis.call('HGET', KEYS[2], ARGV[1])}
      end
      local runs = (redis.call('GET', KEYS[3]) or '') .. ARGV[2]
      local size = tonumber(ARGV[3])
      if #runs > size then
        runs = string.sub(runs, -size)
      end
      local _, failures = string.gsub(runs, '1', '')
      local kept = #runs
      if kept >= tonumber(ARGV[4]) and failures > 0 and failures >= tonumber(ARGV[5]) * kept then
        redis.call('DEL', KEYS[3])
        local details = cjson.encode({id = ARGV[7], openedBy = ARGV[8],
          reason = string.format(ARGV[9], failures, kept)})
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[6]), ARGV[1])
        redis.call('HSET', KEYS[2], ARGV[1], details)
        return {ARGV[6], details}
      end
      redis.call('SET', KEYS[3], runs, 'PX', 3600000)
      return {}
      """,
          ScriptOutputType.MULTI);

  /**
   * Claims the cluster's trial after an opening ended (see {@link ControlPlane#claimBreakerTrial}).
   * KEYS: the expiry set, the details hash, the key's trial record (JSON {@code after}, {@code
   * trial}, {@code passed}). ARGV: key, the ended opening's id, hold ms, the trial opening's
   * details, its id, how long the record outlives it (ms). Returns {@code follow}, milliseconds
   * left and details; {@code passed}; or {@code run}, milliseconds and details.
   */
  private static final RedisScript CLAIM_BREAKER_TRIAL =
      RedisScript.of(
          "control-claim-breaker-trial",
          DROP_EXPIRED_OPENINGS
              + """
      local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
      local details = redis.call('HGET', KEYS[2], ARGV[1])
      if expiry and details then
        return {'follow', string.format('%d', tonumber(expiry) - now), details}
      end
      local after = ARGV[2]
      local raw = redis.call('GET', KEYS[3])
      if raw then
        local ok, last = pcall(cjson.decode, raw)
        if ok and type(last) == 'table' and (last.after == ARGV[2] or last.trial == ARGV[2]) then
          if last.passed == true then
            return {'passed'}
          end
          after = last.after
        end
      end
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
      redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
      redis.call('SET', KEYS[3], cjson.encode({after = after, trial = ARGV[5], passed = false}),
        'PX', tonumber(ARGV[3]) + tonumber(ARGV[6]))
      return {'run', ARGV[3], ARGV[4]}
      """,
          ScriptOutputType.MULTI);

  /**
   * Records a passed trial and removes its opening if it is still the key's. KEYS: the expiry set,
   * the details hash, the key's trial record. ARGV: key, the trial opening's id.
   */
  private static final RedisScript PASS_BREAKER_TRIAL =
      RedisScript.of(
          "control-pass-breaker-trial",
          """
      local raw = redis.call('GET', KEYS[3])
      if raw then
        local ok, last = pcall(cjson.decode, raw)
        if ok and type(last) == 'table' and last.trial == ARGV[2] then
          last.passed = true
          redis.call('SET', KEYS[3], cjson.encode(last), 'KEEPTTL')
        end
      end
      local details = redis.call('HGET', KEYS[2], ARGV[1])
      if details then
        local ok, opening = pcall(cjson.decode, details)
        if ok and type(opening) == 'table' and opening.id == ARGV[2] then
          redis.call('ZREM', KEYS[1], ARGV[1])
          redis.call('HDEL', KEYS[2], ARGV[1])
        end
      end
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * How long a trial's record outlives its trial opening: a worker that comes late to claim the
   * trial after the same opening still learns that it passed.
   */
  private static final Duration TRIAL_RECORD_LINGER = Duration.ofHours(1);

  /** Removes one breaker key's opening. KEYS: the expiry set, the details hash. ARGV: key. */
  private static final RedisScript CLOSE_BREAKER =
      RedisScript.of(
          "control-close-breaker",
          """
      redis.call('ZREM', KEYS[1], ARGV[1])
      redis.call('HDEL', KEYS[2], ARGV[1])
      return 1
      """,
          ScriptOutputType.INTEGER);

  /**
   * The unexpired breaker openings as key, milliseconds left by Redis's clock, details; the expired
   * ones are dropped. KEYS: the expiry set, the details hash.
   */
  private static final RedisScript OPEN_BREAKERS =
      RedisScript.of(
          "control-open-breakers",
          DROP_EXPIRED_OPENINGS
              + """
      local out = {}
      local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
      for i = 1, #live, 2 do
        local details = redis.call('HGET', KEYS[2], live[i])
        if details then
          out[#out + 1] = live[i]
          out[#out + 1] = string.format('%d', tonumber(live[i + 1]) - now)
          out[#out + 1] = details
        end
      end
      return out
      """,
          ScriptOutputType.MULTI);

  private final RedisSession session;
  private final String revoked;
  private final String index;
  private final String statusPrefix;
  private final String paused;
  private final String eventsPrefix;
  private final String limits;
  private final String breakerExpiries;
  private final String breakerDetails;
  private final String breakerRunsPrefix;
  private final String breakerTrialPrefix;

  private RedisControlPlane(RedisSession session, String prefix) {
    this.session = session;
    this.index = RedisKeys.tagged(prefix, "workers");
    this.statusPrefix = RedisKeys.tagged(prefix, "worker:");
    this.paused = RedisKeys.tagged(prefix, "paused");
    this.revoked = RedisKeys.tagged(prefix, "revoked");
    this.eventsPrefix = RedisKeys.tagged(prefix, "events:");
    this.limits = RedisKeys.tagged(prefix, "limits");
    this.breakerExpiries = RedisKeys.tagged(prefix, "breakers");
    this.breakerDetails = RedisKeys.tagged(prefix, "breakers:details");
    this.breakerRunsPrefix = RedisKeys.tagged(prefix, "breakers:runs:");
    this.breakerTrialPrefix = RedisKeys.tagged(prefix, "breakers:trial:");
  }

  /**
   * A control plane on {@code session}'s Redis under {@code prefix}.
   *
   * @param session the Redis session to work through; its owner closes it
   * @param prefix the key prefix, {@link #DEFAULT_KEY_PREFIX} unless processes are to be operated
   *     apart
   * @return the control plane
   * @throws IllegalArgumentException if the prefix is empty or holds a brace
   */
  public static RedisControlPlane create(RedisSession session, String prefix) {
    return new RedisControlPlane(Objects.requireNonNull(session, "session"), checkPrefix(prefix));
  }

  /**
   * Checks a key prefix: not empty and without braces (it becomes the keys' hash tag).
   *
   * @param prefix the prefix
   * @return the prefix
   * @throws IllegalArgumentException if it is empty or holds a brace
   */
  public static String checkPrefix(String prefix) {
    if (Objects.requireNonNull(prefix, "prefix").isEmpty()
        || prefix.indexOf('{') >= 0
        || prefix.indexOf('}') >= 0) {
      throw new IllegalArgumentException(
          "a control key prefix must be non-empty and without braces, was '" + prefix + "'");
    }
    return prefix;
  }

  @Override
  public void announce(WorkerStatus status, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    long millis = Math.max(1, ttl.toMillis());
    session.await(
        ANNOUNCE.run(
            session.commands(),
            new String[] {index, statusPrefix + status.id()},
            RedisArgs.bytes(status.id()),
            status.toJson(),
            RedisArgs.bytes(Long.toString(millis))));
  }

  @Override
  public void withdraw(String workerId) {
    session.await(
        WITHDRAW.run(
            session.commands(),
            new String[] {index, statusPrefix + workerId},
            RedisArgs.bytes(workerId)));
  }

  @Override
  public List<WorkerStatus> workers() {
    List<byte[]> statuses =
        session.await(
            WORKERS.run(session.commands(), new String[] {index}, RedisArgs.bytes(statusPrefix)));
    List<WorkerStatus> out = new ArrayList<>(statuses.size());
    for (byte[] json : statuses) {
      try {
        out.add(WorkerStatus.fromJson(json));
      } catch (MalformedMessageException e) {
        log.warn("Skipping a worker status in {} that does not decode: {}", index, e.getMessage());
      }
    }
    out.sort(Comparator.comparing(WorkerStatus::id));
    return out;
  }

  @Override
  public void pause(String queue) {
    session.await(session.commands().sadd(paused, RedisArgs.bytes(requireName(queue))));
  }

  @Override
  public void resume(String queue) {
    session.await(session.commands().srem(paused, RedisArgs.bytes(requireName(queue))));
  }

  @Override
  public Set<String> pausedQueues() {
    Set<String> out = new HashSet<>();
    for (byte[] name : session.await(session.commands().smembers(paused))) {
      out.add(new String(name, StandardCharsets.UTF_8));
    }
    return Set.copyOf(out);
  }

  /**
   * One script: {@code ZADD} each UUID scored by its expiry in Redis's clock (see {@link
   * ControlPlane#revoke}).
   */
  @Override
  public void revoke(java.util.Collection<String> taskUuids, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    if (taskUuids.isEmpty()) {
      return;
    }
    byte[][] args = new byte[taskUuids.size() + 1][];
    args[0] = RedisArgs.bytes(Long.toString(Math.max(1, ttl.toMillis())));
    int i = 1;
    for (String uuid : taskUuids) {
      args[i++] = RedisArgs.bytes(Objects.requireNonNull(uuid, "task uuid"));
    }
    session.await(REVOKE.run(session.commands(), new String[] {revoked}, args));
  }

  @Override
  public Set<String> revoked() {
    List<byte[]> uuids = session.await(REVOKED.run(session.commands(), new String[] {revoked}));
    Set<String> out = new HashSet<>();
    for (byte[] uuid : uuids) {
      out.add(new String(uuid, StandardCharsets.UTF_8));
    }
    return Set.copyOf(out);
  }

  /** {@code HSET} of the hash {@code {machinery:control}:limits}, field the task name. */
  @Override
  public void setTaskLimit(String taskName, TaskLimitSetting setting) {
    session.await(
        session
            .commands()
            .hset(limits, TaskLimitSetting.requireTaskName(taskName), setting.toJson()));
  }

  @Override
  public void clearTaskLimit(String taskName) {
    session.await(session.commands().hdel(limits, TaskLimitSetting.requireTaskName(taskName)));
  }

  @Override
  public Map<String, TaskLimitSetting> taskLimits() {
    Map<String, byte[]> stored = session.await(session.commands().hgetall(limits));
    Map<String, TaskLimitSetting> out = new HashMap<>();
    stored.forEach(
        (name, json) -> {
          try {
            out.put(name, TaskLimitSetting.fromJson(json));
          } catch (MalformedMessageException e) {
            log.warn(
                "Skipping the task limit of {} in {} that does not decode: {}",
                name,
                limits,
                e.getMessage());
          }
        });
    return Map.copyOf(out);
  }

  /** One script: the expiry set scored by Redis's clock, the details hash beside it. */
  @Override
  public BreakerOpening openBreaker(String key, Duration openFor, String reason, String openedBy) {
    Instant before = Instant.now();
    BreakerOpening opening =
        new BreakerOpening(
            key,
            UUID.randomUUID().toString(),
            before.plus(BreakerOpening.requireOpenFor(openFor)),
            reason,
            openedBy);
    session.await(
        OPEN_BREAKER.run(
            session.commands(),
            new String[] {breakerExpiries, breakerDetails},
            RedisArgs.bytes(key),
            RedisArgs.bytes(Long.toString(openFor.toMillis())),
            opening.toJson()));
    return opening;
  }

  /** One script: the window and the decision in Redis, so workers adding at once open it once. */
  @Override
  public @Nullable BreakerOpening countBreakerRuns(
      String key, boolean[] failed, BreakerWindow window, String openedBy) {
    BreakerOpening.requireBreakerKey(key);
    StringBuilder outcomes = new StringBuilder(failed.length);
    for (boolean f : failed) {
      outcomes.append(f ? '1' : '0');
    }
    List<byte[]> reply =
        session.await(
            COUNT_BREAKER_RUNS.run(
                session.commands(),
                new String[] {breakerExpiries, breakerDetails, breakerRunsPrefix + key},
                RedisArgs.bytes(key),
                RedisArgs.bytes(outcomes.toString()),
                RedisArgs.bytes(Integer.toString(window.size())),
                RedisArgs.bytes(Integer.toString(window.minimumRuns())),
                RedisArgs.bytes(Double.toString(window.failureRate())),
                RedisArgs.bytes(Long.toString(window.openFor().toMillis())),
                RedisArgs.bytes(UUID.randomUUID().toString()),
                RedisArgs.bytes(openedBy),
                RedisArgs.bytes(BreakerWindow.REASON_FORMAT)));
    if (reply.size() < 2) {
      return null;
    }
    long left = Long.parseLong(new String(reply.get(0), StandardCharsets.UTF_8));
    return BreakerOpening.fromJson(key, Instant.now().plusMillis(left), reply.get(1));
  }

  /** One script: the opening in force, the trial's record and the trial opening together. */
  @Override
  public BreakerTrial claimBreakerTrial(
      String key, String endedId, Duration holdFor, String workerId) {
    BreakerOpening.requireBreakerKey(key);
    Objects.requireNonNull(endedId, "endedId");
    Instant before = Instant.now();
    BreakerOpening trial =
        new BreakerOpening(
            key,
            UUID.randomUUID().toString(),
            before.plus(BreakerOpening.requireOpenFor(holdFor)),
            BreakerTrial.reason(workerId),
            workerId,
            true);
    List<byte[]> reply =
        session.await(
            CLAIM_BREAKER_TRIAL.run(
                session.commands(),
                new String[] {breakerExpiries, breakerDetails, breakerTrialPrefix + key},
                RedisArgs.bytes(key),
                RedisArgs.bytes(endedId),
                RedisArgs.bytes(Long.toString(holdFor.toMillis())),
                trial.toJson(),
                RedisArgs.bytes(trial.id()),
                RedisArgs.bytes(Long.toString(TRIAL_RECORD_LINGER.toMillis()))));
    String answer = new String(reply.get(0), StandardCharsets.UTF_8);
    if (answer.equals("passed")) {
      return new BreakerTrial(BreakerTrial.Answer.PASSED, null);
    }
    long left = Long.parseLong(new String(reply.get(1), StandardCharsets.UTF_8));
    BreakerOpening opening =
        BreakerOpening.fromJson(key, Instant.now().plusMillis(left), reply.get(2));
    return new BreakerTrial(
        answer.equals("run") ? BreakerTrial.Answer.RUN : BreakerTrial.Answer.FOLLOW, opening);
  }

  @Override
  public void passBreakerTrial(String key, String trialId) {
    BreakerOpening.requireBreakerKey(key);
    session.await(
        PASS_BREAKER_TRIAL.run(
            session.commands(),
            new String[] {breakerExpiries, breakerDetails, breakerTrialPrefix + key},
            RedisArgs.bytes(key),
            RedisArgs.bytes(trialId)));
  }

  @Override
  public void closeBreaker(String key) {
    session.await(
        CLOSE_BREAKER.run(
            session.commands(),
            new String[] {breakerExpiries, breakerDetails},
            RedisArgs.bytes(BreakerOpening.requireBreakerKey(key))));
  }

  @Override
  public Map<String, BreakerOpening> openBreakers() {
    List<byte[]> flat =
        session.await(
            OPEN_BREAKERS.run(session.commands(), new String[] {breakerExpiries, breakerDetails}));
    Instant now = Instant.now();
    Map<String, BreakerOpening> out = new HashMap<>();
    for (int i = 0; i + 2 < flat.size(); i += 3) {
      String key = new String(flat.get(i), StandardCharsets.UTF_8);
      try {
        long left = Long.parseLong(new String(flat.get(i + 1), StandardCharsets.UTF_8));
        out.put(key, BreakerOpening.fromJson(key, now.plusMillis(left), flat.get(i + 2)));
      } catch (NumberFormatException | MalformedMessageException e) {
        log.warn(
            "Skipping the breaker opening of {} in {} that does not decode: {}",
            key,
            breakerDetails,
            e.getMessage());
      }
    }
    return Map.copyOf(out);
  }

  @Override
  public boolean recordsTaskEvents() {
    return true;
  }

  /** Pipelined: every command of the batch is sent, then the replies are awaited. */
  @Override
  public void recordTaskEvents(List<TaskEvent> events, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    if (events.isEmpty()) {
      return;
    }
    Map<String, List<byte[]>> byTask = new LinkedHashMap<>();
    for (TaskEvent event : events) {
      byTask.computeIfAbsent(event.taskUuid(), k -> new ArrayList<>()).add(event.toJson());
    }
    long millis = Math.max(1, ttl.toMillis());
    List<CompletableFuture<?>> replies = new ArrayList<>(byTask.size() * 3);
    var commands = session.commands();
    for (Map.Entry<String, List<byte[]>> task : byTask.entrySet()) {
      String key = eventsPrefix + task.getKey();
      replies.add(
          commands.rpush(key, task.getValue().toArray(new byte[0][])).toCompletableFuture());
      replies.add(commands.ltrim(key, -MAX_TASK_EVENTS, -1).toCompletableFuture());
      replies.add(commands.pexpire(key, millis).toCompletableFuture());
    }
    for (CompletableFuture<?> reply : replies) {
      session.await(reply);
    }
  }

  @Override
  public List<TaskEvent> taskHistory(String taskUuid) {
    String key = eventsPrefix + Objects.requireNonNull(taskUuid, "taskUuid");
    List<TaskEvent> out = new ArrayList<>();
    for (byte[] json : session.await(session.commands().lrange(key, 0, -1))) {
      try {
        out.add(TaskEvent.fromJson(json));
      } catch (MalformedMessageException e) {
        log.warn("Skipping a task event in {} that does not decode: {}", key, e.getMessage());
      }
    }
    return out;
  }

  private static String requireName(String queue) {
    if (Objects.requireNonNull(queue, "queue").isEmpty()) {
      throw new IllegalArgumentException("a queue name is needed (the actual name, not empty)");
    }
    return queue;
  }

  @Override
  public String toString() {
    return "RedisControlPlane{" + session.address() + " " + index + "}";
  }
}
