package io.machinery.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Redis settings (Go's {@code config.RedisConfig}); YAML section {@code redis}, environment {@code REDIS_*}.
 * Pool sizes of Go's redigo pool have no meaning for Lettuce's shared connections and are kept only so Go
 * configs load.
 *
 * @param readTimeout command timeout ({@code REDIS_READ_TIMEOUT} seconds, default 15 s)
 * @param writeTimeout kept for Go configs ({@code REDIS_WRITE_TIMEOUT})
 * @param connectTimeout connect timeout ({@code REDIS_CONNECT_TIMEOUT} seconds, default 15 s)
 * @param normalTasksPollPeriod how long one blocking pop waits ({@code REDIS_NORMAL_TASKS_POLL_PERIOD} ms,
 *     default 1000 ms)
 * @param delayedTasksPollPeriod how often due delayed tasks are moved ({@code REDIS_DELAYED_TASKS_POLL_PERIOD}
 *     ms, default 500 ms)
 * @param delayedTasksKey the shared delayed-task ZSET ({@code REDIS_DELAYED_TASKS_KEY}, default {@value
 *     #DEFAULT_DELAYED_TASKS_KEY})
 * @param clientName the connection name ({@code REDIS_CLIENT_NAME})
 * @param masterName Sentinel master name ({@code REDIS_MASTER_NAME}); set means Sentinel
 * @param clusterEnabled Redis Cluster ({@code REDIS_CLUSTER_ENABLED})
 * @param sentinelPassword Sentinel password ({@code REDIS_SENTINEL_PASSWORD})
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
    String sentinelPassword) {

  public static final String DEFAULT_DELAYED_TASKS_KEY = "delayed_tasks";
  public static final Duration DEFAULT_NORMAL_TASKS_POLL_PERIOD = Duration.ofMillis(1000);
  public static final Duration DEFAULT_DELAYED_TASKS_POLL_PERIOD = Duration.ofMillis(500);

  /** Go's defaults. */
  public static final RedisConfig DEFAULT =
      new RedisConfig(3, 0, Duration.ofSeconds(240), false, Duration.ofSeconds(15), Duration.ofSeconds(15),
          Duration.ofSeconds(15), DEFAULT_NORMAL_TASKS_POLL_PERIOD, DEFAULT_DELAYED_TASKS_POLL_PERIOD,
          DEFAULT_DELAYED_TASKS_KEY, "", "", false, "");

  public RedisConfig {
    Objects.requireNonNull(idleTimeout);
    Objects.requireNonNull(readTimeout);
    Objects.requireNonNull(writeTimeout);
    Objects.requireNonNull(connectTimeout);
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
  }

  public RedisConfig withNormalTasksPollPeriod(Duration value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, connectTimeout, value, delayedTasksPollPeriod, delayedTasksKey, clientName, masterName, clusterEnabled, sentinelPassword); }
  public RedisConfig withDelayedTasksPollPeriod(Duration value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, connectTimeout, normalTasksPollPeriod, value, delayedTasksKey, clientName, masterName, clusterEnabled, sentinelPassword); }
  public RedisConfig withDelayedTasksKey(String value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, connectTimeout, normalTasksPollPeriod, delayedTasksPollPeriod, value, clientName, masterName, clusterEnabled, sentinelPassword); }
  public RedisConfig withClusterEnabled(boolean value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, connectTimeout, normalTasksPollPeriod, delayedTasksPollPeriod, delayedTasksKey, clientName, masterName, value, sentinelPassword); }
  public RedisConfig withMasterName(String value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, connectTimeout, normalTasksPollPeriod, delayedTasksPollPeriod, delayedTasksKey, clientName, value, clusterEnabled, sentinelPassword); }
  public RedisConfig withReadTimeout(Duration value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, value, writeTimeout, connectTimeout, normalTasksPollPeriod, delayedTasksPollPeriod, delayedTasksKey, clientName, masterName, clusterEnabled, sentinelPassword); }
  public RedisConfig withConnectTimeout(Duration value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, value, normalTasksPollPeriod, delayedTasksPollPeriod, delayedTasksKey, clientName, masterName, clusterEnabled, sentinelPassword); }
  public RedisConfig withClientName(String value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, connectTimeout, normalTasksPollPeriod, delayedTasksPollPeriod, delayedTasksKey, value, masterName, clusterEnabled, sentinelPassword); }
  public RedisConfig withSentinelPassword(String value) { return new RedisConfig(maxIdle, maxActive, idleTimeout, waitForConnection, readTimeout, writeTimeout, connectTimeout, normalTasksPollPeriod, delayedTasksPollPeriod, delayedTasksKey, clientName, masterName, clusterEnabled, value); }
}
