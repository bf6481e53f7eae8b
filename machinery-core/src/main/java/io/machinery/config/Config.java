package io.machinery.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Everything a server, its broker and its backend are configured with: Go's {@code config.Config},
 * with the same YAML keys and environment variable names (spec §6).
 *
 * <p>Immutable; {@link #toBuilder()} copies. {@link #fromEnvironment()} and {@link #fromYaml(Path)}
 * start from Go's defaults ({@link #DEFAULT}). Unlike Go, TLS is never switched on by loading a
 * config: only a {@code rediss://} or {@code amqps://} URL or {@link Builder#tls(boolean)} enables
 * it; and a YAML file has no size limit.
 *
 * <p>Every builder of this package ({@link Builder}, {@link RedisConfig.Builder}, {@link
 * AmqpConfig.Builder}, {@link SqsConfig.Builder}) refuses a value out of its setting's range as
 * soon as it is set, naming the setter and the rule; the environment and YAML readers go through
 * the same setters, so a value is refused the same way from code, a variable or a file (Go checks
 * none of them).
 *
 * <pre>{@code
 * Config config = Config.builder().broker("redis://127.0.0.1:6379").resultBackend("redis://127.0.0.1:6379")
 *     .defaultQueue("machinery_tasks").resultsExpireIn(3600).build();
 * }</pre>
 *
 * <p>Size: Go's configuration, field for field, with its named defaults, builder, {@code equals}
 * and the environment and YAML readers' entry points; the per-technology parts are their own types
 * ({@code RedisConfig}, {@code AmqpConfig}, ...).
 */
public final class Config {
  /** Go's default broker URL: a local RabbitMQ. */
  public static final String DEFAULT_BROKER = "amqp://guest:guest@localhost:5672/";

  /** Go's default result backend URL: a local RabbitMQ. */
  public static final String DEFAULT_RESULT_BACKEND = "amqp://guest:guest@localhost:5672/";

  /** Go's default queue name. */
  public static final String DEFAULT_QUEUE = "machinery_tasks";

  /** Seconds results are kept; Go's {@code DefaultResultsExpireIn}. */
  public static final int DEFAULT_RESULTS_EXPIRE_IN = 3600;

  /** Messages larger than this are refused by senders and dead-lettered by workers (16 MiB). */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

  /** Whether task messages must carry Go's own id shapes (see {@link #strictUuids()}). */
  public static final boolean DEFAULT_STRICT_UUIDS = true;

  /** Go's {@code defaultCnf}. */
  public static final Config DEFAULT = new Builder().build();

  private final String broker;
  private final String lock;
  private final String migrateFromBroker;
  private final String migrateFromResultBackend;
  private final String multipleBrokerSeparator;
  private final String defaultQueue;
  private final String resultBackend;
  private final int resultsExpireIn;
  private final AmqpConfig amqp;
  private final SqsConfig sqs;
  private final RedisConfig redis;
  private final DynamoDbConfig dynamoDb;
  private final GcpPubSubConfig gcpPubSub;
  private final boolean noUnixSignals;
  private final boolean tls;
  private final int maxMessageBytes;
  private final boolean strictUuids;
  private final List<QueueBoundSetting> queueBounds;

  private Config(Builder b) {
    broker = b.broker;
    lock = b.lock;
    migrateFromBroker = b.migrateFromBroker;
    migrateFromResultBackend = b.migrateFromResultBackend;
    multipleBrokerSeparator = b.multipleBrokerSeparator;
    defaultQueue = b.defaultQueue;
    resultBackend = b.resultBackend;
    resultsExpireIn = b.resultsExpireIn;
    amqp = b.amqp;
    sqs = b.sqs;
    redis = b.redis;
    dynamoDb = b.dynamoDb;
    gcpPubSub = b.gcpPubSub;
    noUnixSignals = b.noUnixSignals;
    tls = b.tls;
    maxMessageBytes = b.maxMessageBytes;
    strictUuids = b.strictUuids;
    queueBounds = b.queueBounds;
  }

  /**
   * Starts a builder with every setting at Go's default.
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts a builder holding a copy of every setting of this config.
   *
   * @return a builder; changing it leaves this config as it is
   */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /**
   * Reads Go's defaults overlaid with the process environment ({@code BROKER}, {@code
   * DEFAULT_QUEUE}, ...).
   *
   * @return the config
   * @throws IllegalArgumentException when a variable holds a value of the wrong type or out of
   *     range; the message names the variable and the rule
   */
  public static Config fromEnvironment() {
    return ConfigLoader.fromEnvironment(System.getenv());
  }

  /**
   * Reads Go's defaults overlaid with the given variables (for tests and for embedding).
   *
   * @param environment variables by Go's names
   * @return the config
   * @throws IllegalArgumentException when a variable holds a value of the wrong type
   */
  public static Config fromEnvironment(Map<String, String> environment) {
    return ConfigLoader.fromEnvironment(environment);
  }

  /**
   * Reads Go's defaults overlaid with a YAML file (Go's {@code NewFromYaml}). An unknown key (a
   * typo, or a key of another application sharing the file) is logged as a warning and ignored, as
   * Go ignores it. Unlike Go, an empty file, YAML aliases ({@code *name}) and a key given twice are
   * refused; and keys are read without regard to case ({@code Broker} sets the broker, which Go
   * ignores), so two keys that differ only in case ({@code Broker} and {@code broker}) are the same
   * key given twice. The names in {@code amqp.queue_declare_args} and {@code
   * amqp.queue_binding_args} are AMQP argument names and keep their case.
   *
   * @param file the YAML file, with Go's keys
   * @return the config
   * @throws IllegalArgumentException when the file cannot be read, is not valid YAML, is empty,
   *     gives a key twice (or twice in different cases), uses an alias, or holds a value of the
   *     wrong type or out of range; the message names the key and the rule, and never quotes the
   *     file (it may hold passwords)
   */
  public static Config fromYaml(Path file) {
    return ConfigLoader.fromYaml(file);
  }

  /**
   * Returns the broker URL ({@code BROKER}).
   *
   * @return the URL; several separated by {@link #multipleBrokerSeparator()} for failover
   */
  public String broker() {
    return broker;
  }

  /**
   * Returns the lock URL ({@code LOCK}).
   *
   * @return the URL; empty to let the lock module fall back to the backend or broker URL
   */
  public String lock() {
    return lock;
  }

  /**
   * Returns the URL whose lock to use: {@link #lock()}, else Go's rule, the broker's URL; during a
   * migration ({@link #migrateFromBroker()}) the old broker's, which the processes not yet moved
   * take theirs from, so periodic tasks keep one lock across the cluster.
   *
   * @return the lock URL, or the URL a lock falls back to
   */
  public String lockUrl() {
    if (!lock.isBlank()) {
      return lock;
    }
    return migrateFromBroker.isBlank() ? broker : migrateFromBroker;
  }

  /**
   * Returns the broker a migration moves away from ({@code MACHINERY_MIGRATE_FROM_BROKER}, YAML
   * {@code migrate_from_broker}; not Go's): when set, {@link io.machinery.Machinery#connect} builds
   * a {@link io.machinery.MigratingBroker} that sends to {@link #broker()} and consumes from both,
   * so a cluster moves its queues to a new broker without stopping and without losing what waits in
   * the old one.
   *
   * @return the old broker's URL; empty (the default) when no migration is under way
   */
  public String migrateFromBroker() {
    return migrateFromBroker;
  }

  /**
   * Returns the result backend a migration moves away from ({@code
   * MACHINERY_MIGRATE_FROM_RESULT_BACKEND}, YAML {@code migrate_from_result_backend}; not Go's):
   * when set, {@link io.machinery.Machinery#connect} builds a {@link io.machinery.MigratingBackend}
   * that writes to both and reads from the old one, which stays the cluster's record until the move
   * ends.
   *
   * @return the old result backend's URL; empty (the default) when no migration is under way
   */
  public String migrateFromResultBackend() {
    return migrateFromResultBackend;
  }

  /**
   * Returns what separates several broker URLs for failover ({@code MULTIPLE_BROKEN_SEPARATOR},
   * sic, as in Go).
   *
   * @return the separator; empty for a single URL
   */
  public String multipleBrokerSeparator() {
    return multipleBrokerSeparator;
  }

  /**
   * Returns the queue tasks go to when their routing key is empty ({@code DEFAULT_QUEUE}).
   *
   * @return the queue name
   */
  public String defaultQueue() {
    return defaultQueue;
  }

  /**
   * Returns the result backend URL ({@code RESULT_BACKEND}).
   *
   * @return the URL
   */
  public String resultBackend() {
    return resultBackend;
  }

  /**
   * Returns how long results are kept ({@code RESULTS_EXPIRE_IN}), as configured.
   *
   * @return seconds; 0 means {@value #DEFAULT_RESULTS_EXPIRE_IN}
   */
  public int resultsExpireIn() {
    return resultsExpireIn;
  }

  /**
   * Returns how long results are kept, with Go's 0 → 3600 rule applied.
   *
   * @return seconds, at least 1
   */
  public int effectiveResultsExpireIn() {
    return resultsExpireIn > 0 ? resultsExpireIn : DEFAULT_RESULTS_EXPIRE_IN;
  }

  /**
   * Returns how long results are kept, with Go's 0 → 3600 s rule applied.
   *
   * @return {@link #effectiveResultsExpireIn()} as a duration
   */
  public Duration resultsExpiry() {
    return Duration.ofSeconds(effectiveResultsExpireIn());
  }

  /**
   * Returns the AMQP settings ({@code amqp:}).
   *
   * @return the AMQP settings
   */
  public AmqpConfig amqp() {
    return amqp;
  }

  /**
   * Returns the SQS settings ({@code sqs:}).
   *
   * @return the SQS settings
   */
  public SqsConfig sqs() {
    return sqs;
  }

  /**
   * Returns the Redis settings ({@code redis:}).
   *
   * @return the Redis settings
   */
  public RedisConfig redis() {
    return redis;
  }

  /**
   * Returns the DynamoDB settings ({@code dynamodb:}).
   *
   * @return the DynamoDB settings
   */
  public DynamoDbConfig dynamoDb() {
    return dynamoDb;
  }

  /**
   * Returns the GCP Pub/Sub settings (Go's {@code GCPPubSub}, set in code only, as in Go).
   *
   * @return the GCP Pub/Sub settings
   */
  public GcpPubSubConfig gcpPubSub() {
    return gcpPubSub;
  }

  /**
   * Whether workers leave SIGINT/SIGTERM alone ({@code NO_UNIX_SIGNALS}). Unlike Go the default is
   * true: a library does not take over signals unless asked ({@code NO_UNIX_SIGNALS=false} or
   * {@link io.machinery.Worker.Builder#handleSignals(boolean)}).
   *
   * @return true if workers do not handle signals
   */
  public boolean noUnixSignals() {
    return noUnixSignals;
  }

  /**
   * Tells whether connections use TLS even when the URL scheme does not say so.
   *
   * @return true to force TLS
   */
  public boolean tls() {
    return tls;
  }

  /**
   * Returns the largest task message a sender publishes and a worker accepts.
   *
   * @return the limit in bytes
   */
  public int maxMessageBytes() {
    return maxMessageBytes;
  }

  /**
   * Whether a received task message must use Go's id shapes ({@code strict_uuids}, {@code
   * MACHINERY_STRICT_UUIDS}; default {@value #DEFAULT_STRICT_UUIDS}): task UUIDs {@code
   * task_<uuid>}, {@code chord_<uuid>} or a bare UUID, group UUIDs {@code group_<uuid>} or a bare
   * UUID. Ids are raw Redis keys and AMQP queue names, so a message with another id could overwrite
   * keys that are not task states. Set it to false for a Go deployment that assigns its own UUIDs:
   * ids are then only bounded (256 characters, no whitespace or control characters) and kept off
   * reserved keys.
   *
   * @return true to require Go's id shapes
   */
  public boolean strictUuids() {
    return strictUuids;
  }

  /**
   * Returns the queue bounds this config sets ({@code MACHINERY_QUEUE_BOUNDS}, YAML {@code
   * queue_bounds}; not Go's): a {@link io.machinery.Server} built with this config bounds each
   * queue as {@link io.machinery.Server.Builder#bound} does, unless the builder names a bound of
   * its own for that queue.
   *
   * @return the bounds, at most one per queue; empty (the default) for none
   */
  public List<QueueBoundSetting> queueBounds() {
    return queueBounds;
  }

  /**
   * Returns every setting by the environment variable that sets it, with its YAML key and its value
   * in the text that variable takes ({@code 15} for {@code REDIS_READ_TIMEOUT} seconds, {@code
   * emails:2,imports:10000:1m} for {@code MACHINERY_QUEUE_BOUNDS}): what a process runs with, for a
   * log line or {@code machinery config}. URLs with credentials show as scheme and host only, and
   * the Sentinel password as {@code ***}; otherwise {@link #fromEnvironment(Map)} of these values
   * gives this config back.
   *
   * @return the settings, in the README's order
   */
  public List<Setting> settings() {
    return ConfigLoader.settings(this);
  }

  /**
   * One setting as {@link #settings()} lists it.
   *
   * @param variable its environment variable ({@code BROKER})
   * @param yamlKey its YAML key ({@code broker}, {@code redis.read_timeout})
   * @param value its value as the variable takes it, credentials masked; empty when unset
   */
  public record Setting(String variable, String yamlKey, String value) {
    /** Checks that no component is null. */
    public Setting {
      Objects.requireNonNull(variable, "variable");
      Objects.requireNonNull(yamlKey, "yamlKey");
      Objects.requireNonNull(value, "value");
    }
  }

  /**
   * Equal when every setting is equal ({@link ConfigReloader} relies on this to notice any change).
   * A field added to this class must be added here, to {@link #hashCode()} and to {@code
   * ConfigTest}'s field check.
   */
  @Override
  public boolean equals(@Nullable Object o) {
    if (this == o) {
      return true;
    }
    if (!(o instanceof Config c)) {
      return false;
    }
    return broker.equals(c.broker)
        && lock.equals(c.lock)
        && migrateFromBroker.equals(c.migrateFromBroker)
        && migrateFromResultBackend.equals(c.migrateFromResultBackend)
        && multipleBrokerSeparator.equals(c.multipleBrokerSeparator)
        && defaultQueue.equals(c.defaultQueue)
        && resultBackend.equals(c.resultBackend)
        && resultsExpireIn == c.resultsExpireIn
        && amqp.equals(c.amqp)
        && sqs.equals(c.sqs)
        && redis.equals(c.redis)
        && dynamoDb.equals(c.dynamoDb)
        && noUnixSignals == c.noUnixSignals
        && tls == c.tls
        && maxMessageBytes == c.maxMessageBytes
        && strictUuids == c.strictUuids
        && queueBounds.equals(c.queueBounds)
        && gcpPubSub.equals(c.gcpPubSub);
  }

  @Override
  public int hashCode() {
    return Objects.hash(
        broker,
        lock,
        migrateFromBroker,
        migrateFromResultBackend,
        multipleBrokerSeparator,
        defaultQueue,
        resultBackend,
        resultsExpireIn,
        amqp,
        sqs,
        redis,
        dynamoDb,
        noUnixSignals,
        tls,
        maxMessageBytes,
        strictUuids,
        queueBounds,
        gcpPubSub);
  }

  /**
   * The settings without credentials: URLs as scheme, host and port only, the Sentinel password
   * redacted.
   */
  @Override
  public String toString() {
    return "Config{broker="
        + Redaction.redactUrl(broker)
        + ", resultBackend="
        + Redaction.redactUrl(resultBackend)
        + ", lock="
        + Redaction.redactUrl(lock)
        + ", migrateFromBroker="
        + Redaction.redactUrl(migrateFromBroker)
        + ", migrateFromResultBackend="
        + Redaction.redactUrl(migrateFromResultBackend)
        + ", defaultQueue="
        + defaultQueue
        + ", resultsExpireIn="
        + resultsExpireIn
        + ", tls="
        + tls
        + ", maxMessageBytes="
        + maxMessageBytes
        + ", strictUuids="
        + strictUuids
        + (queueBounds.isEmpty() ? "" : ", queueBounds=" + queueBounds)
        + ", amqp="
        + amqp
        + ", redis="
        + redis
        + "}";
  }

  /** Builds a {@link Config}; every field starts at Go's default. Not thread-safe. */
  public static final class Builder {
    private String broker = DEFAULT_BROKER;
    private String lock = "";
    private String migrateFromBroker = "";
    private String migrateFromResultBackend = "";
    private String multipleBrokerSeparator = "";
    private String defaultQueue = DEFAULT_QUEUE;
    private String resultBackend = DEFAULT_RESULT_BACKEND;
    private int resultsExpireIn = DEFAULT_RESULTS_EXPIRE_IN;
    private AmqpConfig amqp = AmqpConfig.DEFAULT;
    private SqsConfig sqs = SqsConfig.DEFAULT;
    private RedisConfig redis = RedisConfig.DEFAULT;
    private DynamoDbConfig dynamoDb = DynamoDbConfig.DEFAULT;
    private GcpPubSubConfig gcpPubSub = GcpPubSubConfig.DEFAULT;
    private boolean noUnixSignals = true;
    private boolean tls;
    private int maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
    private boolean strictUuids = DEFAULT_STRICT_UUIDS;
    private List<QueueBoundSetting> queueBounds = List.of();

    private Builder() {}

    private Builder(Config c) {
      broker = c.broker;
      lock = c.lock;
      migrateFromBroker = c.migrateFromBroker;
      migrateFromResultBackend = c.migrateFromResultBackend;
      multipleBrokerSeparator = c.multipleBrokerSeparator;
      defaultQueue = c.defaultQueue;
      resultBackend = c.resultBackend;
      resultsExpireIn = c.resultsExpireIn;
      amqp = c.amqp;
      sqs = c.sqs;
      redis = c.redis;
      dynamoDb = c.dynamoDb;
      gcpPubSub = c.gcpPubSub;
      noUnixSignals = c.noUnixSignals;
      tls = c.tls;
      maxMessageBytes = c.maxMessageBytes;
      strictUuids = c.strictUuids;
      queueBounds = c.queueBounds;
    }

    /**
     * Sets the queue bounds ({@code MACHINERY_QUEUE_BOUNDS}, see {@link Config#queueBounds()});
     * default none.
     *
     * @param value the bounds, at most one per queue (the empty name is the default queue)
     * @return this builder
     * @throws IllegalArgumentException when two bounds name the same queue
     */
    public Builder queueBounds(List<QueueBoundSetting> value) {
      List<QueueBoundSetting> copy = List.copyOf(value);
      Set<String> queues = new HashSet<>();
      for (QueueBoundSetting bound : copy) {
        if (!queues.add(bound.queue())) {
          throw new IllegalArgumentException("two queue bounds for queue '" + bound.queue() + "'");
        }
      }
      queueBounds = copy;
      return this;
    }

    /**
     * Sets the broker URL ({@code BROKER}); default {@value #DEFAULT_BROKER}.
     *
     * @param value the URL
     * @return this builder
     */
    public Builder broker(String value) {
      broker = Objects.requireNonNull(value, "broker");
      return this;
    }

    /**
     * Sets the lock URL ({@code LOCK}); default empty.
     *
     * @param value the URL
     * @return this builder
     */
    public Builder lock(String value) {
      lock = Objects.requireNonNull(value, "lock");
      return this;
    }

    /**
     * Sets the broker a migration moves away from ({@code MACHINERY_MIGRATE_FROM_BROKER}); default
     * empty, no migration (see {@link Config#migrateFromBroker()}).
     *
     * @param value the old broker's URL, or empty
     * @return this builder
     */
    public Builder migrateFromBroker(String value) {
      migrateFromBroker = Objects.requireNonNull(value, "migrateFromBroker");
      return this;
    }

    /**
     * Sets the result backend a migration moves away from ({@code
     * MACHINERY_MIGRATE_FROM_RESULT_BACKEND}); default empty, no migration (see {@link
     * Config#migrateFromResultBackend()}).
     *
     * @param value the old result backend's URL, or empty
     * @return this builder
     */
    public Builder migrateFromResultBackend(String value) {
      migrateFromResultBackend = Objects.requireNonNull(value, "migrateFromResultBackend");
      return this;
    }

    /**
     * Sets what separates several broker URLs for failover; default empty.
     *
     * @param value the separator
     * @return this builder
     */
    public Builder multipleBrokerSeparator(String value) {
      multipleBrokerSeparator = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Sets the queue tasks go to when their routing key is empty; default {@value #DEFAULT_QUEUE}.
     * Go takes any text, but a blank name is a mistake (an unfilled {@code DEFAULT_QUEUE=} line
     * with a space): SQS and Pub/Sub refuse it and Redis and RabbitMQ would make a queue nobody
     * means to use.
     *
     * @param value the queue name
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is empty or only whitespace
     */
    public Builder defaultQueue(String value) {
      if (Objects.requireNonNull(value, "defaultQueue").isBlank()) {
        throw new IllegalArgumentException(
            "Config.defaultQueue must not be empty or blank, was '" + value + "'");
      }
      defaultQueue = value;
      return this;
    }

    /**
     * Sets the result backend URL ({@code RESULT_BACKEND}); default {@value
     * #DEFAULT_RESULT_BACKEND}.
     *
     * @param value the URL
     * @return this builder
     */
    public Builder resultBackend(String value) {
      resultBackend = Objects.requireNonNull(value, "resultBackend");
      return this;
    }

    /**
     * Sets how long results are kept, in Go's unit; default {@value #DEFAULT_RESULTS_EXPIRE_IN}.
     *
     * @param seconds seconds; 0 means 3600, as in Go
     * @return this builder
     * @throws IllegalArgumentException if {@code seconds} is negative
     */
    public Builder resultsExpireIn(int seconds) {
      if (seconds < 0) {
        throw new IllegalArgumentException(
            "results_expire_in must be >= 0 seconds (0 means 3600), was " + seconds);
      }
      resultsExpireIn = seconds;
      return this;
    }

    /**
     * Sets how long results are kept, as {@link #resultsExpireIn(int)} does, rounded up to whole
     * seconds.
     *
     * @param value the duration; zero means 3600 s, as in Go
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative or over {@link
     *     Integer#MAX_VALUE} seconds
     */
    public Builder resultsExpiry(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException(
            "Config.resultsExpiry must not be negative, was " + value);
      }
      long seconds = value.getSeconds() + (value.getNano() > 0 ? 1 : 0);
      if (seconds > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            "Config.resultsExpiry must be at most " + Integer.MAX_VALUE + " seconds, was " + value);
      }
      return resultsExpireIn((int) seconds);
    }

    /**
     * Sets the AMQP settings; default {@link AmqpConfig#DEFAULT}.
     *
     * @param value the settings
     * @return this builder
     */
    public Builder amqp(AmqpConfig value) {
      amqp = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Sets the SQS settings; default {@link SqsConfig#DEFAULT}.
     *
     * @param value the settings
     * @return this builder
     */
    public Builder sqs(SqsConfig value) {
      sqs = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Sets the Redis settings; default {@link RedisConfig#DEFAULT}.
     *
     * @param value the settings
     * @return this builder
     */
    public Builder redis(RedisConfig value) {
      redis = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Sets the DynamoDB settings; default {@link DynamoDbConfig#DEFAULT}.
     *
     * @param value the settings
     * @return this builder
     */
    public Builder dynamoDb(DynamoDbConfig value) {
      dynamoDb = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Sets the GCP Pub/Sub options (Go's {@code GCPPubSub}); default {@link
     * GcpPubSubConfig#DEFAULT}.
     *
     * @param value the options
     * @return this builder
     */
    public Builder gcpPubSub(GcpPubSubConfig value) {
      gcpPubSub = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Sets whether workers leave SIGINT/SIGTERM alone; default true (see {@link
     * Config#noUnixSignals()}).
     *
     * @param value true to leave signals alone
     * @return this builder
     */
    public Builder noUnixSignals(boolean value) {
      noUnixSignals = value;
      return this;
    }

    /**
     * Sets whether connections use TLS even when the URL scheme does not say so; default false.
     *
     * @param value true to force TLS
     * @return this builder
     */
    public Builder tls(boolean value) {
      tls = value;
      return this;
    }

    /**
     * Sets the largest task message a sender publishes and a worker accepts; default {@value
     * #DEFAULT_MAX_MESSAGE_BYTES}.
     *
     * @param value the limit in bytes, at least 1024
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is under 1024
     */
    public Builder maxMessageBytes(int value) {
      if (value < 1024) {
        throw new IllegalArgumentException(
            "Config.maxMessageBytes must be at least 1024 bytes, was " + value);
      }
      maxMessageBytes = value;
      return this;
    }

    /**
     * Sets whether received messages must use Go's id shapes; default {@value
     * #DEFAULT_STRICT_UUIDS} (see {@link Config#strictUuids()}).
     *
     * @param value true to require them
     * @return this builder
     */
    public Builder strictUuids(boolean value) {
      strictUuids = value;
      return this;
    }

    /**
     * Builds the config.
     *
     * @return an immutable config
     */
    public Config build() {
      return new Config(this);
    }
  }
}
