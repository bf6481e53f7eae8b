package io.machinery.backend.amqp;

import com.rabbitmq.client.AMQP;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.UnroutableException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writing task states into Go's per-task (and per-group) state queues.
 *
 * <p>Design notes. A state queue is Go's declaration: {@code <uuid>}, not durable, auto-delete,
 * int32 {@code x-message-ttl} and {@code x-expires}, bound to the task exchange with its name. A
 * write normally costs one awaited round trip: unless this process declared the queue lately,
 * no-wait declarations go first on the same confirm channel as the message (RabbitMQ applies them
 * in order, before routing it); messages to one queue share a channel, so they stay in order. The
 * "declared lately" cache trusts a declaration for half the expiry (at most 5 min) and is cleared
 * wholesale at {@value #DECLARED_CACHE_LIMIT} entries; if RabbitMQ returns a message all the same
 * (the queue expired or was deleted), the queue is declared and the message published once more.
 * Thread-safe.
 */
final class StateQueues {
  private static final Logger log = LoggerFactory.getLogger(StateQueues.class);
  private static final int DECLARED_CACHE_LIMIT = 10_000;

  /** Go's properties of a state message: JSON, persistent. */
  static final AMQP.BasicProperties STATE_PROPERTIES =
      new AMQP.BasicProperties.Builder().contentType("application/json").deliveryMode(2).build();

  /**
   * The properties of a chord member's group state when the member also keeps its state ({@link
   * ChordTrigger#KEPT_HEADER}).
   */
  static final AMQP.BasicProperties KEPT_STATE_PROPERTIES =
      STATE_PROPERTIES.builder().headers(Map.of(ChordTrigger.KEPT_HEADER, "1")).build();

  private final AmqpClient client;
  private final String exchange;
  private final String exchangeType;
  private final String stateExchange;
  private final Map<String, Object> queueArgs;
  private final long declaredTtlNanos;
  private final Map<String, Long> declared = new ConcurrentHashMap<>();

  /**
   * @param stateExchange where states are published: the task exchange when it is direct (Go), else
   *     the default exchange (on a fanout or topic exchange Go's states would also reach task
   *     queues; same queue either way)
   */
  StateQueues(
      AmqpClient client,
      String exchange,
      String exchangeType,
      String stateExchange,
      Map<String, Object> queueArgs,
      int expireMillis) {
    this.client = client;
    this.exchange = exchange;
    this.exchangeType = exchangeType;
    this.stateExchange = stateExchange;
    this.queueArgs = queueArgs;
    this.declaredTtlNanos = TimeUnit.MILLISECONDS.toNanos(Math.min(expireMillis / 2, 300_000));
  }

  /** Publishes a state to queue {@code name} and waits for the confirm (see the class notes). */
  void publish(String name, byte[] json, boolean declare) {
    publish(name, json, declare, STATE_PROPERTIES);
  }

  /** {@link #publish(String, byte[], boolean)} with other message properties. */
  void publish(String name, byte[] json, boolean declare, AMQP.BasicProperties properties) {
    try {
      publishOnce(name, declare || !recentlyDeclared(name), properties, json);
      return;
    } catch (UnroutableException e) {
      log.debug("State queue {} does not exist any more; declaring it", name);
    }
    declared.remove(name);
    publishOnce(name, true, properties, json);
  }

  /** One publish to queue {@code name}, after its declaration when {@code declare}. */
  private void publishOnce(
      String name, boolean declare, AMQP.BasicProperties properties, byte[] json) {
    client.publishOrdered(
        name, declare ? declaration(name) : null, stateExchange, name, properties, json);
    if (declare) {
      remember(name);
    }
  }

  /**
   * Publishes a state to a queue that only its owner's release deletes, and that must not be
   * created again once deleted: a chord's kept states ({@link ChordTrigger#kept}), deleted when the
   * chord settled. Declares it first unless this process did lately, as {@link #publish} does, but
   * answers false, having stored nothing, when the queue turned out deleted: RabbitMQ returned the
   * message (a queue declared here lately has not expired: the cache trusts a declaration for half
   * the expiry), or refused the declaration's binding with NOT_FOUND (deleted between the
   * declaration and the binding, which close together on the same channel). A member that finished
   * while the winner settled the chord so no longer leaves a kept queue behind until it expires,
   * nor fails its state write on the NOT_FOUND (which the worker retried, writing the task's state
   * and the group state once more into a queue created again).
   */
  boolean publishUnlessDeleted(String name, byte[] json) {
    try {
      publishOnce(name, !recentlyDeclared(name), STATE_PROPERTIES, json);
      return true;
    } catch (UnroutableException e) {
      declared.remove(name);
      return false;
    } catch (AmqpOperationException e) {
      if (e.replyCode() != AmqpOperationException.NOT_FOUND) {
        throw e;
      }
      declared.remove(name);
      return false;
    }
  }

  /** {@link #publish} without waiting: the future completes with RabbitMQ's confirm. */
  CompletableFuture<Void> publishAsync(String name, byte[] json, boolean declare) {
    boolean withDeclaration = declare || !recentlyDeclared(name);
    CompletableFuture<Void> confirmed =
        client.publishOrderedAsync(
            name,
            withDeclaration ? declaration(name) : null,
            stateExchange,
            name,
            STATE_PROPERTIES,
            json);
    if (withDeclaration) {
      remember(name);
    }
    return confirmed.whenComplete(
        (ok, error) -> {
          if (error != null) {
            declared.remove(name); // the next write declares the queue again
          }
        });
  }

  /**
   * Publishes states to queue {@code name}, the first one preceded by the queue's declaration, and
   * waits until RabbitMQ confirmed them all: one round trip for the lot (they share a channel, so
   * the declaration comes first and the states stay in order).
   */
  void publishAll(String name, List<byte[]> states) {
    List<CompletableFuture<Void>> confirms = new ArrayList<>(states.size());
    for (int i = 0; i < states.size(); i++) {
      confirms.add(publishAsync(name, states.get(i), i == 0));
    }
    try {
      CompletableFuture.allOf(confirms.toArray(CompletableFuture[]::new)).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException failure) {
        throw failure;
      }
      throw e;
    }
  }

  /**
   * Declares the queue and waits for RabbitMQ, unless this process did lately (as Go's GetState
   * does).
   */
  void ensureDeclared(String name) {
    if (recentlyDeclared(name)) {
      return;
    }
    client.callRetrying(
        "declare state queue '" + name + "'",
        ch -> {
          ch.exchangeDeclare(exchange, exchangeType, true, false, false, null);
          ch.queueDeclare(name, false, false, true, queueArgs);
          ch.queueBind(name, exchange, name, null);
          return null;
        });
    remember(name);
  }

  /** The queue is gone (purged, expired): the next write declares it. */
  void forget(String name) {
    declared.remove(name);
  }

  /** Go's state queue, declared without waiting for replies. */
  private AmqpClient.ChannelSetup declaration(String name) {
    return ch -> {
      ch.exchangeDeclareNoWait(exchange, exchangeType, true, false, false, null);
      ch.queueDeclareNoWait(
          name, false, false, true, queueArgs); // not durable, not exclusive, auto-delete
      ch.queueBindNoWait(name, exchange, name, null);
    };
  }

  private boolean recentlyDeclared(String name) {
    Long at = declared.get(name);
    return at != null && System.nanoTime() - at < declaredTtlNanos;
  }

  private void remember(String name) {
    if (declared.size() >= DECLARED_CACHE_LIMIT) {
      declared.clear();
    }
    declared.put(name, System.nanoTime());
  }
}
