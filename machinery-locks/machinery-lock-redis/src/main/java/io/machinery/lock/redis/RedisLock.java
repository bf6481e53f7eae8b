package io.machinery.lock.redis;

import static io.machinery.client.redis.RedisArgs.bytes;

import io.lettuce.core.ScriptOutputType;
import io.machinery.MachineryException;
import io.machinery.client.redis.RedisArgs;
import io.machinery.client.redis.RedisScript;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Lock;
import io.machinery.spi.LockRetries;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Go Machinery's Redis lock for periodic tasks (spec §5.2), safe where Go's is racy.
 *
 * <pre>{@code
 * Config config = Config.builder().lock("redis://127.0.0.1:6379").build();
 * try (RedisLock lock = RedisLock.builder(config).retries(3).retryInterval(Duration.ofMillis(100)).build()) {
 *   boolean mine = lock.tryLockWithRetries("machinery_lock_app" + "send_report" + "0 * * * *", nextRunNanos - 1);
 * }
 * }</pre>
 *
 * <p>Design notes. The key is the caller's (Go: {@code machinery_lock_<program><name><spec>}) and
 * the value the expiry in Unix nanoseconds as a decimal, exactly as Go writes them, so Java and Go
 * schedulers share locks. Taking it is {@code SET key <expiry ns> NX PX <expiry − now + 1 ns, in
 * ms>}; when the key exists, Go's fallback (GET; if the stored expiry has passed, GETSET and
 * EXPIRE) runs inside the same Lua script, so two callers can never both take over a stale key (Go
 * issues #741, #780). Nanosecond values are compared as decimal strings (Lua numbers are doubles).
 * Retries wait {@link Builder#retryInterval(Duration)} in between (Go's interval is zero: a busy
 * spin). {@link #unlock} deletes the key only while it holds the given value, which is no owner
 * check: every server writes the same value for a tick (an owner token in it would break Go).
 *
 * <p>Thread-safe. Whoever builds a lock closes it.
 */
public final class RedisLock implements Lock {
  /** Go's {@code LockFactory} uses 3 retries (4 attempts). */
  public static final int DEFAULT_RETRIES = 3;

  public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofMillis(100);

  /** KEYS: key. ARGV: value (ns), expiry ms, now (ns). Returns 1 when taken. */
  static final RedisScript TRY_LOCK =
      RedisScript.of(
          "periodic-lock",
          """
      local function greater(a, b)
        local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
        if na ~= nb then return nb end
        if na then a, b = string.sub(b, 2), string.sub(a, 2) end
        a = (string.gsub(a, '^0+', '')); b = (string.gsub(b, '^0+', ''))
        if #a ~= #b then return #a > #b end
        return a > b
      end
      if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
      local stored = redis.call('GET', KEYS[1])
      if not stored or not string.match(stored, '^%-?%d+$') or string.match(stored, '^%-?0+$') then return 0 end
      if greater(ARGV[3], stored) then
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
      end
      return 0
      """,
          ScriptOutputType.INTEGER);

  /** KEYS: key. ARGV: value. Deletes the key only if it holds the value. */
  static final RedisScript UNLOCK =
      RedisScript.of(
          "periodic-unlock",
          """
      if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
      return 0
      """,
          ScriptOutputType.INTEGER);

  private final RedisSession session;
  private final boolean ownsSession;
  private final Clock clock;
  private final LockRetries retries;

  private RedisLock(Builder b) {
    this.clock = b.clock;
    this.retries = new LockRetries(b.retries, b.retryInterval);
    this.ownsSession = b.session == null;
    this.session =
        b.session != null
            ? b.session
            : RedisSession.open(RedisUrls.resolve(b.config, b.url), b.config);
  }

  /** A lock with Go's 3 retries, on {@link Builder#url(String) the lock's Redis URL}. */
  public static RedisLock create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  /**
   * Takes {@code key} until {@code expiresAtUnixNanos} if nobody holds it: free, or held with an
   * expiry that has passed. False when the expiry is not in the future (there is nothing to hold).
   *
   * @throws MachineryException when Redis fails or cannot be reached
   */
  @Override
  public boolean tryLock(String key, long expiresAtUnixNanos) {
    Objects.requireNonNull(key, "key");
    long now = RedisArgs.unixNanos(clock.instant());
    long expirationNanos = expiresAtUnixNanos + 1 - now;
    long millis = expirationNanos / 1_000_000;
    if (expirationNanos <= 0) {
      return false;
    }
    if (millis == 0) {
      millis = 1; // go-redis sends at least 1 ms
    }
    Long taken =
        session.await(
            TRY_LOCK.run(
                session.commands(),
                new String[] {key},
                bytes(Long.toString(expiresAtUnixNanos)),
                bytes(Long.toString(millis)),
                bytes(Long.toString(now))));
    return taken == 1L;
  }

  /**
   * {@link #tryLock} up to retries + 1 times, {@link Builder#retryInterval(Duration)} apart (Go's
   * LockWithRetries). A Redis failure counts as a failed attempt; when every attempt failed, the
   * last failure is thrown.
   *
   * @throws MachineryException when no attempt reached Redis
   */
  @Override
  public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
    return retries.tryLock(this, key, expiresAtUnixNanos);
  }

  /**
   * Releases {@code key} if it still holds the value {@code expiresAtUnixNanos}, whoever took it:
   * that value is Go's, the expiry alone, which every server computes alike for a tick (the next
   * fire time less 1 ns), so a loser's unlock of a tick releases the winner's lock and lets another
   * try take the tick again. Go's lock has no owner token, and a value with one would no longer be
   * one Go's schedulers read. The periodic scheduler never unlocks; use it only for a key whose
   * value no other caller writes. A lock taken over since (a newer expiry) stays.
   *
   * @return whether the key was deleted
   * @throws MachineryException when Redis fails or cannot be reached
   */
  public boolean unlock(String key, long expiresAtUnixNanos) {
    Long deleted =
        session.await(
            UNLOCK.run(
                session.commands(), new String[] {key}, bytes(Long.toString(expiresAtUnixNanos))));
    return deleted == 1L;
  }

  /**
   * Closes the connection, unless the session was passed in ({@link Builder#session}); idempotent.
   */
  @Override
  public void close() {
    if (ownsSession) {
      session.close();
    }
  }

  @Override
  public String toString() {
    return "RedisLock{" + session.address() + "}";
  }

  /** Builds a {@link RedisLock}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Clock clock = Clock.systemUTC();
    private int retries = DEFAULT_RETRIES;
    private Duration retryInterval = DEFAULT_RETRY_INTERVAL;
    private @Nullable String url;
    private @Nullable RedisSession session;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /** The clock giving "now" for expiry arithmetic; default the system UTC clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * Extra attempts of {@link RedisLock#tryLockWithRetries}, 0..100 (default {@value
     * #DEFAULT_RETRIES}).
     */
    public Builder retries(int value) {
      if (value < 0 || value > 100) {
        throw new IllegalArgumentException("retries must be 0..100, was " + value);
      }
      retries = value;
      return this;
    }

    /** The wait between attempts (default 100 ms; zero spins as Go does). */
    public Builder retryInterval(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("retryInterval must not be negative, was " + value);
      }
      retryInterval = value;
      return this;
    }

    /**
     * The Redis URL; default {@link Config#lock()}, or when that is empty the result backend's and
     * then the broker's URL if it is a Redis one.
     */
    public Builder url(String value) {
      url = Objects.requireNonNull(value, "url");
      return this;
    }

    /**
     * Uses {@code value} instead of opening a session of its own (a broker, a backend and a lock
     * can share one Lettuce client and its threads); the caller owns it and closes it after the
     * lock. {@link #url} is then ignored.
     */
    public Builder session(RedisSession value) {
      session = Objects.requireNonNull(value, "session");
      return this;
    }

    /**
     * Connects and builds the lock.
     *
     * @throws IllegalArgumentException when there is no Redis URL to use
     * @throws MachineryException when Redis cannot be reached
     */
    public RedisLock build() {
      return new RedisLock(this);
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
    return RedisLockProvider.INSTANCE;
  }
}
