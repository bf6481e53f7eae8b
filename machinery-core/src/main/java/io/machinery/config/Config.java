package io.machinery.config;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a server, its broker and its backend are configured with: Go's {@code config.Config}, with the
 * same YAML keys and environment variable names (spec §6).
 *
 * <p>Immutable; {@link #toBuilder()} copies. {@link #fromEnvironment()} and {@link #fromYaml(Path)} start from
 * Go's defaults ({@link #DEFAULT}). Unlike Go, TLS is never switched on by loading a config: only a {@code
 * rediss://} or {@code amqps://} URL or {@link Builder#tls(boolean)} enables it; and a YAML file has no size
 * limit.
 *
 * <pre>{@code
 * Config config = Config.builder().broker("redis://127.0.0.1:6379").resultBackend("redis://127.0.0.1:6379")
 *     .defaultQueue("machinery_tasks").resultsExpireIn(3600).build();
 * }</pre>
 */
public final class Config {
  public static final String DEFAULT_BROKER = "amqp://guest:guest@localhost:5672/";
  public static final String DEFAULT_RESULT_BACKEND = "amqp://guest:guest@localhost:5672/";
  public static final String DEFAULT_QUEUE = "machinery_tasks";
  /** Seconds results are kept; Go's {@code DefaultResultsExpireIn}. */
  public static final int DEFAULT_RESULTS_EXPIRE_IN = 3600;
  /** Messages larger than this are refused by senders and dead-lettered by workers (16 MiB). */
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

  /** Go's {@code defaultCnf}. */
  public static final Config DEFAULT = new Builder().build();

  private final String broker;
  private final String lock;
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

  private Config(Builder b) {
    broker = b.broker;
    lock = b.lock;
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
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Go's defaults overlaid with the process environment ({@code BROKER}, {@code DEFAULT_QUEUE}, ...). */
  public static Config fromEnvironment() {
    return ConfigLoader.fromEnvironment(System.getenv());
  }

  /** Go's defaults overlaid with the given variables (for tests and for embedding). */
  public static Config fromEnvironment(Map<String, String> environment) {
    return ConfigLoader.fromEnvironment(environment);
  }

  /**
   * Go's defaults overlaid with a YAML file.
   *
   * @throws IllegalArgumentException when the file cannot be read or holds an unknown key or a wrong type
   */
  public static Config fromYaml(Path file) {
    return ConfigLoader.fromYaml(file);
  }

  /** The broker URL ({@code BROKER}). */
  public String broker() { return broker; }
  /** The lock URL ({@code LOCK}). */
  public String lock() { return lock; }
  /** Separates several broker URLs for failover ({@code MULTIPLE_BROKEN_SEPARATOR}, sic, as in Go). */
  public String multipleBrokerSeparator() { return multipleBrokerSeparator; }
  /** The queue tasks go to when their routing key is empty ({@code DEFAULT_QUEUE}). */
  public String defaultQueue() { return defaultQueue; }
  /** The result backend URL ({@code RESULT_BACKEND}). */
  public String resultBackend() { return resultBackend; }
  /** Seconds results are kept ({@code RESULTS_EXPIRE_IN}); 0 means {@value #DEFAULT_RESULTS_EXPIRE_IN}. */
  public int resultsExpireIn() { return resultsExpireIn; }
  /** {@link #resultsExpireIn()} with Go's 0 → 3600 rule applied. */
  public int effectiveResultsExpireIn() { return resultsExpireIn > 0 ? resultsExpireIn : DEFAULT_RESULTS_EXPIRE_IN; }
  public AmqpConfig amqp() { return amqp; }
  public SqsConfig sqs() { return sqs; }
  public RedisConfig redis() { return redis; }
  public DynamoDbConfig dynamoDb() { return dynamoDb; }
  /** Go's {@code GCPPubSub} (set in code only, as in Go). */
  public GcpPubSubConfig gcpPubSub() { return gcpPubSub; }
  /**
   * Whether workers leave SIGINT/SIGTERM alone ({@code NO_UNIX_SIGNALS}). Unlike Go the default is true: a
   * library does not take over signals unless asked ({@code NO_UNIX_SIGNALS=false} or {@link
   * io.machinery.Worker.Builder#handleSignals(boolean)}).
   */
  public boolean noUnixSignals() { return noUnixSignals; }
  /** Whether connections use TLS even when the URL scheme does not say so. */
  public boolean tls() { return tls; }
  /** The largest task message, in bytes, a sender publishes and a worker accepts. */
  public int maxMessageBytes() { return maxMessageBytes; }

  @Override
  public String toString() {
    return "Config{broker=" + Redaction.redactUrl(broker) + ", resultBackend=" + Redaction.redactUrl(resultBackend)
        + ", defaultQueue=" + defaultQueue + ", resultsExpireIn=" + resultsExpireIn + "}";
  }

  /** Builds a {@link Config}; every field starts at Go's default. Not thread-safe. */
  public static final class Builder {
    private String broker = DEFAULT_BROKER;
    private String lock = "";
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

    private Builder() {}

    private Builder(Config c) {
      broker = c.broker;
      lock = c.lock;
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
    }

    public Builder broker(String value) { broker = Objects.requireNonNull(value, "broker"); return this; }
    public Builder lock(String value) { lock = Objects.requireNonNull(value, "lock"); return this; }
    public Builder multipleBrokerSeparator(String value) { multipleBrokerSeparator = Objects.requireNonNull(value); return this; }
    public Builder defaultQueue(String value) {
      if (Objects.requireNonNull(value, "defaultQueue").isEmpty()) {
        throw new IllegalArgumentException("default_queue must not be empty");
      }
      defaultQueue = value;
      return this;
    }
    public Builder resultBackend(String value) { resultBackend = Objects.requireNonNull(value, "resultBackend"); return this; }
    public Builder resultsExpireIn(int seconds) {
      if (seconds < 0) {
        throw new IllegalArgumentException("results_expire_in must be >= 0 seconds (0 means 3600), was " + seconds);
      }
      resultsExpireIn = seconds;
      return this;
    }
    public Builder amqp(AmqpConfig value) { amqp = Objects.requireNonNull(value); return this; }
    public Builder sqs(SqsConfig value) { sqs = Objects.requireNonNull(value); return this; }
    public Builder redis(RedisConfig value) { redis = Objects.requireNonNull(value); return this; }
    public Builder dynamoDb(DynamoDbConfig value) { dynamoDb = Objects.requireNonNull(value); return this; }
    public Builder gcpPubSub(GcpPubSubConfig value) { gcpPubSub = Objects.requireNonNull(value); return this; }
    public Builder noUnixSignals(boolean value) { noUnixSignals = value; return this; }
    public Builder tls(boolean value) { tls = value; return this; }
    public Builder maxMessageBytes(int value) {
      if (value < 1024) {
        throw new IllegalArgumentException("max message size must be at least 1024 bytes, was " + value);
      }
      maxMessageBytes = value;
      return this;
    }

    public Config build() {
      return new Config(this);
    }
  }
}
