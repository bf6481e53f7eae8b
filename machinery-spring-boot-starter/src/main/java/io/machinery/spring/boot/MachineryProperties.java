package io.machinery.spring.boot;

import io.machinery.QueueBound;
import io.machinery.TaskBreaker;
import io.machinery.Worker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code machinery.*} properties: Go Machinery's YAML config keys ({@code broker}, {@code
 * default_queue}, {@code result_backend}, {@code results_expire_in}, {@code amqp.prefetch_count},
 * {@code redis.max_idle}, ...) under the {@code machinery} prefix, so the keys of a Go {@code
 * config.yml} work as they are (Spring ignores the ones not read here). Spring's relaxed binding
 * also accepts {@code default-queue} and {@code MACHINERY_DEFAULT_QUEUE}. Units are Go's: seconds
 * for {@code results_expire_in} and the Redis timeouts, milliseconds for the Redis poll periods
 * (and for {@code redis.replica_ack_timeout}, not Go's, as in its environment variable).
 *
 * <p>A key that is not set keeps Go's default ({@link Config#DEFAULT}); {@link #toConfig()} maps
 * the set ones onto {@link Config#builder()}, whose validation messages name the key at fault.
 * {@code machinery.worker.*} has this starter's own worker settings (Go has none: there the program
 * makes its workers).
 *
 * <p>Not mapped yet: {@code sqs.*} and {@code dynamodb.*} (their modules are not part of this
 * starter).
 *
 * <p>Size: Spring's binding of every part of {@code Config} (one nested class per part, each a
 * plain bean as Spring requires); no behaviour.
 */
@ConfigurationProperties("machinery")
public class MachineryProperties {
  /**
   * Broker URL (Go: broker): redis://, rediss://, redis+socket://, amqp://, amqps:// or memory://.
   */
  private @Nullable String broker;

  /** Lock URL for periodic tasks (Go: lock); empty means the broker's URL. */
  private @Nullable String lock;

  /**
   * Broker URL a migration moves away from: tasks are sent to {@code broker} and consumed from both
   * until this one is empty (not Go's).
   */
  private @Nullable String migrateFromBroker;

  /**
   * Result backend URL a migration moves away from: states are written to both and read from this
   * one until the move ends (not Go's).
   */
  private @Nullable String migrateFromResultBackend;

  /** Separator of several broker URLs for failover (Go: multiple_broker_separator). */
  private @Nullable String multipleBrokerSeparator;

  /** Queue of tasks without a routing key (Go: default_queue, default machinery_tasks). */
  private @Nullable String defaultQueue;

  /** Result backend URL (Go: result_backend). */
  private @Nullable String resultBackend;

  /** Seconds results are kept (Go: results_expire_in; 0 means 3600). */
  private @Nullable Integer resultsExpireIn;

  /** Use TLS even when the URL scheme does not say so. */
  private @Nullable Boolean tls;

  /** Largest task message in bytes that is sent or accepted (default 16 MiB). */
  private @Nullable Integer maxMessageBytes;

  /** Require Go's task and group id shapes in received messages (default true). */
  private @Nullable Boolean strictUuids;

  private final Amqp amqp = new Amqp();
  private final Redis redis = new Redis();
  private final WorkerSettings worker = new WorkerSettings();

  /** {@code machinery.bounds.<queue>.*}: bounded queues, by queue name. */
  private final Map<String, Bound> bounds = new LinkedHashMap<>();

