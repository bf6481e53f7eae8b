package io.machinery.lock.amqp;

import com.rabbitmq.client.AMQP;
import io.machinery.MachineryException;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpNames;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.client.amqp.NackedException;
import io.machinery.client.amqp.UnroutableException;
import io.machinery.config.Config;
import io.machinery.internal.GoTime;
import io.machinery.spi.ComponentProvider;
import io.machinery.spi.Lock;
import io.machinery.spi.LockRetries;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import org.jspecify.annotations.Nullable;

/**
 * The periodic-task lock of an AMQP-only deployment, kept in RabbitMQ: with it, servers that share
 * a RabbitMQ fire each periodic task once per tick, as servers sharing a Redis lock do (Go
 * Machinery has no AMQP lock: its AMQP servers each fire every tick).
 *
 * <pre>{@code
 * Config config = Config.builder().broker("amqp://guest:guest@127.0.0.1:5672/").build();
 * try (AmqpLock lock = AmqpLock.create(config); // the lock URL, else the broker's
 *     Server server = Server.builder().config(config).lock(lock).build()) {
 *   server.registerPeriodicTask("0 9 * * MON-FRI", "weekday-report", Signature.create("send_report"));
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>A queue that holds one message.</b> Each key is a durable classic queue {@code
 *       machinery_lock.<key>} (the key's hex SHA-256 when the name would pass 255 bytes) declared
 *       with {@code x-max-length 1} and {@code x-overflow reject-publish}: RabbitMQ confirms the
 *       first message published to it and refuses (nacks) any other while that one is there,
 *       atomically. Taking the lock is one confirmed publish with a per-message TTL; the message
 *       goes at its time, in RabbitMQ's clock, and the key is free again. Nothing ever reads the
 *       message (a message taken by basic.get would not count towards the length, letting a second
 *       one in), and the lock has no release: Go's lock interface has none.
 *   <li><b>Ending at the expiry, never before.</b> The message's TTL is the time left, read as late
 *       as it can be (after connecting and declaring) and rounded up to the millisecond; RabbitMQ
 *       times it from the publish's arrival, so the message lapses a moment (the publish's travel)
 *       after the asked expiry, never before: no try for the same tick, however late, finds the key
 *       free. (Ending early by a margin let a try in that margin, from a slow server or a loser's
 *       retry, take the tick a second time, and the run went twice.) The next tick of a periodic
 *       task is tried from that expiry on, so its first tries can meet the previous tick's message
 *       in that moment: they are refused and a retry, {@link #DEFAULT_RETRY_INTERVAL} later by
 *       default, takes the tick. Go's zero interval spins all its retries within moments, and on a
 *       slow host they can all be refused, on every server, and the tick skipped: keep an interval,
 *       and the hosts' clocks on NTP (a server whose clock is ahead tries that much earlier).
 *   <li><b>Bounds.</b> A lock lasts at most {@link #MAX_HOLD} (RabbitMQ's TTLs stop at 49 days; a
 *       tick's lock only has to outlast the other servers' tries at that tick). An unused key's
 *       empty queue is deleted by RabbitMQ after {@link #IDLE_EXPIRY} ({@code x-expires}; every try
 *       declares the queue, which counts as a use).
 *   <li><b>The answer is the confirm of that one message</b>, ack or nack, as the client's
 *       confirming publisher matches it ({@code AmqpClient.publishAsync}), never the client
 *       library's {@code Channel.waitForConfirms}: that one drops the message's sequence number
 *       before it records a nack, so a wait that begins in between reads a refused publish as
 *       confirmed, and a busy host gave two servers the same tick's lock (4 races in 3,000 on a
 *       loaded 2-core host).
 *   <li><b>Not shared with Go</b>: Go's schedulers lock in Redis; a pool of Java and Go schedulers
 *       shares a {@code RedisLock}.
 * </ul>
 *
 * <p>Thread-safe. A try is two round trips on the client's shared channels: the declaration, then
 * the publish and its confirm. Whoever builds a lock closes it.
 */
