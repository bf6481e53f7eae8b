package io.machinery.lock.redis;

import static io.machinery.client.redis.RedisArgs.bytes;

import io.lettuce.core.ScriptOutputType;
import io.machinery.MachineryException;
import io.machinery.TaskLimit;
import io.machinery.client.redis.RedisKeys;
import io.machinery.client.redis.RedisScript;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.TaskLimiter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cluster-wide task limits ({@link TaskLimit}) in Redis, whatever the broker is: pass one to every
 * worker with {@code Worker.Builder.limiter(...)}.
 *
 * <pre>{@code
 * try (RedisTaskLimiter limiter = RedisTaskLimiter.builder(config).build();
 *     Server server = Machinery.connect(config)) {
 *   server.workerBuilder("w").limiter(limiter).limit("call_api", TaskLimit.rate(50, Duration.ofSeconds(1))).build().launch();
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>One script, one round trip.</b> {@link #ACQUIRE} decides cap and rate together, on
 *       Redis's own clock ({@code TIME}, so workers' clocks may disagree): a refusal takes nothing.
 *   <li><b>Rate:</b> GCRA; key {@code {machinery_limit:<key>}:rate} holds the theoretical arrival
 *       time in microseconds and expires when the bucket is full again.
 *   <li><b>Cap:</b> a lease-based semaphore; key {@code {machinery_limit:<key>}:running} is a ZSET
 *       of holders scored by when their lease lapses. Expired holders are dropped before counting,
 *       so a killed worker's slots come back after at most {@link Builder#lease}. This limiter
 *       renews the leases of the slots it holds every third of the lease, on one daemon thread that
 *       {@link #close()} stops; a run longer than the lease keeps its slot as long as its worker
 *       lives. {@link #release} is one {@code ZREM}.
 *   <li>Both keys carry the key's hash tag, so the script works on Redis Cluster.
 * </ul>
 *
 * <p>Thread-safe. Whoever builds it closes it (the session too, unless it was passed in).
 */
public final class RedisTaskLimiter implements TaskLimiter {
  private static final Logger log = LoggerFactory.getLogger(RedisTaskLimiter.class);

  /** Default of {@link Builder#lease}. */
  public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);

  /** The prefix of every key this limiter writes. */
  public static final String KEY_PREFIX = "machinery_limit:";

  /**
   * KEYS: rate, running. ARGV: interval µs (0: no rate), burst, cap (0: none), holder, lease ms.
   * Returns {1, 0} when admitted, {0, wait µs} when the rate refuses, {0, 0} when the cap is full.
   */
  static final RedisScript ACQUIRE =
      RedisScript.of(
          "limit-acquire",
          """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
      local interval, burst, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
      local lease = tonumber(ARGV[5])
      if cap > 0 then
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        if not redis.call('ZSCORE', KEYS[2], ARGV[4]) and redis.call('ZCARD', KEYS[2]) >= cap then
          return {0, 0}
        end
      end
      if interval > 0 then
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        local allowAt = tat + interval - burst * interval
        if allowAt > now then return {0, allowAt - now} end
        redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', math.ceil((tat + interval - now) / 1000) + 1)
      end
      if cap > 0 then
        redis.call('ZADD', KEYS[2], now + lease * 1000, ARGV[4])
        redis.call('PEXPIRE', KEYS[2], lease * 2)
      end
      return {1, 0}
      """,
          ScriptOutputType.MULTI);

  /** KEYS: running. ARGV: holder, lease ms. Extends the holder's lease if it still holds one. */
  static final RedisScript RENEW =
      RedisScript.of(
          "limit-renew",
          """
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
      local lease = tonumber(ARGV[2])
      local n = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease * 1000, ARGV[1])
      redis.call('PEXPIRE', KEYS[1], lease * 2)
      return n
      """,
          ScriptOutputType.INTEGER);

  private final RedisSession session;
  private final boolean ownsSession;
  private final Duration lease;
  private final byte[] leaseMillis;

  /** Slots held by runs of this process: holder to the running key. */
  private final Map<String, String> held = new ConcurrentHashMap<>();

  private final ScheduledExecutorService renewer;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicBoolean renewFailing = new AtomicBoolean();

  private RedisTaskLimiter(Builder b) {
    this.lease = b.lease;
    this.leaseMillis = bytes(Long.toString(b.lease.toMillis()));
    this.ownsSession = b.session == null;
    this.session =
        b.session != null
            ? b.session
            : RedisSession.open(RedisUrls.resolve(b.config, b.url), b.config);
    ScheduledThreadPoolExecutor executor =
        new ScheduledThreadPoolExecutor(
            1, Thread.ofPlatform().daemon().name("machinery-limit-renewer").factory());
    executor.setRemoveOnCancelPolicy(true);
    this.renewer = executor;
    long every = Math.max(1, b.lease.toMillis() / 3);
    renewer.scheduleWithFixedDelay(this::renew, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * A limiter on the lock's Redis ({@link Config#lock()}, else the backend's or broker's Redis).
   *
   * @param config the configuration
   * @return a connected limiter
   * @throws IllegalArgumentException when there is no Redis URL to use
   */
  public static RedisTaskLimiter create(Config config) {
    return builder(config).build();
  }

  /**
   * Starts a builder.
   *
   * @param config the configuration (URL, timeouts, TLS)
   * @return a new builder
   */
  public static Builder builder(Config config) {
    return new Builder(config);
  }

  static String rateKey(String key) {
    return RedisKeys.tagged(KEY_PREFIX + key, "rate");
  }

  static String runningKey(String key) {
    return RedisKeys.tagged(KEY_PREFIX + key, "running");
  }

  @Override
  public Decision tryAcquire(String key, TaskLimit limit, String holder) {
    checkOpen();
    String running = runningKey(key);
    List<Object> reply =
        session.await(
            ACQUIRE.run(
                session.commands(),
                new String[] {rateKey(key), running},
                bytes(Long.toString(limit.interval().toNanos() / 1000)),
                bytes(Integer.toString(limit.burst())),
                bytes(Integer.toString(limit.maxConcurrent())),
                bytes(holder),
                leaseMillis));
    if (((Long) reply.get(0)) == 1L) {
      if (limit.maxConcurrent() > 0) {
        held.put(holder, running);
      }
      return Decision.ADMITTED;
    }
    long waitMicros = (Long) reply.get(1);
    return waitMicros == 0
        ? Decision.FULL
        : Decision.retryAfter(Duration.ofNanos(waitMicros * 1000));
  }

  @Override
  public void release(String key, TaskLimit limit, String holder) {
    String running = held.remove(holder);
    if (running == null || closed.get()) {
      return;
    }
    try {
      session.await(session.commands().zrem(running, bytes(holder)));
    } catch (RuntimeException e) {
      log.warn(
          "Could not give back the concurrency slot of {} under {} ({}); it lapses within {}",
          holder,
          running,
          e.getMessage(),
          lease);
    }
  }

  /** How many slots runs of this process hold now. */
  int heldSlots() {
    return held.size();
  }

  private void renew() {
    if (held.isEmpty()) {
      return;
    }
    try {
      for (Map.Entry<String, String> slot : held.entrySet()) {
        RENEW
            .run(
                session.commands(),
                new String[] {slot.getValue()},
                bytes(slot.getKey()),
                leaseMillis)
            .whenComplete(
                (ok, error) -> {
                  if (error != null && renewFailing.compareAndSet(false, true)) {
                    log.warn(
                        "Renewing task-limit leases failed ({}); slots lapse after {} if it lasts",
                        error.getMessage(),
                        lease);
                  } else if (error == null) {
                    renewFailing.set(false);
                  }
                });
      }
    } catch (RuntimeException e) {
      log.debug("Renewing task-limit leases failed: {}", e.toString());
    }
  }

  private void checkOpen() {
    if (closed.get()) {
      throw new MachineryException("the Redis task limiter is closed");
    }
  }

  /**
   * Stops renewing (slots still held lapse with their leases), closes the session unless it was
   * passed in; idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    renewer.shutdownNow();
    if (ownsSession) {
      session.close();
    }
  }

  @Override
  public String toString() {
    return "RedisTaskLimiter{" + session.address() + "}";
  }

  /** Builds a {@link RedisTaskLimiter}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Duration lease = DEFAULT_LEASE;
    private @Nullable String url;
    private @Nullable RedisSession session;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * How long a concurrency slot outlives a worker that died holding it; default {@link
     * #DEFAULT_LEASE}. Live workers renew their slots every third of it.
     *
     * @param value the lease, from 1 second to 1 hour
     * @return this builder
     * @throws IllegalArgumentException when out of that range
     */
    public Builder lease(Duration value) {
      if (value.compareTo(Duration.ofSeconds(1)) < 0 || value.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("lease must be from 1 second to 1 hour, was " + value);
      }
      lease = value;
      return this;
    }

    /**
     * The Redis URL; default as {@link RedisLock.Builder#url}: the lock's, else the backend's or
     * the broker's Redis URL.
     *
     * @param value the URL
     * @return this builder
     */
    public Builder url(String value) {
      url = Objects.requireNonNull(value, "url");
      return this;
    }

    /**
     * Uses {@code value} instead of a session of its own; the caller closes it after the limiter.
     *
     * @param value the session
     * @return this builder
     */
    public Builder session(RedisSession value) {
      session = Objects.requireNonNull(value, "session");
      return this;
    }

    /**
     * Connects and builds the limiter.
     *
     * @return the limiter
     * @throws IllegalArgumentException when there is no Redis URL to use
     * @throws MachineryException when Redis cannot be reached
     */
    public RedisTaskLimiter build() {
      return new RedisTaskLimiter(this);
    }
  }
}
