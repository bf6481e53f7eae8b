package io.machinery.broker.amqp;

import com.rabbitmq.client.Channel;
import io.machinery.Signature;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The exchanges and queues of Go Machinery's AMQP broker (spec §3.3, Appendix A.4), their names and
 * arguments, and which of them this process has declared already.
 *
 * <p>Design notes. Everything a Go process declares is declared here with the same name, durability
 * and arguments, so either side may declare first (RabbitMQ refuses a redeclaration with different
 * arguments, 406). Two departures from Go, both invisible to Go processes: a publisher never
 * creates Go's never-consumed {@code machinery_task} copy queue (it makes sure the worker's queue
 * exists instead and publishes with {@code mandatory}), and a custom worker queue is bound with its
 * own name rather than the default binding key, so it receives only the tasks routed to it.
 * Declarations are cached per process; a returned (unroutable) message or a missing exchange clears
 * the cache and they are declared again. Thread-safe.
 */
final class Topology {
  /**
   * Where malformed messages go: one direct exchange, one {@code <queue>.dead_letters} queue per
   * queue.
   */
  static final String DEAD_LETTER_EXCHANGE = "machinery_dead_letters";

  static final String DEAD_LETTER_SUFFIX = ".dead_letters";

  /** Header of a dead-lettered message: why it was set aside. */
  static final String DEAD_LETTER_REASON_HEADER = "x-machinery-dead-letter-reason";

  /** Header of a dead-lettered message: the queue it came from. */
  static final String DEAD_LETTER_QUEUE_HEADER = "x-machinery-dead-letter-queue";

  /** Header of a dead-lettered message: when it was set aside, in milliseconds since the epoch. */
  static final String DEAD_LETTER_AT_HEADER = "x-machinery-dead-lettered-at";

  /** Header of a dead letter cut to a preview: the size of the original body. */
  static final String DEAD_LETTER_SIZE_HEADER = io.machinery.wire.BodyPreview.SIZE_KEY;

  /** Header of a dead letter cut to a preview: the SHA-256 of the original body, in hex. */
  static final String DEAD_LETTER_SHA256_HEADER = io.machinery.wire.BodyPreview.SHA256_KEY;

  /** A queue and the key it is bound to the task exchange with. */
  record QueueBinding(String queue, String bindingKey) {}

  private final AmqpConfig amqp;
  private final String defaultQueue;
  private final @Nullable Map<String, Object> queueArgs;
  private final @Nullable Map<String, Object> bindingArgs;
  private final Set<QueueBinding> declaredTargets = ConcurrentHashMap.newKeySet();
  private final Map<String, Long> declaredDelayQueues = new ConcurrentHashMap<>();
  private final Set<String> declaredDeadLetterQueues = ConcurrentHashMap.newKeySet();
  private static final int DELAY_CACHE_LIMIT = 1024;

  /**
   * How long a requeue delay queue outlives its TTL: with Go's {@code 2 × delay} a delay of a few
   * milliseconds could expire the queue, with the message, before the message's TTL fires.
   */
  static final long REQUEUE_QUEUE_SPARE_MILLIS = 60_000;

  Topology(Config config) {
    this.amqp = config.amqp();
    this.defaultQueue = config.defaultQueue();
    this.queueArgs =
        amqp.queueDeclareArgs().isEmpty() ? null : new HashMap<>(amqp.queueDeclareArgs());
    this.bindingArgs =
        amqp.queueBindingArgs().isEmpty() ? null : new HashMap<>(amqp.queueBindingArgs());
  }

  /**
   * Whether worker queues are quorum queues ({@code x-queue-type: quorum}), which count deliveries.
   */
  boolean isQuorum() {
    return queueArgs != null && "quorum".equals(String.valueOf(queueArgs.get("x-queue-type")));
  }

  String exchange() {
    return amqp.exchange();
  }

  boolean isDirect() {
    return "direct".equals(amqp.exchangeType());
  }

