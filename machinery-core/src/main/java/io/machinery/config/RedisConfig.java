package io.machinery.config;

import io.machinery.internal.GoDurations;
import java.time.Duration;
import java.util.Objects;

/**
 * Redis settings (Go's {@code config.RedisConfig}); YAML section {@code redis}, environment {@code
 * REDIS_*}. Pool sizes of Go's redigo pool have no meaning for Lettuce's shared connections and are
 * kept only so Go configs load.
 *
 * @param readTimeout command timeout ({@code REDIS_READ_TIMEOUT} seconds, default 15 s)
 * @param writeTimeout kept for Go configs ({@code REDIS_WRITE_TIMEOUT})
 * @param connectTimeout connect timeout ({@code REDIS_CONNECT_TIMEOUT} seconds, default 15 s)
 * @param normalTasksPollPeriod how long one blocking pop waits ({@code
 *     REDIS_NORMAL_TASKS_POLL_PERIOD} ms, default 1000 ms)
 * @param delayedTasksPollPeriod how often due delayed tasks are moved ({@code
 *     REDIS_DELAYED_TASKS_POLL_PERIOD} ms, default 500 ms)
 * @param delayedTasksKey the shared delayed-task ZSET ({@code REDIS_DELAYED_TASKS_KEY}, default
 *     {@value #DEFAULT_DELAYED_TASKS_KEY})
 * @param clientName the connection name ({@code REDIS_CLIENT_NAME})
 * @param masterName Sentinel master name ({@code REDIS_MASTER_NAME}); set means Sentinel
 * @param clusterEnabled Redis Cluster ({@code REDIS_CLUSTER_ENABLED})
 * @param sentinelPassword Sentinel password ({@code REDIS_SENTINEL_PASSWORD}); never shown by
 *     {@link #toString()}
 * @param replicaAcks not Go's: how many replicas must acknowledge each send of the Redis broker
 *     (Redis {@code WAIT}; {@code REDIS_REPLICA_ACKS}, default 0 = off); the broker builder's
 *     {@code replicaAcks} wins over it. Rule: {@link #checkReplicaAcks}
 * @param replicaAckTimeout not Go's: how long a send waits for them ({@code
 *     REDIS_REPLICA_ACK_TIMEOUT} ms, default 0); at least 1 ms when {@code replicaAcks} is on, and
 *     below {@code readTimeout} (checked by the broker, which knows its command timeout)
 *     <p>Build one with {@link #builder()} or change one with {@link #toBuilder()}; the canonical
 *     constructor and the {@code with…} methods are kept for existing callers.
 *     <pre>{@code
 * RedisConfig redis = RedisConfig.builder().clusterEnabled(true).readTimeout(Duration.ofSeconds(5)).build();
 * }</pre>
 *     <p>Size: Go's Redis options, each with a named default, a builder setter and a copy-with
 *     method; no behaviour beyond validation.
 */
