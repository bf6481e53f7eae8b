package io.machinery.broker.amqp;

import com.rabbitmq.client.AMQP;
import io.machinery.Signature;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.UnroutableException;
import io.machinery.config.Config;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the AMQP broker publishes: tasks (at once or through Go's delay queues), messages a
 * worker puts back after a delay, and dead letters. Each publish waits for RabbitMQ's confirm; a
 * returned message or a missing exchange makes the topology declare everything again and publish
 * once more. See {@link AmqpBroker} for the delay rules. Thread-safe.
 */
final class Publishing {
  private static final Logger log = LoggerFactory.getLogger(Publishing.class);
  static final String CONTENT_TYPE = "application/json";
  static final int PERSISTENT = 2;

  /**
   * The shortest delay sent through a task delay queue (see the class notes of {@link AmqpBroker}).
   */
  static final long MIN_DELAY_MILLIS = 1_000;

  /** How much of an oversized message its dead letter keeps. */
  static final int DEAD_LETTER_PREVIEW_BYTES = io.machinery.wire.BodyPreview.PREVIEW_BYTES;

  /**
   * The longest delay RabbitMQ can hold, 2^31-1 ms (24 days 20 h): it refuses a queue whose {@code
   * x-expires}, twice the delay in Go's per-delay queues, is over 2^32-1 ms ({@code
   * value_too_large}), and the same limit bounds a message TTL.
   */
  static final long MAX_DELAY_MILLIS = Integer.MAX_VALUE;

  /** How many different delays a requeue with one requested delay can get (see {@link #spread}). */
  static final int SPREAD_STEPS = 16;

  private final Config config;
  private final Clock clock;
  private final Topology topology;
  private final AmqpClient publisher;

  Publishing(Config config, Clock clock, Topology topology, AmqpClient publisher) {
    this.config = config;
    this.clock = clock;
    this.topology = topology;
    this.publisher = publisher;
  }

  /**
   * Publishes a task: at once, or through a delay queue when its ETA is ahead (see {@link
   * AmqpBroker}).
   */
  void publish(Signature signature, byte[] message) {
    String routingKey = topology.routingKeyFor(signature);
    AMQP.BasicProperties properties = properties(signature);
    long delayMillis = delayMillis(signature);
    if (delayMillis > MAX_DELAY_MILLIS) {
      throw new IllegalArgumentException(
          "task "
              + signature.uuid()
              + " is due at "
              + signature.eta()
              + ", "
              + java.time.Duration.ofMillis(delayMillis).toDays()
              + " days ahead: RabbitMQ delays a message at most "
              + MAX_DELAY_MILLIS
              + " ms (24 days 20 h; queue arguments x-message-ttl and x-expires)");
    }
    try {
      send(routingKey, properties, message, delayMillis);
    } catch (AmqpOperationException e) {
      // a message beside an oversized one on its channel is sent again by the client: this one is
      // refused only for its own size
      throw tooLarge(e, message) ? tooLargeForRabbitMq(signature, message, e) : e;
    }
  }

  private void send(
      String routingKey, AMQP.BasicProperties properties, byte[] message, long delayMillis) {
    if (delayMillis > 0) {
      publishDelayed(routingKey, properties, message, Math.max(MIN_DELAY_MILLIS, delayMillis));
    } else {
      publishWithRepair(
          () -> topology.ensurePublishTarget(publisher, routingKey),
          topology.exchange(),
          routingKey,
          properties,
          message);
    }
  }

  private static final java.util.regex.Pattern TOO_LARGE =
      java.util.regex.Pattern.compile("larger than configured max size (\\d+)");

  /**
   * Whether RabbitMQ refused {@code message} for being over its {@code max_message_size} (406
   * "message size N is larger than configured max size M").
   */
  static boolean tooLarge(Throwable e, byte[] message) {
    long max = sizeLimitRefused(e);
    return max >= 0 && message.length > max;
  }

  /** The {@code max_message_size} a 406 names, or -1 for any other error. */
  private static long sizeLimitRefused(Throwable e) {
    if (!(e instanceof AmqpOperationException a)
        || a.replyCode() != AmqpOperationException.PRECONDITION_FAILED) {
      return -1;
    }
    java.util.regex.Matcher m = TOO_LARGE.matcher(String.valueOf(a.getMessage()));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  private static IllegalArgumentException tooLargeForRabbitMq(
      Signature signature, byte[] message, Throwable cause) {
    return new IllegalArgumentException(
        "task "
            + signature.name()
            + " "
            + signature.uuid()
            + " is "
            + message.length
            + " bytes, over RabbitMQ's max_message_size (16 MiB by default on RabbitMQ 4, 128 MiB"
            + " on 3.x; lower Config.maxMessageBytes to match it): "
            + cause.getMessage(),
        cause);
  }

  /**
   * {@link #publish} without waiting for the confirm. A delayed task, and a message that comes back
   * unroutable or lost with its connection, take the waiting path on a virtual thread (declare
   * again, resend), so the outcome is the same as {@link #publish}'s; a timed-out confirm is not
   * resent.
   */
  CompletableFuture<Void> publishAsync(Signature signature, byte[] message) {
    if (delayMillis(signature) > 0) {
      return CompletableFuture.runAsync(() -> publish(signature, message), VIRTUAL);
    }
    String routingKey = topology.routingKeyFor(signature);
    try {
      topology.ensurePublishTarget(publisher, routingKey); // declared once, then remembered
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    return publisher
        .publishAsync(topology.exchange(), routingKey, properties(signature), message)
        .exceptionallyCompose(
            e -> {
              Throwable cause =
                  e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                      ? e.getCause()
                      : e;
              if (cause instanceof AmqpOperationException a
                  && a.getCause() instanceof java.util.concurrent.TimeoutException) {
                return CompletableFuture.failedFuture(cause);
              }
              if (tooLarge(cause, message)) { // sending it again would close another channel
                return CompletableFuture.failedFuture(
                    tooLargeForRabbitMq(signature, message, cause));
              }
              return CompletableFuture.runAsync(() -> publish(signature, message), VIRTUAL);
            });
  }

  private static final java.util.concurrent.Executor VIRTUAL =
      command -> Thread.ofVirtual().name("machinery-amqp-publish").start(command);

  private long delayMillis(Signature signature) {
    OffsetDateTime eta = signature.eta();
    if (eta == null) {
      return 0;
    }
    return eta.toInstant().toEpochMilli() - clock.millis();
  }

  private void publishDelayed(
      String routingKey, AMQP.BasicProperties properties, byte[] message, long delayMillis) {
    String delayedQueue = config.amqp().delayedQueue();
    if (delayedQueue.isEmpty()) {
      publishWithRepair(
          () -> {
            // the task's own queue must exist when the message leaves the delay queue:
            // dead-lettering is not mandatory
            topology.ensurePublishTarget(publisher, routingKey);
            topology.ensureDelayQueue(publisher, delayMillis, routingKey);
          },
          topology.exchange(),
          Topology.delayQueueName(delayMillis, topology.exchange(), routingKey),
          properties,
          message);
    } else {
      AMQP.BasicProperties expiring =
          properties.builder().expiration(Long.toString(delayMillis)).build();
      publishWithRepair(
          () -> {
            topology.ensurePublishTarget(publisher, routingKey);
            topology.ensureSingleDelayedQueue(publisher, routingKey);
          },
          topology.exchange(),
          delayedQueue,
          expiring,
          message);
    }
  }

  /**
   * Declares what the message needs, publishes it, and when the broker returns it (a queue was
   * deleted) or lacks the exchange, declares everything again and publishes once more.
   */
  private void publishWithRepair(
      Runnable ensure,
      String exchange,
      String routingKey,
      AMQP.BasicProperties properties,
      byte[] body) {
    ensure.run();
    try {
      publisher.publish(exchange, routingKey, properties, body);
      return;
    } catch (UnroutableException e) {
      log.debug("Message to '{}' returned unroutable; declaring its queue again", routingKey);
    } catch (AmqpOperationException e) {
      if (e.replyCode() != AmqpOperationException.NOT_FOUND) {
        throw e;
      }
      log.debug("Exchange '{}' is missing; declaring it again", exchange);
    }
    topology.forgetDeclarations();
    ensure.run();
    publisher.publish(exchange, routingKey, properties, body);
  }

  static AMQP.BasicProperties properties(Signature signature) {
    return new AMQP.BasicProperties.Builder()
        .contentType(CONTENT_TYPE)
        .deliveryMode(PERSISTENT)
        .priority(signature.priority() > 0 ? signature.priority() : null)
        .headers(headerTable(signature.headers()))
        .build();
  }

  /**
   * Go's {@code amqp.Table(sig.Headers)} with every value as a string (tracing headers are
   * strings).
   */
  static @Nullable Map<String, Object> headerTable(Map<String, @Nullable Object> headers) {
    if (headers.isEmpty()) {
      return null;
    }
    Map<String, Object> table = new LinkedHashMap<>(headers.size() * 2);
    for (Map.Entry<String, @Nullable Object> e : headers.entrySet()) {
      Object value = e.getValue();
      if (value != null) {
        table.put(e.getKey(), value instanceof String s ? s : String.valueOf(value));
      }
    }
    return table.isEmpty() ? null : table;
  }

  /**
   * Puts {@code body} into {@code queue} after {@code delay} (through a requeue delay queue) or at
   * once (zero delay: to the tail of the queue), and returns once RabbitMQ confirmed it.
   */
  void requeueLater(String queue, AMQP.BasicProperties original, byte[] body, Duration delay) {
    AMQP.BasicProperties properties = original.builder().expiration(null).build();
    if (delay.isZero() || delay.isNegative()) {
      publisher.publish("", queue, properties, body); // the default exchange routes by queue name
      return;
    }
    // requeue queues outlive their TTL by a minute: no clamp needed for short delays; a delay
    // beyond what RabbitMQ holds (its declaration would be refused, and the original held
    // unacknowledged past consumer_timeout) is kept at the longest one, and comes back early
    long millis =
        Math.min(
            MAX_DELAY_MILLIS,
            spread(
                delay.compareTo(Duration.ofMillis(MAX_DELAY_MILLIS)) > 0
                    ? MAX_DELAY_MILLIS
                    : Math.max(1, delay.toMillis()),
                ThreadLocalRandom.current().nextInt(SPREAD_STEPS)));
    String delayQueue = Topology.delayQueueName(millis, "", queue);
    publishWithRepair(
        () -> topology.ensureRequeueQueue(publisher, millis, queue),
        "",
        delayQueue,
        properties,
        body);
  }

  /**
   * {@code millis} made up to 50% longer in one of {@value #SPREAD_STEPS} steps ({@code step} from
   * 0), so messages put back together do not come back together in the order they left. Two workers
   * that each know only some task names bounce each other's tasks: without this, each worker
   * requeues the task it got first, that task returns first, and RabbitMQ's round robin hands it to
   * the same wrong worker again, round after round (seen in the acceptance suite: five rounds in a
   * row). The steps bound the requeue queues per delay.
   */
  static long spread(long millis, int step) {
    return millis + (millis / (2L * SPREAD_STEPS)) * step;
  }

  /**
   * Sets a message aside in {@code <queue>.dead_letters} with the reason in a header. A message
   * over {@code MaxMessageBytes} keeps only a {@link io.machinery.wire.BodyPreview} (its first
   * bytes, with its size and SHA-256 in headers): a dead-letter queue must not hoard what the
   * worker refused for its size.
   */
  void deadLetter(String queue, AMQP.BasicProperties original, byte[] body, String reason) {
    Map<String, Object> headers = new HashMap<>();
    if (original.getHeaders() != null) {
      headers.putAll(original.getHeaders());
    }
    if (body.length > config.maxMessageBytes()) {
      io.machinery.wire.BodyPreview preview = io.machinery.wire.BodyPreview.of(body);
      headers.put(Topology.DEAD_LETTER_SIZE_HEADER, preview.size());
      headers.put(Topology.DEAD_LETTER_SHA256_HEADER, preview.sha256());
      body = preview.preview();
    }
    headers.put(
        Topology.DEAD_LETTER_REASON_HEADER,
        reason.length() > 4096 ? reason.substring(0, 4096) + "…" : reason);
    headers.put(Topology.DEAD_LETTER_QUEUE_HEADER, queue);
    headers.put(
        Topology.DEAD_LETTER_AT_HEADER, clock.millis()); // for the inspector: AMQP records no time
    AMQP.BasicProperties properties = original.builder().headers(headers).expiration(null).build();
    publishWithRepair(
        () -> topology.ensureDeadLetterQueue(publisher, queue),
        Topology.DEAD_LETTER_EXCHANGE,
        queue,
        properties,
        body);
  }
}