  /**
   * Go's {@code AdjustRoutingKey}: the binding key on a direct exchange, else the default queue.
   */
  String routingKeyFor(Signature signature) {
    if (!signature.routingKey().isEmpty()) {
      return signature.routingKey();
    }
    return isDirect() ? amqp.bindingKey() : defaultQueue;
  }

  /**
   * The queue a worker consumes for {@code queue} (empty: the default queue) and how it is bound.
   */
  QueueBinding workerQueue(String queue) {
    if (queue.isEmpty() || queue.equals(defaultQueue)) {
      return new QueueBinding(defaultQueue, amqp.bindingKey());
    }
    return new QueueBinding(queue, queue);
  }

  /**
   * The queue a publisher makes sure exists before publishing with {@code routingKey}. Go declares
   * a queue named after the routing key on a direct exchange, and the default queue otherwise; for
   * the default routing key that Go queue is a copy nobody consumes, so the worker's default queue
   * is declared instead.
   */
  QueueBinding publishTarget(String routingKey) {
    if (isDirect() && !routingKey.equals(amqp.bindingKey())) {
      return new QueueBinding(routingKey, routingKey);
    }
    return new QueueBinding(defaultQueue, amqp.bindingKey());
  }

  // -----------------------------------------------------------------------------------------
  // declarations

  void declareExchange(Channel channel) throws IOException {
    channel.exchangeDeclare(amqp.exchange(), amqp.exchangeType(), true, false, false, null);
  }

  /**
   * The exchange, a durable task queue with the configured arguments, and its binding (Go's {@code
   * Connect}).
   */
  void declareTaskQueue(Channel channel, QueueBinding binding) throws IOException {
    declareExchange(channel);
    channel.queueDeclare(binding.queue(), true, false, false, queueArgs);
    channel.queueBind(binding.queue(), amqp.exchange(), binding.bindingKey(), bindingArgs);
  }

  /** Declares the publish target for {@code routingKey} unless this process did already. */
  void ensurePublishTarget(AmqpClient client, String routingKey) {
    QueueBinding target = publishTarget(routingKey);
    if (declaredTargets.contains(target)) {
      return;
    }
    client.callRetrying(
        "declare queue '" + target.queue() + "'",
        ch -> {
          declareTaskQueue(ch, target);
          return null;
        });
    declaredTargets.add(target);
  }

  /**
   * Forgets every declaration, so the next publish declares again (a queue or exchange was
   * deleted).
   */
  void forgetDeclarations() {
    declaredTargets.clear();
    declaredDelayQueues.clear();
    declaredDeadLetterQueues.clear();
  }

  /** Go's delay queue name: {@code delay.<ms>.<exchange>.<routingKey>}. */
  static String delayQueueName(long delayMillis, String exchange, String routingKey) {
    return "delay." + delayMillis + "." + exchange + "." + routingKey;
  }

  /** Go's per-delay queue arguments. */
  static Map<String, Object> delayQueueArgs(
      long delayMillis, String deadLetterExchange, String routingKey) {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("x-dead-letter-exchange", deadLetterExchange);
    args.put("x-dead-letter-routing-key", routingKey);
    args.put("x-message-ttl", delayMillis);
    args.put("x-expires", 2 * delayMillis);
    return args;
  }

  /**
   * Declares Go's per-delay queue for a task routed with {@code routingKey}, bound to the task
   * exchange by its own name. Go redeclares it before every publish, which renews its {@code
   * x-expires} lease; a cached declaration is trusted only while the lease certainly outlasts a
   * message published now.
   */
  String ensureDelayQueue(AmqpClient client, long delayMillis, String routingKey) {
    String name = delayQueueName(delayMillis, amqp.exchange(), routingKey);
    if (recentlyDeclared(name, delayMillis)) {
      return name;
    }
    Map<String, Object> args = delayQueueArgs(delayMillis, amqp.exchange(), routingKey);
    client.callRetrying(
        "declare delay queue '" + name + "'",
        ch -> {
          declareExchange(ch);
          ch.queueDeclare(name, true, false, amqp.autoDelete(), args);
          ch.queueBind(name, amqp.exchange(), name, bindingArgs);
          return null;
        });
    remember(name);
    return name;
  }