public record RedisConfig(
    int maxIdle,
    int maxActive,
    Duration idleTimeout,
    boolean waitForConnection,
    Duration readTimeout,
    Duration writeTimeout,
    Duration connectTimeout,
    Duration normalTasksPollPeriod,
    Duration delayedTasksPollPeriod,
    String delayedTasksKey,
    String clientName,
    String masterName,
    boolean clusterEnabled,
    String sentinelPassword,
    int replicaAcks,
    Duration replicaAckTimeout) {

  public static final int DEFAULT_MAX_IDLE = 3;
  public static final int DEFAULT_MAX_ACTIVE = 0;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(240);
  public static final boolean DEFAULT_WAIT_FOR_CONNECTION = false;
  public static final Duration DEFAULT_READ_TIMEOUT = Duration.ofSeconds(15);
  public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ofSeconds(15);
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(15);
  public static final String DEFAULT_DELAYED_TASKS_KEY = "delayed_tasks";
  public static final Duration DEFAULT_NORMAL_TASKS_POLL_PERIOD = Duration.ofMillis(1000);
  public static final Duration DEFAULT_DELAYED_TASKS_POLL_PERIOD = Duration.ofMillis(500);

  /** Sends are not followed by {@code WAIT} unless asked. */
  public static final int DEFAULT_REPLICA_ACKS = 0;

  /** No timeout: one must be given with {@code replicaAcks} (no default fits every deployment). */
  public static final Duration DEFAULT_REPLICA_ACK_TIMEOUT = Duration.ZERO;

  /** Go's defaults. */
  public static final RedisConfig DEFAULT =
      new RedisConfig(
          DEFAULT_MAX_IDLE,
          DEFAULT_MAX_ACTIVE,
          DEFAULT_IDLE_TIMEOUT,
          DEFAULT_WAIT_FOR_CONNECTION,
          DEFAULT_READ_TIMEOUT,
          DEFAULT_WRITE_TIMEOUT,
          DEFAULT_CONNECT_TIMEOUT,
          DEFAULT_NORMAL_TASKS_POLL_PERIOD,
          DEFAULT_DELAYED_TASKS_POLL_PERIOD,
          DEFAULT_DELAYED_TASKS_KEY,
          "",
          "",
          false,
          "",
          DEFAULT_REPLICA_ACKS,
          DEFAULT_REPLICA_ACK_TIMEOUT);

  /**
   * Checks the values.
   *
   * @throws IllegalArgumentException when a pool size or a timeout is negative, {@code clientName}
   *     holds a character Redis refuses in a client name, {@code masterName} is blank but not empty
   *     or has whitespace at either end, or {@code replicaAcks} and {@code replicaAckTimeout} break
   *     {@link #checkReplicaAcks}
   */
  public RedisConfig {
    checkPoolSize("maxIdle", maxIdle, "no idle connections kept");
    checkPoolSize("maxActive", maxActive, "no limit");
    checkClientName(clientName);
    checkMasterName(masterName);
    idleTimeout = checkTimeout("idleTimeout", idleTimeout);
    readTimeout = checkTimeout("readTimeout", readTimeout);
    writeTimeout = checkTimeout("writeTimeout", writeTimeout);
    connectTimeout = checkTimeout("connectTimeout", connectTimeout);
    Objects.requireNonNull(normalTasksPollPeriod);
    Objects.requireNonNull(delayedTasksPollPeriod);
    // Go treats a poll period <= 0 as its default.
    if (normalTasksPollPeriod.isNegative() || normalTasksPollPeriod.isZero()) {
      normalTasksPollPeriod = DEFAULT_NORMAL_TASKS_POLL_PERIOD;
    }
    if (delayedTasksPollPeriod.isNegative() || delayedTasksPollPeriod.isZero()) {
      delayedTasksPollPeriod = DEFAULT_DELAYED_TASKS_POLL_PERIOD;
    }
    if (delayedTasksKey == null || delayedTasksKey.isEmpty()) {
      delayedTasksKey = DEFAULT_DELAYED_TASKS_KEY;
    }
    Objects.requireNonNull(clientName);
    Objects.requireNonNull(masterName);
    Objects.requireNonNull(sentinelPassword);
    checkReplicaAcks(replicaAcks, replicaAckTimeout);
  }

  /**
   * The settings before {@code replicaAcks} and {@code replicaAckTimeout}, which are off; kept for
   * existing callers.
   *
   * @throws IllegalArgumentException as the canonical constructor
   */
  public RedisConfig(
      int maxIdle,
      int maxActive,
      Duration idleTimeout,
      boolean waitForConnection,
      Duration readTimeout,
      Duration writeTimeout,
      Duration connectTimeout,
      Duration normalTasksPollPeriod,
      Duration delayedTasksPollPeriod,
      String delayedTasksKey,
      String clientName,
      String masterName,
      boolean clusterEnabled,
      String sentinelPassword) {
    this(
        maxIdle,
        maxActive,
        idleTimeout,
        waitForConnection,
        readTimeout,
        writeTimeout,
        connectTimeout,
        normalTasksPollPeriod,
        delayedTasksPollPeriod,
        delayedTasksKey,
        clientName,
        masterName,
        clusterEnabled,
        sentinelPassword,
        DEFAULT_REPLICA_ACKS,
        DEFAULT_REPLICA_ACK_TIMEOUT);
  }

  /**
   * The rule for replica acknowledgement of sends, wherever it is set ({@link Builder#replicaAcks},
   * the environment, YAML, the Redis broker's builder): {@code replicas} is 0 (off) or more; when
   * on, {@code timeout} is at least 1 ms ({@code WAIT}'s timeout is in whole milliseconds, and 0
   * would wait for ever); a timeout is never negative.
   *
   * @param replicas how many replicas must acknowledge each send, 0 for off
   * @param timeout how long a send waits for them
   * @throws IllegalArgumentException when a value breaks the rule, naming the setting (and its
   *     environment variable and YAML key) and what to change
   */
  public static void checkReplicaAcks(int replicas, Duration timeout) {
    checkReplicaCount(replicas);
    checkAckTimeout(timeout);
    if (replicas > 0 && timeout.toMillis() < 1) {
      // not refused by either setter: the loaders set the two one after the other
      throw new IllegalArgumentException(
          "RedisConfig.replicaAckTimeout (REDIS_REPLICA_ACK_TIMEOUT in ms, YAML"
              + " redis.replica_ack_timeout) must be at least 1 ms when RedisConfig.replicaAcks"
              + " (REDIS_REPLICA_ACKS, YAML redis.replica_acks) is on (it is "
              + replicas
              + "): Redis' WAIT would wait for ever with 0; was "
              + GoDurations.format(timeout));
    }
  }

  private static int checkReplicaCount(int replicas) {
    return Checks.notNegative(
        "RedisConfig.replicaAcks",
        replicas,
        "how many replicas must acknowledge each send; 0 turns it off");
  }

  private static Duration checkAckTimeout(Duration timeout) {
    return Checks.notNegative(
        "RedisConfig.replicaAckTimeout", Objects.requireNonNull(timeout, "replicaAckTimeout"));
  }

  /**
   * A size of Go's redigo pool. Not used here (Lettuce shares one connection), but a Go worker
   * reading the same config sizes its pool by it: zero has a meaning there, a negative size none.
   *
   * @param zero what zero means to Go, for the message
   */
  private static int checkPoolSize(String name, int value, String zero) {
    return Checks.notNegative("RedisConfig." + name, value, "0 means " + zero + " to Go's pool");
  }

  /**
   * Redis refuses a client name with spaces, newlines or other characters outside {@code '!'} to
   * {@code '~'} ({@code CLIENT SETNAME}), so every connection would fail; empty sets none.
   */
  private static String checkClientName(String value) {
    Objects.requireNonNull(value, "clientName");
    if (value.chars().anyMatch(c -> c < '!' || c > '~')) {
      throw new IllegalArgumentException(
          "RedisConfig.clientName must hold only the characters '!' to '~', no spaces or newlines"
              + " (Redis refuses the name in CLIENT SETNAME and every connection would fail), was '"
              + value
              + "'");
    }
    return value;
  }

  /**
   * Empty means no Sentinel. A blank or padded name would ask the Sentinels for a master none of
   * them monitors (they match names exactly), so the first connection would fail.
   */
  private static String checkMasterName(String value) {
    Objects.requireNonNull(value, "masterName");
    if (!value.isEmpty() && (value.isBlank() || !value.strip().equals(value))) {
      throw new IllegalArgumentException(
          "RedisConfig.masterName must be empty (no Sentinel) or a master's name without spaces at"
              + " either end (Sentinels match it exactly), was '"
              + value
              + "'");
    }
    return value;
  }

  /** A timeout is handed to the client: zero is Go's "none", negative is a mistake. */
  private static Duration checkTimeout(String name, Duration value) {
    return Checks.notNegative("RedisConfig." + name, Objects.requireNonNull(value, name));
  }

  public RedisConfig withNormalTasksPollPeriod(Duration value) {
    return toBuilder().normalTasksPollPeriod(value).build();
  }

  public RedisConfig withDelayedTasksPollPeriod(Duration value) {
    return toBuilder().delayedTasksPollPeriod(value).build();
  }

  public RedisConfig withDelayedTasksKey(String value) {
    return toBuilder().delayedTasksKey(value).build();
  }

  public RedisConfig withClusterEnabled(boolean value) {
    return toBuilder().clusterEnabled(value).build();
  }

  public RedisConfig withMasterName(String value) {
    return toBuilder().masterName(value).build();
  }

  public RedisConfig withReadTimeout(Duration value) {
    return toBuilder().readTimeout(value).build();
  }

  public RedisConfig withConnectTimeout(Duration value) {
    return toBuilder().connectTimeout(value).build();
  }

  public RedisConfig withClientName(String value) {
    return toBuilder().clientName(value).build();
  }

  public RedisConfig withSentinelPassword(String value) {
    return toBuilder().sentinelPassword(value).build();
  }

  /** A builder starting from Go's defaults ({@link #DEFAULT}). */
  public static Builder builder() {
    return new Builder(DEFAULT);
  }

  /** A builder starting from this config. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Every setting; the Sentinel password only as {@code <redacted>} when set. */
  @Override
  public String toString() {
    return "RedisConfig[maxIdle="
        + maxIdle
        + ", maxActive="
        + maxActive
        + ", idleTimeout="
        + idleTimeout
        + ", waitForConnection="
        + waitForConnection
        + ", readTimeout="
        + readTimeout
        + ", writeTimeout="
        + writeTimeout
        + ", connectTimeout="
        + connectTimeout
        + ", normalTasksPollPeriod="
        + normalTasksPollPeriod
        + ", delayedTasksPollPeriod="
        + delayedTasksPollPeriod
        + ", delayedTasksKey="
        + delayedTasksKey
        + ", clientName="
        + clientName
        + ", masterName="
        + masterName
        + ", clusterEnabled="
        + clusterEnabled
        + ", sentinelPassword="
        + (sentinelPassword.isEmpty() ? "" : "<redacted>")
        + ", replicaAcks="
        + replicaAcks
        + ", replicaAckTimeout="
        + replicaAckTimeout
        + "]";
  }

  /**
   * Builds a {@link RedisConfig}. A timeout setter refuses a negative value at once; Go's "0 means
   * default" rules (poll periods, delayed-tasks key) and the rule between {@code replicaAcks} and
   * {@code replicaAckTimeout} ({@link RedisConfig#checkReplicaAcks}) apply in {@link #build()}.
   */
  public static final class Builder {
    private int maxIdle;
    private int maxActive;
    private Duration idleTimeout;
    private boolean waitForConnection;
    private Duration readTimeout;
    private Duration writeTimeout;
    private Duration connectTimeout;
    private Duration normalTasksPollPeriod;
    private Duration delayedTasksPollPeriod;
    private String delayedTasksKey;
    private String clientName;
    private String masterName;
    private boolean clusterEnabled;
    private String sentinelPassword;
    private int replicaAcks;
    private Duration replicaAckTimeout;

    private Builder(RedisConfig c) {
      maxIdle = c.maxIdle;
      maxActive = c.maxActive;
      idleTimeout = c.idleTimeout;
      waitForConnection = c.waitForConnection;
      readTimeout = c.readTimeout;
      writeTimeout = c.writeTimeout;
      connectTimeout = c.connectTimeout;
      normalTasksPollPeriod = c.normalTasksPollPeriod;
      delayedTasksPollPeriod = c.delayedTasksPollPeriod;
      delayedTasksKey = c.delayedTasksKey;
      clientName = c.clientName;
      masterName = c.masterName;
      clusterEnabled = c.clusterEnabled;
      sentinelPassword = c.sentinelPassword;
      replicaAcks = c.replicaAcks;
      replicaAckTimeout = c.replicaAckTimeout;
    }

    /**
     * Kept for Go configs ({@code REDIS_MAX_IDLE}): the most idle connections Go's redigo pool
     * keeps, 0 for none. Not used here: Lettuce shares one connection.
     *
     * @param value 0 or more
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder maxIdle(int value) {
      maxIdle = checkPoolSize("maxIdle", value, "no idle connections kept");
      return this;
    }

    /**
     * Kept for Go configs ({@code REDIS_MAX_ACTIVE}): the most connections Go's redigo pool opens,
     * 0 for no limit. Not used here: Lettuce shares one connection.
     *
     * @param value 0 or more
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder maxActive(int value) {
      maxActive = checkPoolSize("maxActive", value, "no limit");
      return this;
    }

    /**
     * Kept for Go configs ({@code REDIS_IDLE_TIMEOUT}).
     *
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder idleTimeout(Duration value) {
      idleTimeout = checkTimeout("idleTimeout", value);
      return this;
    }

    /** Kept for Go configs ({@code REDIS_WAIT}). */
    public Builder waitForConnection(boolean value) {
      waitForConnection = value;
      return this;
    }

    /**
     * The command timeout ({@code REDIS_READ_TIMEOUT}).
     *
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder readTimeout(Duration value) {
      readTimeout = checkTimeout("readTimeout", value);
      return this;
    }

    /**
     * Kept for Go configs ({@code REDIS_WRITE_TIMEOUT}).
     *
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder writeTimeout(Duration value) {
      writeTimeout = checkTimeout("writeTimeout", value);
      return this;
    }

    /**
     * The connect timeout ({@code REDIS_CONNECT_TIMEOUT}).
     *
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder connectTimeout(Duration value) {
      connectTimeout = checkTimeout("connectTimeout", value);
      return this;
    }

    /** Zero or negative means the default, as in Go. */
    public Builder normalTasksPollPeriod(Duration value) {
      normalTasksPollPeriod = Objects.requireNonNull(value);
      return this;
    }

    /** Zero or negative means the default, as in Go. */
    public Builder delayedTasksPollPeriod(Duration value) {
      delayedTasksPollPeriod = Objects.requireNonNull(value);
      return this;
    }

    /** Empty means {@value RedisConfig#DEFAULT_DELAYED_TASKS_KEY}. */
    public Builder delayedTasksKey(String value) {
      delayedTasksKey = Objects.requireNonNull(value, "delayedTasksKey");
      return this;
    }

    /**
     * Sets the connection name ({@code REDIS_CLIENT_NAME}); empty sets none.
     *
     * @param value the name: the characters {@code '!'} to {@code '~'} only
     * @return this builder
     * @throws IllegalArgumentException if {@code value} holds a space, a newline or another
     *     character Redis refuses in {@code CLIENT SETNAME}
     */
    public Builder clientName(String value) {
      clientName = checkClientName(value);
      return this;
    }

    /**
     * Sets the Sentinel master name ({@code REDIS_MASTER_NAME}); set means Sentinel.
     *
     * @param value the name, or empty for no Sentinel
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is blank but not empty, or has whitespace
     *     at either end
     */
    public Builder masterName(String value) {
      masterName = checkMasterName(value);
      return this;
    }

    public Builder clusterEnabled(boolean value) {
      clusterEnabled = value;
      return this;
    }

    public Builder sentinelPassword(String value) {
      sentinelPassword = Objects.requireNonNull(value, "sentinelPassword");
      return this;
    }

    /**
     * Not Go's: how many replicas must acknowledge each send of the Redis broker ({@code
     * REDIS_REPLICA_ACKS}), default 0 = off; with {@link #replicaAckTimeout}. The Redis broker's
     * {@code RedisBroker.Builder.replicaAcks}, when called, wins over both (its Javadoc has what it
     * guarantees and costs).
     *
     * @param value 0 (off) or more
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder replicaAcks(int value) {
      replicaAcks = checkReplicaCount(value);
      return this;
    }

    /**
     * Not Go's: how long a send waits for {@link #replicaAcks} replicas ({@code
     * REDIS_REPLICA_ACK_TIMEOUT} ms); at least 1 ms when they are on, checked by {@link #build()}.
     *
     * @param value 0 or more
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder replicaAckTimeout(Duration value) {
      replicaAckTimeout = checkAckTimeout(value);
      return this;
    }

    /**
     * The config.
     *
     * @throws IllegalArgumentException when {@link #replicaAcks} is on without a {@link
     *     #replicaAckTimeout} of at least 1 ms
     */
    public RedisConfig build() {
      return new RedisConfig(
          maxIdle,
          maxActive,
          idleTimeout,
          waitForConnection,
          readTimeout,
          writeTimeout,
          connectTimeout,
          normalTasksPollPeriod,
          delayedTasksPollPeriod,
          delayedTasksKey,
          clientName,
          masterName,
          clusterEnabled,
          sentinelPassword,
          replicaAcks,
          replicaAckTimeout);
    }
  }
}