  /**
   * The {@link Config} these properties describe: Go's defaults overlaid with every key that is
   * set.
   *
   * @throws IllegalArgumentException when a value is out of range, with a message naming the key
   */
  public Config toConfig() {
    Config.Builder b = Config.DEFAULT.toBuilder();
    set(broker, b::broker);
    set(lock, b::lock);
    set(migrateFromBroker, b::migrateFromBroker);
    set(migrateFromResultBackend, b::migrateFromResultBackend);
    set(multipleBrokerSeparator, b::multipleBrokerSeparator);
    set(defaultQueue, b::defaultQueue);
    set(resultBackend, b::resultBackend);
    set(resultsExpireIn, b::resultsExpireIn);
    set(tls, b::tls);
    set(maxMessageBytes, b::maxMessageBytes);
    set(strictUuids, b::strictUuids);
    // Spring owns SIGINT/SIGTERM (its shutdown hook stops the workers), so no_unix_signals is not
    // offered.
    b.noUnixSignals(true);
    b.amqp(amqp.toConfig());
    b.redis(redis.toConfig());
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("invalid machinery.* properties: " + e.getMessage(), e);
    }
  }

  private static <T> void set(@Nullable T value, Consumer<T> setter) {
    if (value != null) {
      setter.accept(value);
    }
  }

  public @Nullable String getBroker() {
    return broker;
  }

  public void setBroker(@Nullable String value) {
    broker = value;
  }

  public @Nullable String getLock() {
    return lock;
  }

  public void setLock(@Nullable String value) {
    lock = value;
  }

  public @Nullable String getMigrateFromBroker() {
    return migrateFromBroker;
  }

  public void setMigrateFromBroker(@Nullable String value) {
    migrateFromBroker = value;
  }

  public @Nullable String getMigrateFromResultBackend() {
    return migrateFromResultBackend;
  }

  public void setMigrateFromResultBackend(@Nullable String value) {
    migrateFromResultBackend = value;
  }

  public @Nullable String getMultipleBrokerSeparator() {
    return multipleBrokerSeparator;
  }

  public void setMultipleBrokerSeparator(@Nullable String value) {
    multipleBrokerSeparator = value;
  }

  public @Nullable String getDefaultQueue() {
    return defaultQueue;
  }

  public void setDefaultQueue(@Nullable String value) {
    defaultQueue = value;
  }

  public @Nullable String getResultBackend() {
    return resultBackend;
  }

  public void setResultBackend(@Nullable String value) {
    resultBackend = value;
  }

  public @Nullable Integer getResultsExpireIn() {
    return resultsExpireIn;
  }

  public void setResultsExpireIn(@Nullable Integer value) {
    resultsExpireIn = value;
  }

  public @Nullable Boolean getTls() {
    return tls;
  }

  public void setTls(@Nullable Boolean value) {
    tls = value;
  }

  public @Nullable Integer getMaxMessageBytes() {
    return maxMessageBytes;
  }

  public void setMaxMessageBytes(@Nullable Integer value) {
    maxMessageBytes = value;
  }

  public @Nullable Boolean getStrictUuids() {
    return strictUuids;
  }

  public void setStrictUuids(@Nullable Boolean value) {
    strictUuids = value;
  }

  public Amqp getAmqp() {
    return amqp;
  }

  public Redis getRedis() {
    return redis;
  }

  public WorkerSettings getWorker() {
    return worker;
  }

  public Map<String, Bound> getBounds() {
    return bounds;
  }

  /**
   * The {@link QueueBound}s these properties describe, in the order of their keys.
   *
   * @throws IllegalArgumentException when a bound is invalid, with a message naming its key
   */
  public List<QueueBound> toBounds() {
    List<QueueBound> out = new ArrayList<>();
    bounds.forEach(
        (queue, bound) -> {
          try {
            out.add(bound.toBound(queue));
          } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException(
                "invalid machinery.bounds." + queue + " properties: " + e.getMessage(), e);
          }
        });
    return out;
  }

  /**
   * {@code machinery.bounds.<queue>.*}: a {@link QueueBound} on that queue ({@code
   * machinery.bounds[my.queue].max-pending} for a name with dots).
   */
  public static class Bound {
    /** The most tasks that may wait in the queue; required. */
    private @Nullable Long maxPending;

    /** How long a send waits for room at most; unset: refuse at once. */
    private @Nullable Duration maxWait;

    /** How old a sender's reading of the queue's size may be (default 100 ms). */
    private @Nullable Duration recountEvery;

    QueueBound toBound(String queue) {
      if (maxPending == null) {
        throw new IllegalArgumentException("max-pending is required");
      }
      QueueBound.Builder b = QueueBound.builder(queue, maxPending);
      if (maxWait != null) {
        b.waitFor(maxWait);
      }
      if (recountEvery != null) {
        b.recountEvery(recountEvery);
      }
      return b.build();
    }

    public @Nullable Long getMaxPending() {
      return maxPending;
    }

    public void setMaxPending(@Nullable Long value) {
      maxPending = value;
    }

    public @Nullable Duration getMaxWait() {
      return maxWait;
    }

    public void setMaxWait(@Nullable Duration value) {
      maxWait = value;
    }

    public @Nullable Duration getRecountEvery() {
      return recountEvery;
    }

    public void setRecountEvery(@Nullable Duration value) {
      recountEvery = value;
    }
  }

  /** {@code machinery.amqp.*}: Go's {@code AMQPConfig}. */
  public static class Amqp {
    private @Nullable String exchange;
    private @Nullable String exchangeType;
    private @Nullable String bindingKey;
    private @Nullable Integer prefetchCount;
    private @Nullable Boolean autoDelete;
    private @Nullable String delayedQueue;
    private final Map<String, Object> queueDeclareArgs = new LinkedHashMap<>();
    private final Map<String, Object> queueBindingArgs = new LinkedHashMap<>();

    AmqpConfig toConfig() {
      AmqpConfig.Builder b = AmqpConfig.DEFAULT.toBuilder();
      set(exchange, b::exchange);
      set(exchangeType, b::exchangeType);
      set(bindingKey, b::bindingKey);
      set(prefetchCount, b::prefetchCount);
      set(autoDelete, b::autoDelete);
      set(delayedQueue, b::delayedQueue);
      if (!queueDeclareArgs.isEmpty()) {
        b.queueDeclareArgs(typed(queueDeclareArgs));
      }
      if (!queueBindingArgs.isEmpty()) {
        b.queueBindingArgs(typed(queueBindingArgs));
      }
      return b.build();
    }

    /**
     * Property values arrive as text (from .properties files and the environment), but RabbitMQ
     * refuses a numeric argument such as {@code x-expires} given as text: a value that reads as a
     * whole number becomes a Long, {@code true}/{@code false} a Boolean; anything else stays as it
     * is.
     */
    private static Map<String, Object> typed(Map<String, Object> args) {
      Map<String, Object> out = new LinkedHashMap<>();
      args.forEach(
          (key, value) -> {
            Object typed = value;
            if (value instanceof String text) {
              if (text.matches("-?\\d{1,18}")) {
                typed = Long.parseLong(text);
              } else if (text.equals("true") || text.equals("false")) {
                typed = Boolean.parseBoolean(text);
              }
            }
            out.put(key, typed);
          });
      return out;
    }

    public @Nullable String getExchange() {
      return exchange;
    }

    public void setExchange(@Nullable String value) {
      exchange = value;
    }

    public @Nullable String getExchangeType() {
      return exchangeType;
    }

    public void setExchangeType(@Nullable String value) {
      exchangeType = value;
    }

    public @Nullable String getBindingKey() {
      return bindingKey;
    }

    public void setBindingKey(@Nullable String value) {
      bindingKey = value;
    }

    public @Nullable Integer getPrefetchCount() {
      return prefetchCount;
    }

    public void setPrefetchCount(@Nullable Integer value) {
      prefetchCount = value;
    }

    public @Nullable Boolean getAutoDelete() {
      return autoDelete;
    }

    public void setAutoDelete(@Nullable Boolean value) {
      autoDelete = value;
    }

    public @Nullable String getDelayedQueue() {
      return delayedQueue;
    }

    public void setDelayedQueue(@Nullable String value) {
      delayedQueue = value;
    }

    public Map<String, Object> getQueueDeclareArgs() {
      return queueDeclareArgs;
    }

    public Map<String, Object> getQueueBindingArgs() {
      return queueBindingArgs;
    }
  }

  /**
   * {@code machinery.redis.*}: Go's {@code RedisConfig}, with Go's units (seconds; poll periods in
   * ms).
   */
  public static class Redis {
    private @Nullable Integer maxIdle;
    private @Nullable Integer maxActive;
    private @Nullable Integer maxIdleTimeout;
    private @Nullable Boolean waitForConnection;
    private @Nullable Integer readTimeout;
    private @Nullable Integer writeTimeout;
    private @Nullable Integer connectTimeout;
    private @Nullable Integer normalTasksPollPeriod;
    private @Nullable Integer delayedTasksPollPeriod;
    private @Nullable String delayedTasksKey;
    private @Nullable String clientName;
    private @Nullable String masterName;
    private @Nullable Boolean clusterEnabled;
    private @Nullable String sentinelPassword;
    private @Nullable Integer replicaAcks;
    private @Nullable Integer replicaAckTimeout;
    private boolean priorities;
    private boolean fairness;

    RedisConfig toConfig() {
      RedisConfig.Builder b = RedisConfig.DEFAULT.toBuilder();
      set(maxIdle, b::maxIdle);
      set(maxActive, b::maxActive);
      set(maxIdleTimeout, s -> b.idleTimeout(Duration.ofSeconds(s)));
      set(waitForConnection, b::waitForConnection);
      set(readTimeout, s -> b.readTimeout(Duration.ofSeconds(s)));
      set(writeTimeout, s -> b.writeTimeout(Duration.ofSeconds(s)));
      set(connectTimeout, s -> b.connectTimeout(Duration.ofSeconds(s)));
      set(normalTasksPollPeriod, ms -> b.normalTasksPollPeriod(Duration.ofMillis(ms)));
      set(delayedTasksPollPeriod, ms -> b.delayedTasksPollPeriod(Duration.ofMillis(ms)));
      set(delayedTasksKey, b::delayedTasksKey);
      set(clientName, b::clientName);
      set(masterName, b::masterName);
      set(clusterEnabled, b::clusterEnabled);
      set(sentinelPassword, b::sentinelPassword);
      set(replicaAcks, b::replicaAcks);
      set(replicaAckTimeout, ms -> b.replicaAckTimeout(Duration.ofMillis(ms)));
      return b.build();
    }

    public @Nullable Integer getMaxIdle() {
      return maxIdle;
    }

    public void setMaxIdle(@Nullable Integer value) {
      maxIdle = value;
    }

    public @Nullable Integer getMaxActive() {
      return maxActive;
    }

    public void setMaxActive(@Nullable Integer value) {
      maxActive = value;
    }

    /** Go's {@code max_idle_timeout} (seconds). */
    public @Nullable Integer getMaxIdleTimeout() {
      return maxIdleTimeout;
    }

    public void setMaxIdleTimeout(@Nullable Integer value) {
      maxIdleTimeout = value;
    }

    /** Go's {@code wait}. */
    public @Nullable Boolean getWait() {
      return waitForConnection;
    }

    public void setWait(@Nullable Boolean value) {
      waitForConnection = value;
    }

    public @Nullable Integer getReadTimeout() {
      return readTimeout;
    }

    public void setReadTimeout(@Nullable Integer value) {
      readTimeout = value;
    }

    public @Nullable Integer getWriteTimeout() {
      return writeTimeout;
    }

    public void setWriteTimeout(@Nullable Integer value) {
      writeTimeout = value;
    }

    public @Nullable Integer getConnectTimeout() {
      return connectTimeout;
    }

    public void setConnectTimeout(@Nullable Integer value) {
      connectTimeout = value;
    }

    public @Nullable Integer getNormalTasksPollPeriod() {
      return normalTasksPollPeriod;
    }

    public void setNormalTasksPollPeriod(@Nullable Integer value) {
      normalTasksPollPeriod = value;
    }

    public @Nullable Integer getDelayedTasksPollPeriod() {
      return delayedTasksPollPeriod;
    }

    public void setDelayedTasksPollPeriod(@Nullable Integer value) {
      delayedTasksPollPeriod = value;
    }

    public @Nullable String getDelayedTasksKey() {
      return delayedTasksKey;
    }

    public void setDelayedTasksKey(@Nullable String value) {
      delayedTasksKey = value;
    }

    public @Nullable String getClientName() {
      return clientName;
    }

    public void setClientName(@Nullable String value) {
      clientName = value;
    }

    public @Nullable String getMasterName() {
      return masterName;
    }

    public void setMasterName(@Nullable String value) {
      masterName = value;
    }

    public @Nullable Boolean getClusterEnabled() {
      return clusterEnabled;
    }

    public void setClusterEnabled(@Nullable Boolean value) {
      clusterEnabled = value;
    }

    public @Nullable String getSentinelPassword() {
      return sentinelPassword;
    }

    public void setSentinelPassword(@Nullable String value) {
      sentinelPassword = value;
    }

    /**
     * Not Go's: how many replicas must acknowledge each send of the Redis broker ({@code
     * RedisConfig.replicaAcks}, {@code REDIS_REPLICA_ACKS}); default 0 = off.
     */
    public @Nullable Integer getReplicaAcks() {
      return replicaAcks;
    }

    public void setReplicaAcks(@Nullable Integer value) {
      replicaAcks = value;
    }

    /**
     * Not Go's: milliseconds a send waits for {@link #getReplicaAcks()} replicas ({@code
     * RedisConfig.replicaAckTimeout}, {@code REDIS_REPLICA_ACK_TIMEOUT}); at least 1 when they are
     * on, and below {@code read_timeout}.
     */
    public @Nullable Integer getReplicaAckTimeout() {
      return replicaAckTimeout;
    }

    public void setReplicaAckTimeout(@Nullable Integer value) {
      replicaAckTimeout = value;
    }

    /**
     * Not Go's: the Redis broker honours {@code Priority} ({@code RedisBroker.Builder.priorities});
     * default false.
     */
    public boolean isPriorities() {
      return priorities;
    }

    public void setPriorities(boolean value) {
      priorities = value;
    }

    /**
     * Not Go's: the Redis broker shares turns between fairness keys ({@code
     * RedisBroker.Builder.fairness}); default false.
     */
    public boolean isFairness() {
      return fairness;
    }

    public void setFairness(boolean value) {
      fairness = value;
    }
  }

  /** {@code machinery.worker.*}: the workers this starter runs with the application context. */
  public static class WorkerSettings {
    /**
     * The default, well inside Spring's 30 s {@code spring.lifecycle.timeout-per-shutdown-phase}.
     */
    public static final Duration DEFAULT_GRACEFUL_TIMEOUT = Duration.ofSeconds(20);

    /** Whether workers run in this application; false for a service that only sends. */
    private boolean enabled = true;

    /** Consumer tag of the default-queue worker; other queues append _<queue>. */
    private String consumerTag = "machinery_worker";

    /** Tasks each worker runs at once; 0 or less means twice the number of processors. */
    private int concurrency = 10;

    /**
     * How long stopping waits for running tasks; keep it below
     * spring.lifecycle.timeout-per-shutdown-phase.
     */
    private Duration gracefulTimeout = DEFAULT_GRACEFUL_TIMEOUT;

    /** {@code machinery.worker.breakers.<task>.*}: circuit breakers, by task name. */
    private final Map<String, Breaker> breakers = new LinkedHashMap<>();

    /** Whether workers run in this application; false for a service that only sends tasks. */
    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean value) {
      enabled = value;
    }

    public String getConsumerTag() {
      return consumerTag;
    }

    public void setConsumerTag(String value) {
      consumerTag = value;
    }

    /** Tasks each worker runs at once; 0 or less means twice the number of processors. */
    public int getConcurrency() {
      return concurrency;
    }

    public void setConcurrency(int value) {
      concurrency = value;
    }

    /**
     * How long stopping waits for running tasks before cancelling them (their messages go back to
     * the broker). Keep it below {@code spring.lifecycle.timeout-per-shutdown-phase}; {@link
     * Worker#DEFAULT_GRACEFUL_TIMEOUT} is Go's 30 s and would use all of Spring's default phase.
     */
    public Duration getGracefulTimeout() {
      return gracefulTimeout;
    }

    public void setGracefulTimeout(Duration value) {
      gracefulTimeout = value;
    }

    public Map<String, Breaker> getBreakers() {
      return breakers;
    }

    /**
     * The {@link TaskBreaker}s these properties describe, by task name.
     *
     * @throws IllegalArgumentException when a breaker is invalid, with a message naming its key
     */
    public Map<String, TaskBreaker> toBreakers() {
      Map<String, TaskBreaker> out = new LinkedHashMap<>();
      breakers.forEach(
          (task, breaker) -> {
            try {
              out.put(task, breaker.toBreaker());
            } catch (IllegalArgumentException | NullPointerException e) {
              throw new IllegalArgumentException(
                  "invalid machinery.worker.breakers." + task + " properties: " + e.getMessage(),
                  e);
            }
          });
      return out;
    }
  }

  /**
   * {@code machinery.worker.breakers.<task>.*}: a {@link TaskBreaker} on that task, keyed by task
   * name; unset values keep {@link TaskBreaker.Builder}'s defaults. A breaker keyed by something
   * else (a host) or counting only some errors needs a {@link MachineryWorkerCustomizer}.
   */
  public static class Breaker {
    /** Share of failed runs among the kept ones that opens the breaker (default 0.5). */
    private @Nullable Double failureRate;

    /** How many of the latest runs' outcomes are kept (default 20). */
    private @Nullable Integer window;

    /** How many outcomes must be kept before it may open (default half the window). */
    private @Nullable Integer minimumRuns;

    /** How long an open breaker parks the task before a trial (default 30 s). */
    private @Nullable Duration openFor;

    /** Trial runs at once when half-open, and successes needed to close (default 1). */
    private @Nullable Integer trialRuns;

    /**
     * Whether its runs also count in one window for the whole cluster, which opens the task on
     * every worker (default false).
     */
    private @Nullable Boolean shared;

    TaskBreaker toBreaker() {
      TaskBreaker.Builder b = TaskBreaker.builder();
      if (failureRate != null) {
        b.failureRate(failureRate);
      }
      if (window != null) {
        b.window(window);
      }
      if (minimumRuns != null) {
        b.minimumRuns(minimumRuns);
      }
      if (openFor != null) {
        b.openFor(openFor);
      }
      if (trialRuns != null) {
        b.trialRuns(trialRuns);
      }
      if (shared != null) {
        b.shared(shared);
      }
      return b.build();
    }

    public @Nullable Double getFailureRate() {
      return failureRate;
    }

    public void setFailureRate(@Nullable Double value) {
      failureRate = value;
    }

    public @Nullable Integer getWindow() {
      return window;
    }

    public void setWindow(@Nullable Integer value) {
      window = value;
    }

    public @Nullable Integer getMinimumRuns() {
      return minimumRuns;
    }

    public void setMinimumRuns(@Nullable Integer value) {
      minimumRuns = value;
    }

    public @Nullable Duration getOpenFor() {
      return openFor;
    }

    public void setOpenFor(@Nullable Duration value) {
      openFor = value;
    }

    public @Nullable Integer getTrialRuns() {
      return trialRuns;
    }

    public void setTrialRuns(@Nullable Integer value) {
      trialRuns = value;
    }

    public @Nullable Boolean getShared() {
      return shared;
    }

    public void setShared(@Nullable Boolean value) {
      shared = value;
    }
  }
}