  /**
   * Declares the single {@code AMQP.DelayedQueue} (Go PR #796): dead-lettering to the task exchange
   * with {@code routingKey}, no TTL arguments (each message carries its expiration). Like Go, the
   * dead-letter routing key is fixed by whoever declares the queue first; a task with another
   * routing key is refused (406 PRECONDITION_FAILED).
   */
  String ensureSingleDelayedQueue(AmqpClient client, String routingKey) {
    String name = amqp.delayedQueue();
    String key = name + "\u0000" + routingKey;
    if (declaredDelayQueues.containsKey(key)) {
      return name;
    }
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("x-dead-letter-exchange", amqp.exchange());
    args.put("x-dead-letter-routing-key", routingKey);
    client.callRetrying(
        "declare delayed queue '" + name + "'",
        ch -> {
          declareExchange(ch);
          ch.queueDeclare(name, true, false, amqp.autoDelete(), args);
          ch.queueBind(name, amqp.exchange(), name, bindingArgs);
          return null;
        });
    declaredDelayQueues.put(key, Long.MAX_VALUE);
    return name;
  }

  /**
   * The delay queue for putting a delivered message back into {@code queue} after {@code
   * delayMillis}: Go's per-delay scheme applied to the default exchange ({@code
   * delay.<ms>..<queue>}), so the message returns to exactly the queue it came from, whatever else
   * is bound with its routing key. Java-only (Go requeues at once); published to through the
   * default exchange, so it needs no binding. Its {@code x-expires} is the delay plus {@value
   * #REQUEUE_QUEUE_SPARE_MILLIS} ms, so even a requeue of a few milliseconds never lands in a queue
   * about to expire.
   */
  String ensureRequeueQueue(AmqpClient client, long delayMillis, String queue) {
    String name = delayQueueName(delayMillis, "", queue);
    if (recentlyDeclared(name, delayMillis)) {
      return name;
    }
    Map<String, Object> args = delayQueueArgs(delayMillis, "", queue);
    args.put(
        "x-expires",
        delayMillis + REQUEUE_QUEUE_SPARE_MILLIS); // Java-only: may outlive Go's 2 × delay (F20)
    client.callRetrying(
        "declare requeue delay queue '" + name + "'",
        ch -> {
          ch.queueDeclare(name, true, false, amqp.autoDelete(), args);
          return null;
        });
    remember(name);
    return name;
  }

  private boolean recentlyDeclared(String name, long delayMillis) {
    Long at = declaredDelayQueues.get(name);
    return at != null
        && System.nanoTime() - at < delayMillis * 500_000L; // half the delay, in nanoseconds
  }

  private void remember(String name) {
    if (declaredDelayQueues.size() >= DELAY_CACHE_LIMIT) {
      declaredDelayQueues.clear();
    }
    declaredDelayQueues.put(name, System.nanoTime());
  }

  /** The dead-letter exchange and {@code <queue>.dead_letters}, bound with the queue's name. */
  void ensureDeadLetterQueue(AmqpClient client, String queue) {
    if (declaredDeadLetterQueues.contains(queue)) {
      return;
    }
    String name = queue + DEAD_LETTER_SUFFIX;
    client.callRetrying(
        "declare dead-letter queue '" + name + "'",
        ch -> {
          ch.exchangeDeclare(DEAD_LETTER_EXCHANGE, "direct", true, false, false, null);
          ch.queueDeclare(name, true, false, false, null);
          ch.queueBind(name, DEAD_LETTER_EXCHANGE, queue, null);
          return null;
        });
    declaredDeadLetterQueues.add(queue);
  }
}