public final class AmqpLock implements Lock {
  /** Go's {@code LockFactory} uses 3 retries (4 attempts), as {@code RedisLock}. */
  public static final int DEFAULT_RETRIES = 3;

  public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofMillis(100);

  /** The longest a lock is held (a longer one ends then). */
  public static final Duration MAX_HOLD = Duration.ofDays(30);

  /** How long an unused key's empty queue stays before RabbitMQ deletes it. */
  public static final Duration IDLE_EXPIRY = Duration.ofDays(31);

  static final String QUEUE_PREFIX = "machinery_lock.";

  private static final Map<String, Object> QUEUE_ARGS =
      Map.of(
          "x-max-length",
          1,
          "x-overflow",
          "reject-publish",
          "x-queue-type",
          "classic",
          "x-expires",
          IDLE_EXPIRY.toMillis());

  private final AmqpClient client;
  private final boolean ownsClient;
  private final Clock clock;
  private final LockRetries retries;

  private AmqpLock(Builder b) {
    this.clock = b.clock;
    this.retries = new LockRetries(b.retries, b.retryInterval);
    this.ownsClient = b.client == null;
    this.client =
        b.client != null
            ? b.client
            : AmqpClient.builder(AmqpUrl.parseAll(url(b), b.config.multipleBrokerSeparator()))
                .connectionName("machinery-lock")
                .build();
  }

  /** The builder's URL, else the lock URL, else the broker's (Go's rule). */
  private static String url(Builder b) {
    if (b.url != null) {
      return b.url;
    }
    return b.config.lock().isBlank() ? b.config.broker() : b.config.lock();
  }

  /**
   * A lock with Go's 3 retries on {@code config}'s lock URL, or its broker URL when no lock is set.
   *
   * @param config the configuration
   * @return the lock; nothing is connected until first use
   * @throws IllegalArgumentException when the URL is not an AMQP URL
   */
  public static AmqpLock create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  /**
   * Makes this lock for {@code Machinery.connect} from an {@code amqp://} or {@code amqps://} URL.
   *
   * @return the provider
   */
  public static ComponentProvider provider() {
    return AmqpLockProvider.INSTANCE;
  }

  /**
   * The queue that holds {@code key}'s lock.
   *
   * @param key the lock's name
   * @return the queue name
   */
  static String queue(String key) {
    return AmqpNames.queueName(QUEUE_PREFIX, Objects.requireNonNull(key, "key"));
  }

  /**
   * How long RabbitMQ keeps a lock asked for {@code left}: that, rounded up to the millisecond
   * (never ending before the asked expiry), at most {@link #MAX_HOLD}.
   */
  static long holdMillis(Duration left) {
    if (left.compareTo(MAX_HOLD) > 0) {
      return MAX_HOLD.toMillis();
    }
    long millis = left.toMillis();
    return left.minusMillis(millis).isPositive() ? millis + 1 : Math.max(1, millis);
  }

