package io.machinery.config;

import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * AMQP settings (Go's {@code config.AMQPConfig}); YAML section {@code amqp}, environment {@code AMQP_*}.
 *
 * @param exchange exchange name ({@code AMQP_EXCHANGE}, default {@value #DEFAULT_EXCHANGE})
 * @param exchangeType exchange type ({@code AMQP_EXCHANGE_TYPE}, default {@value #DEFAULT_EXCHANGE_TYPE})
 * @param queueDeclareArgs arguments for every task queue declaration, e.g. {@code x-max-priority}
 * @param queueBindingArgs arguments for every queue binding
 * @param bindingKey binding key of the worker's queue ({@code AMQP_BINDING_KEY}, default {@value
 *     #DEFAULT_BINDING_KEY})
 * @param prefetchCount channel QoS ({@code AMQP_PREFETCH_COUNT}, default {@value #DEFAULT_PREFETCH_COUNT})
 * @param autoDelete whether delay queues auto-delete ({@code AMQP_AUTO_DELETE})
 * @param delayedQueue the single delayed queue, or empty for Go's per-delay queues ({@code AMQP_DELAYED_QUEUE})
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

  /** Go's defaults. */
  public static final AmqpConfig DEFAULT =
      new AmqpConfig(DEFAULT_EXCHANGE, DEFAULT_EXCHANGE_TYPE, Map.of(), Map.of(), DEFAULT_BINDING_KEY,
          DEFAULT_PREFETCH_COUNT, false, "");

  public AmqpConfig {
    Objects.requireNonNull(exchange, "exchange");
    Objects.requireNonNull(exchangeType, "exchangeType");
    queueDeclareArgs = Map.copyOf(queueDeclareArgs);
    queueBindingArgs = Map.copyOf(queueBindingArgs);
    Objects.requireNonNull(bindingKey, "bindingKey");
    Objects.requireNonNull(delayedQueue, "delayedQueue");
    if (prefetchCount < 0) {
      throw new IllegalArgumentException("amqp.prefetch_count must be >= 0, was " + prefetchCount);
    }
  }

  public AmqpConfig withExchange(String value) { return new AmqpConfig(value, exchangeType, queueDeclareArgs, queueBindingArgs, bindingKey, prefetchCount, autoDelete, delayedQueue); }
  public AmqpConfig withExchangeType(String value) { return new AmqpConfig(exchange, value, queueDeclareArgs, queueBindingArgs, bindingKey, prefetchCount, autoDelete, delayedQueue); }
  public AmqpConfig withQueueDeclareArgs(Map<String, Object> value) { return new AmqpConfig(exchange, exchangeType, value, queueBindingArgs, bindingKey, prefetchCount, autoDelete, delayedQueue); }
  public AmqpConfig withQueueBindingArgs(Map<String, Object> value) { return new AmqpConfig(exchange, exchangeType, queueDeclareArgs, value, bindingKey, prefetchCount, autoDelete, delayedQueue); }
  public AmqpConfig withBindingKey(String value) { return new AmqpConfig(exchange, exchangeType, queueDeclareArgs, queueBindingArgs, value, prefetchCount, autoDelete, delayedQueue); }
  public AmqpConfig withPrefetchCount(int value) { return new AmqpConfig(exchange, exchangeType, queueDeclareArgs, queueBindingArgs, bindingKey, value, autoDelete, delayedQueue); }
  public AmqpConfig withAutoDelete(boolean value) { return new AmqpConfig(exchange, exchangeType, queueDeclareArgs, queueBindingArgs, bindingKey, prefetchCount, value, delayedQueue); }
  public AmqpConfig withDelayedQueue(@Nullable String value) { return new AmqpConfig(exchange, exchangeType, queueDeclareArgs, queueBindingArgs, bindingKey, prefetchCount, autoDelete, value == null ? "" : value); }
}
