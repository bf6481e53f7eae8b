package io.machinery.config;

import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * AMQP settings (Go's {@code config.AMQPConfig}); YAML section {@code amqp}, environment {@code
 * AMQP_*}.
 *
 * @param exchange exchange name ({@code AMQP_EXCHANGE}, default {@value #DEFAULT_EXCHANGE})
 * @param exchangeType exchange type ({@code AMQP_EXCHANGE_TYPE}, default {@value
 *     #DEFAULT_EXCHANGE_TYPE})
 * @param queueDeclareArgs arguments for every task queue declaration, e.g. {@code x-max-priority}
 * @param queueBindingArgs arguments for every queue binding
 * @param bindingKey binding key of the worker's queue ({@code AMQP_BINDING_KEY}, default {@value
 *     #DEFAULT_BINDING_KEY})
 * @param prefetchCount channel QoS ({@code AMQP_PREFETCH_COUNT}, default {@value
 *     #DEFAULT_PREFETCH_COUNT})
 * @param autoDelete whether delay queues auto-delete ({@code AMQP_AUTO_DELETE})
 * @param delayedQueue the single delayed queue, or empty for Go's per-delay queues ({@code
 *     AMQP_DELAYED_QUEUE})
 *     <p>Build one with {@link #builder()} or change one with {@link #toBuilder()}; the canonical
 *     constructor and the {@code with…} methods are kept for existing callers.
 *     <pre>{@code
 * AmqpConfig amqp = AmqpConfig.builder().exchange("tasks").prefetchCount(10).build();
 * }</pre>
 */
public record AmqpConfig(
    String exchange,
    String exchangeType,
    Map<String, Object> queueDeclareArgs,
    Map<String, Object> queueBindingArgs,
    String bindingKey,
    int prefetchCount,
    boolean autoDelete,
    String delayedQueue) {

  public static final String DEFAULT_EXCHANGE = "machinery_exchange";
  public static final String DEFAULT_EXCHANGE_TYPE = "direct";
  public static final String DEFAULT_BINDING_KEY = "machinery_task";
  public static final int DEFAULT_PREFETCH_COUNT = 3;

  /**
   * The largest prefetch count: {@code basic.qos} carries it in 16 bits, and Go's client silently
   * truncates a larger one.
   */
  public static final int MAX_PREFETCH_COUNT = 65_535;

  public static final boolean DEFAULT_AUTO_DELETE = false;

  /** Empty: Go's per-delay queues. */
  public static final String DEFAULT_DELAYED_QUEUE = "";

  /** Go's defaults. */
  public static final AmqpConfig DEFAULT =
      new AmqpConfig(
          DEFAULT_EXCHANGE,
          DEFAULT_EXCHANGE_TYPE,
          Map.of(),
          Map.of(),
          DEFAULT_BINDING_KEY,
          DEFAULT_PREFETCH_COUNT,
          DEFAULT_AUTO_DELETE,
          DEFAULT_DELAYED_QUEUE);

  public AmqpConfig {
    Objects.requireNonNull(exchange, "exchange");
    Objects.requireNonNull(exchangeType, "exchangeType");
    queueDeclareArgs = Map.copyOf(queueDeclareArgs);
    queueBindingArgs = Map.copyOf(queueBindingArgs);
    Objects.requireNonNull(bindingKey, "bindingKey");
    Objects.requireNonNull(delayedQueue, "delayedQueue");
    checkPrefetchCount(prefetchCount);
  }

  private static int checkPrefetchCount(int value) {
    return Checks.inRange(
        "AmqpConfig.prefetchCount", value, 0, MAX_PREFETCH_COUNT, "basic.qos carries 16 bits");
  }

  public AmqpConfig withExchange(String value) {
    return toBuilder().exchange(value).build();
  }

  public AmqpConfig withExchangeType(String value) {
    return toBuilder().exchangeType(value).build();
  }

  public AmqpConfig withQueueDeclareArgs(Map<String, Object> value) {
    return toBuilder().queueDeclareArgs(value).build();
  }

  public AmqpConfig withQueueBindingArgs(Map<String, Object> value) {
    return toBuilder().queueBindingArgs(value).build();
  }

  public AmqpConfig withBindingKey(String value) {
    return toBuilder().bindingKey(value).build();
  }

  public AmqpConfig withPrefetchCount(int value) {
    return toBuilder().prefetchCount(value).build();
  }

  public AmqpConfig withAutoDelete(boolean value) {
    return toBuilder().autoDelete(value).build();
  }

  public AmqpConfig withDelayedQueue(@Nullable String value) {
    return toBuilder().delayedQueue(value).build();
  }

  /** A builder starting from Go's defaults ({@link #DEFAULT}). */
  public static Builder builder() {
    return new Builder(DEFAULT);
  }

  /** A builder starting from this config. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Builds an {@link AmqpConfig}; each setter refuses a value out of its range at once. */
  public static final class Builder {
    private String exchange;
    private String exchangeType;
    private Map<String, Object> queueDeclareArgs;
    private Map<String, Object> queueBindingArgs;
    private String bindingKey;
    private int prefetchCount;
    private boolean autoDelete;
    private String delayedQueue;

    private Builder(AmqpConfig c) {
      exchange = c.exchange;
      exchangeType = c.exchangeType;
      queueDeclareArgs = c.queueDeclareArgs;
      queueBindingArgs = c.queueBindingArgs;
      bindingKey = c.bindingKey;
      prefetchCount = c.prefetchCount;
      autoDelete = c.autoDelete;
      delayedQueue = c.delayedQueue;
    }

    public Builder exchange(String value) {
      exchange = Objects.requireNonNull(value, "exchange");
      return this;
    }

    public Builder exchangeType(String value) {
      exchangeType = Objects.requireNonNull(value, "exchangeType");
      return this;
    }

    /** Arguments for every task queue declaration, e.g. {@code x-max-priority}. */
    public Builder queueDeclareArgs(Map<String, Object> value) {
      queueDeclareArgs = Map.copyOf(value);
      return this;
    }

    public Builder queueBindingArgs(Map<String, Object> value) {
      queueBindingArgs = Map.copyOf(value);
      return this;
    }

    public Builder bindingKey(String value) {
      bindingKey = Objects.requireNonNull(value, "bindingKey");
      return this;
    }

    /**
     * Sets the channel QoS ({@code AMQP_PREFETCH_COUNT}); default {@value
     * AmqpConfig#DEFAULT_PREFETCH_COUNT}.
     *
     * @param value the most unacknowledged deliveries, 0 (no limit) to {@value
     *     AmqpConfig#MAX_PREFETCH_COUNT}
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is out of that range
     */
    public Builder prefetchCount(int value) {
      prefetchCount = checkPrefetchCount(value);
      return this;
    }

    public Builder autoDelete(boolean value) {
      autoDelete = value;
      return this;
    }

    /** The single delayed queue; empty (or null) for Go's per-delay queues. */
    public Builder delayedQueue(@Nullable String value) {
      delayedQueue = value == null ? "" : value;
      return this;
    }

    public AmqpConfig build() {
      return new AmqpConfig(
          exchange,
          exchangeType,
          queueDeclareArgs,
          queueBindingArgs,
          bindingKey,
          prefetchCount,
          autoDelete,
          delayedQueue);
    }
  }
}