  /**
   * Takes {@code key} until {@code expiresAtUnixNanos} (a moment later: see the design notes) if
   * nobody holds it. False when the expiry is not in the future.
   *
   * @throws MachineryException when RabbitMQ fails or cannot be reached
   */
  @Override
  public boolean tryLock(String key, long expiresAtUnixNanos) {
    String queue = queue(key);
    if (nanosLeft(expiresAtUnixNanos) <= 0) {
      return false;
    }
    byte[] body = Long.toString(expiresAtUnixNanos).getBytes(StandardCharsets.UTF_8);
    for (int attempt = 1; ; attempt++) {
      client.call( // connects first when it must
          "declare the lock queue '" + queue + "'",
          channel -> channel.queueDeclare(queue, true, false, false, QUEUE_ARGS));
      // The time left is read only now, after connecting and declaring (a first try connects,
      // which can take a while on a busy host): RabbitMQ times the TTL from the publish's
      // arrival, so every moment between reading and publishing makes the lock end that late.
      long left = nanosLeft(expiresAtUnixNanos);
      if (left <= 0) {
        return false;
      }
      AMQP.BasicProperties properties =
          new AMQP.BasicProperties.Builder()
              .deliveryMode(2)
              .expiration(Long.toString(holdMillis(Duration.ofNanos(left))))
              .build();
      try {
        client.publishAsync("", queue, properties, body).get();
        return true;
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof NackedException) {
          return false; // the queue holds a message already: the lock is taken
        }
        if (!(cause instanceof UnroutableException)) {
          throw AmqpOperationException.of(
              "lock '" + queue + "'", cause == null ? e : cause); // the confirm's deadline too
        }
        if (attempt == 2) { // deleted (x-expires) twice between declaring and publishing
          throw new AmqpOperationException(
              "the lock queue '" + queue + "' vanished twice while locking", 0, false, null);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException("interrupted while locking '" + queue + "'", e);
      }
    }
  }

  private long nanosLeft(long expiresAtUnixNanos) {
    return expiresAtUnixNanos - GoTime.unixNanos(clock.instant());
  }

  /**
   * {@link #tryLock} up to retries + 1 times, {@link Builder#retryInterval(Duration)} apart (Go's
   * LockWithRetries). A RabbitMQ failure counts as a failed attempt; when every attempt failed, the
   * last failure is thrown.
   *
   * @throws MachineryException when no attempt reached RabbitMQ
   */
  @Override
  public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
    return retries.tryLock(this, key, expiresAtUnixNanos);
  }

  /** Closes the connection when this lock made it; idempotent. */
  @Override
  public void close() {
    if (ownsClient) {
      client.close();
    }
  }

  @Override
  public String toString() {
    return "AmqpLock{" + client.urls() + "}";
  }

  /** Builds an {@link AmqpLock}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private @Nullable String url;
    private @Nullable AmqpClient client;
    private Clock clock = Clock.systemUTC();
    private int retries = DEFAULT_RETRIES;
    private Duration retryInterval = DEFAULT_RETRY_INTERVAL;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * The RabbitMQ to lock in; by default the config's lock URL, else its broker URL.
     *
     * @param value an {@code amqp://} or {@code amqps://} URL
     * @return this builder
     */
    public Builder url(String value) {
      this.url = Objects.requireNonNull(value, "url");
      return this;
    }

    /**
     * A connection to share (the broker's, say), which the lock does not close; by default the lock
     * makes its own.
     *
     * @param value the client
     * @return this builder
     */
    public Builder client(AmqpClient value) {
      this.client = Objects.requireNonNull(value, "client");
      return this;
    }

    /**
     * The clock that tells how long is left until an expiry; the system's by default.
     *
     * @param value the clock
     * @return this builder
     */
    public Builder clock(Clock value) {
      this.clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * Retries after a failed try ({@value #DEFAULT_RETRIES} by default, Go's).
     *
     * @param value 0 or more
     * @return this builder
     */
    public Builder retries(int value) {
      if (value < 0) {
        throw new IllegalArgumentException("retries must be 0 or more, was " + value);
      }
      this.retries = value;
      return this;
    }

    /**
     * The wait between tries (100 ms by default; Go's is zero, a busy spin). A tick's first tries
     * can meet the previous tick's lock in the moment it outlives its expiry (see the design
     * notes): the retries must outlast that moment, or the tick is skipped.
     *
     * @param value zero or more
     * @return this builder
     */
    public Builder retryInterval(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("retryInterval cannot be negative, was " + value);
      }
      this.retryInterval = value;
      return this;
    }

    /**
     * Builds the lock; nothing is connected until first use.
     *
     * @return the lock
     * @throws IllegalArgumentException when the URL is not an AMQP URL
     */
    public AmqpLock build() {
      return new AmqpLock(this);
    }
  }
}
