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

  /**
   * Checks the values: the names RabbitMQ would refuse on first use are refused here (Go takes them
   * and fails when it declares the topology).
   *
   * @throws IllegalArgumentException when {@code exchange} is empty or blank, {@code exchangeType}
   *     is empty or holds whitespace, {@code delayedQueue} is blank but not empty or starts with
   *     {@code amq.}, a name is over 255 bytes of UTF-8, or {@code prefetchCount} is out of its
   *     range
   */
  public AmqpConfig {
    checkExchange(exchange);
    checkExchangeType(exchangeType);
    queueDeclareArgs = Map.copyOf(queueDeclareArgs);
    queueBindingArgs = Map.copyOf(queueBindingArgs);
    checkBindingKey(bindingKey);
    checkDelayedQueue(delayedQueue);
    checkPrefetchCount(prefetchCount);
  }

  /**
   * An exchange name, neither empty nor blank. Every user of it binds queues to it (the AMQP broker
   * its task and delay queues, the AMQP backend its state queues, in Go as here), and RabbitMQ
   * refuses a binding to the default exchange {@code ''} (403 ACCESS_REFUSED): Go takes an empty
   * name and fails at the first publish, consume or state write. A blank one RabbitMQ would take,
   * making an exchange no Go worker binds to.
   */
  private static String checkExchange(String value) {
    return Checks.amqpName(
        "AmqpConfig.exchange",
        Objects.requireNonNull(value, "exchange"),
        "the AMQP broker's task queues and the AMQP backend's state queues are bound to it, and"
            + " RabbitMQ refuses to bind a queue to the default exchange");
  }

  /** RabbitMQ closes the connection on an unknown type ('', ' direct'): 503 COMMAND_INVALID. */
  private static String checkExchangeType(String value) {
    Objects.requireNonNull(value, "exchangeType");
    if (value.isEmpty() || value.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "AmqpConfig.exchangeType must be a type such as direct, topic, fanout or headers, without"
              + " spaces (RabbitMQ closes the connection on an unknown type), was '"
              + value
              + "'");
    }
    return Checks.shortString("AmqpConfig.exchangeType", value);
  }

  /** Any routing key, the empty one included (fanout and headers exchanges ignore it). */
  private static String checkBindingKey(String value) {
    return Checks.shortString("AmqpConfig.bindingKey", Objects.requireNonNull(value, "bindingKey"));
  }

  /** Empty for Go's per-delay queues; else a queue name RabbitMQ lets a client declare. */
  private static String checkDelayedQueue(String value) {
    Objects.requireNonNull(value, "delayedQueue");
    if (value.isEmpty()) {
      return value;
    }
    if (value.isBlank()) {
      throw new IllegalArgumentException(
          "AmqpConfig.delayedQueue must be empty (Go's per-delay queues) or a queue name, not"
              + " blank, was '"
              + value
              + "'");
    }
    if (value.startsWith("amq.")) {
      throw new IllegalArgumentException(
          "AmqpConfig.delayedQueue must not start with 'amq.' (RabbitMQ reserves the prefix and"
              + " refuses to declare such a queue), was '"
              + value
              + "'");
    }
    return Checks.shortString("AmqpConfig.delayedQueue", value);
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

    /**
     * Sets the exchange ({@code AMQP_EXCHANGE}); default {@value AmqpConfig#DEFAULT_EXCHANGE}. The
     * AMQP broker and backend bind their queues to it, so it cannot be RabbitMQ's default exchange
     * {@code ''}.
     *
     * @param value the exchange name
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is empty or blank, or over 255 bytes
     */
    public Builder exchange(String value) {
      exchange = checkExchange(value);
      return this;
    }

    /**
     * Sets the exchange type ({@code AMQP_EXCHANGE_TYPE}); default {@value
     * AmqpConfig#DEFAULT_EXCHANGE_TYPE}.
     *
     * @param value the type, such as direct, topic, fanout or headers
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is empty or holds whitespace
     */
    public Builder exchangeType(String value) {
      exchangeType = checkExchangeType(value);
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

    /**
     * Sets the binding key of the worker's queue ({@code AMQP_BINDING_KEY}); default {@value
     * AmqpConfig#DEFAULT_BINDING_KEY}.
     *
     * @param value the key; any text, the empty one included, up to 255 bytes of UTF-8
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is over 255 bytes
     */
    public Builder bindingKey(String value) {
      bindingKey = checkBindingKey(value);
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

    /**
     * Sets the single delayed queue ({@code AMQP_DELAYED_QUEUE}); empty (or null) for Go's
     * per-delay queues.
     *
     * @param value the queue name, or empty
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is blank but not empty, starts with {@code
     *     amq.} or is over 255 bytes
     */
    public Builder delayedQueue(@Nullable String value) {
      delayedQueue = checkDelayedQueue(value == null ? "" : value);
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
