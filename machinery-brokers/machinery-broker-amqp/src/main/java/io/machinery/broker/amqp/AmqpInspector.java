package io.machinery.broker.amqp;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.RabbitManagement;
import io.machinery.client.amqp.UnroutableException;
import io.machinery.config.Config;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Inspector} of an {@link AmqpBroker}: what RabbitMQ can tell about Machinery's queues
 * without taking tasks away from workers.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Sizes.</b> Pending and dead-lettered counts are exact: queue.declare-passive on the
 *       queue and on {@code <queue>.dead_letters} (ready messages; those a worker holds are not
 *       counted). Delayed tasks live in Go's delay queues ({@code
 *       delay.<ms>.<exchange>.<routingKey>}, the requeue queues {@code delay.<ms>..<queue>} and the
 *       optional single {@code AMQP.DelayedQueue}); AMQP cannot list queues, so they are found
 *       through the management API by their dead-letter arguments (exchange and routing key: where
 *       their messages go when due), and counted from its statistics, which lag by up to the
 *       plugin's {@code collect_statistics_interval} (5 s). A delay queue belongs to a queue when
 *       its messages go to the task exchange with the queue's binding key or name, or straight to
 *       the queue.
 *   <li><b>Listing without consuming.</b> A page is read with basic.get without acknowledgement on
 *       a channel of its own ({@link AmqpClient#peek}), then every message is returned at once by
 *       closing the channel (which RabbitMQ also does if this process dies). Chosen over the
 *       management API's {@code get} (which does the same internally, ack_requeue_true) because it
 *       uses the broker's own connection, TLS and credentials and needs no second port. Effects,
 *       honestly: on a classic queue a returned message goes back to its place, but it carries the
 *       redelivered flag from then on (a worker then treats it as possibly run before and checks
 *       its stored state first); while a page is read its messages are hidden from workers, so a
 *       worker may take a later task first; a page at {@code offset} reads {@code offset + limit}
 *       messages. Delay-queue messages keep their expiry when returned (RabbitMQ keeps a requeued
 *       message's original expiry), but cannot expire while they are held. A quorum queue counts
 *       every return as a delivery ({@code x-delivery-count}), which would push tasks toward the
 *       worker's poison limit, so pending tasks of quorum worker queues are not listed
 *       (UnsupportedOperationException); their sizes are.
 *   <li><b>Order.</b> Pending and dead letters are listed in queue order (oldest first; returned
 *       messages keep their place). Delayed tasks are merged soonest first by the ETA in each
 *       message: every per-delay queue has one TTL, so its head is its soonest; the single delayed
 *       queue releases messages only at its head, so a message there is due no sooner than those
 *       before it. A message put back with a delay carries no due time (no ETA in its body, no
 *       timestamp): it sorts as due now. A delay queue whose sampled count is 0 is not read (so a
 *       task published within the last sample may be missing from both the count and the listing).
 *       A page of delayed tasks reads up to {@code offset + limit} messages from each of the
 *       queue's delay queues (Go makes one per distinct delay), so its cost grows with them.
 *   <li><b>Repairs.</b> Dead letters are requeued by publishing each selected one to the tail of
 *       its queue (default exchange, mandatory, publisher confirm) and only then acknowledging it:
 *       a process that dies in between leaves the dead letter in place as well, so a task may be
 *       requeued twice but never lost. Deleting is acknowledging. Unselected entries are returned
 *       in place. A dead letter cut to a preview (its message was over {@code MaxMessageBytes}) is
 *       never requeued: it would run a broken task.
 *   <li><b>Ids.</b> Dead letters have no message id (Go sets none); an entry's id is a hash of its
 *       body, reason and dead-letter time, stable across listings.
 * </ul>
 *
 * <p>Thread-safe (each call uses channels of its own).
 *
 * <p>Size: the {@code Inspector} SPI on RabbitMQ, one short method per operation (sizes by passive
 * declare, listings by basic.get, delayed tasks through the management API).
 */
final class AmqpInspector implements Inspector, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AmqpInspector.class);
  private static final String DELAY_PREFIX = "delay.";

  /**
   * The AMQP result backend's state queues (named after task, group and chord UUIDs, bound to the
   * task exchange with their names): not task queues, so {@link #queues()} leaves them out.
   */
  private static final java.util.regex.Pattern STATE_QUEUE =
      java.util.regex.Pattern.compile(
          "(task|group|chord)_\\p{XDigit}{8}(-\\p{XDigit}{4}){3}-\\p{XDigit}{12}");

  private final Config config;
  private final Clock clock;
  private final Topology topology;
  private final AmqpClient client;
  private final RabbitManagement management;

  AmqpInspector(
      Config config,
      Clock clock,
      Topology topology,
      AmqpClient client,
      RabbitManagement management) {
    this.config = config;
    this.clock = clock;
    this.topology = topology;
    this.client = client;
    this.management = management;
  }

  private String name(String queue) {
    return Objects.requireNonNull(queue, "queue").isEmpty() ? config.defaultQueue() : queue;
  }

  // ------------------------------------------------------------------------------------------
  // sizes

  @Override
  public List<QueueStats> queues() {
    Set<String> names = new TreeSet<>();
    for (JsonNode binding : management.bindingsFrom(topology.exchange())) {
      String destination = binding.path("destination").asText();
      if ("queue".equals(binding.path("destination_type").asText())
          && !isDelayQueue(destination)
          && !STATE_QUEUE.matcher(destination).lookingAt()) {
        names.add(destination);
      }
    }
    for (JsonNode binding : management.bindingsFrom(Topology.DEAD_LETTER_EXCHANGE)) {
      if (binding
          .path("destination")
          .asText()
          .equals(binding.path("routing_key").asText() + Topology.DEAD_LETTER_SUFFIX)) {
        names.add(binding.path("routing_key").asText());
      }
    }
    List<DelayQueue> delays = delayQueues();
    List<QueueStats> out = new ArrayList<>(names.size());
    for (String name : names) {
      out.add(stats(name, delays));
    }
    return out;
  }

  @Override
  public QueueStats queue(String queue) {
    return stats(name(queue), delayQueues());
  }

  /** One passive declaration: the queue's ready messages (no delay queues, no management API). */
  @Override
  public long pendingCount(String queue) {
    return readyCount(name(queue));
  }

  private QueueStats stats(String name, List<DelayQueue> delays) {
    long delayed = 0;
    for (DelayQueue delay : delays) {
      if (feeds(delay, name)) {
        delayed += Math.max(0, delay.ready());
      }
    }
    // RabbitMQ does not record when a message was published (Go sets no timestamp): no oldest age
    return new QueueStats(
        name, readyCount(name), delayed, readyCount(name + Topology.DEAD_LETTER_SUFFIX), null);
  }

  private long readyCount(String queue) {
    try {
      return client.callRetrying(
          "inspect queue '" + queue + "'", ch -> ch.queueDeclarePassive(queue).getMessageCount());
    } catch (AmqpOperationException e) {
      if (e.replyCode() == AmqpOperationException.NOT_FOUND) {
        return 0;
      }
      throw e;
    }
  }

  private boolean isDelayQueue(String queue) {
    return queue.startsWith(DELAY_PREFIX) || queue.equals(config.amqp().delayedQueue());
  }

  /**
   * A delay queue: where its messages go when due, and its ready count (-1 while the plugin has no
   * sample).
   */
  private record DelayQueue(
      String name,
      long ready,
      String deadLetterExchange,
      String deadLetterRoutingKey,
      boolean single) {}

  /**
   * Whether due messages of {@code delay} land in {@code queue}: a requeue queue sends them
   * straight to it; a task delay queue to the task exchange with the routing key a publisher used
   * for it (its binding key, or its name for a queue of its own).
   */
  private boolean feeds(DelayQueue delay, String queue) {
    if (delay.deadLetterExchange().isEmpty()) {
      return delay.deadLetterRoutingKey().equals(queue);
    }
    return delay.deadLetterExchange().equals(topology.exchange())
        && (delay.deadLetterRoutingKey().equals(queue)
            || delay.deadLetterRoutingKey().equals(topology.workerQueue(queue).bindingKey()));
  }

  private List<DelayQueue> delayQueues() {
    String single = config.amqp().delayedQueue();
    String regex =
        "^("
            + RabbitManagement.literal(DELAY_PREFIX)
            + ".*"
            + (single.isEmpty() ? "" : "|" + RabbitManagement.literal(single))
            + ")$";
    List<DelayQueue> out = new ArrayList<>();
    for (JsonNode queue : management.queues(regex, "name,messages_ready,arguments")) {
      String name = queue.path("name").asText();
      JsonNode args = queue.path("arguments");
      if (!isDelayQueue(name) || !args.has("x-dead-letter-routing-key")) {
        continue; // the plugin's regex is case-insensitive; and not every queue named delay.* is
        // Go's
      }
      out.add(
          new DelayQueue(
              name,
              queue.path("messages_ready").asLong(-1),
              args.path("x-dead-letter-exchange").asText(""),
              args.path("x-dead-letter-routing-key").asText(),
              name.equals(single)));
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // listings

  @Override
  public List<Signature> pending(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    if (topology.isQuorum()) {
      throw new UnsupportedOperationException(
          "listing the tasks of a quorum queue would count as a delivery of "
              + "each (x-delivery-count) and push them toward the poison limit; use queue(...) for its size");
    }
    String name = name(queue);
    List<Signature> out = new ArrayList<>();
    int[] index = {0};
    client.peek(
        List.of(name),
        offset + limit,
        (q, response) -> {
          if (index[0]++ >= offset) {
            decode(response.getBody(), q).ifPresent(out::add);
          }
        });
    return out;
  }

  @Override
  public List<Signature> delayed(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    String name = name(queue);
    List<DelayQueue> mine =
        delayQueues().stream().filter(d -> feeds(d, name) && d.ready() != 0).toList();
    record Due(Instant at, long seq, Signature task) {}
    List<Due> all = new ArrayList<>();
    Instant now = clock.instant();
    Map<String, Instant> singleHead = new HashMap<>();
    Map<String, DelayQueue> byName = new HashMap<>();
    mine.forEach(d -> byName.put(d.name(), d));
    client.peek(
        mine.stream().map(DelayQueue::name).toList(),
        offset + limit,
        (q, response) ->
            decode(response.getBody(), q)
                .ifPresent(
                    task -> {
                      Instant at = task.eta() == null ? now : task.eta().toInstant();
                      DelayQueue source = byName.get(q);
                      if (source != null
                          && source
                              .single()) { // released only at the head: due no sooner than those
                        // before it
                        Instant before = singleHead.getOrDefault(q, Instant.MIN);
                        at = at.isBefore(before) ? before : at;
                        singleHead.put(q, at);
                      }
                      all.add(new Due(at, all.size(), task));
                    }));
    all.sort(Comparator.comparing(Due::at).thenComparingLong(Due::seq));
    return all.stream().skip(offset).limit(limit).map(Due::task).toList();
  }

  @Override
  public List<DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    String name = name(queue);
    List<DeadLetterEntry> out = new ArrayList<>();
    int[] index = {0};
    client.peek(
        List.of(name + Topology.DEAD_LETTER_SUFFIX),
        offset + limit,
        (q, response) -> {
          if (index[0]++ >= offset) {
            out.add(entry(name, response));
          }
        });
    return out;
  }

  private static java.util.Optional<Signature> decode(byte[] body, String queue) {
    try {
      return java.util.Optional.of(WireCodec.decodeSignature(body));
    } catch (MalformedMessageException | StackOverflowError e) {
      log.debug("Message in '{}' is not a task; not listed", queue);
      return java.util.Optional.empty();
    }
  }

  private static DeadLetterEntry entry(String queue, GetResponse response) {
    Map<String, Object> headers = headers(response.getProps());
    String reason =
        String.valueOf(
            headers.getOrDefault(Topology.DEAD_LETTER_REASON_HEADER, "(no reason recorded)"));
    String from = String.valueOf(headers.getOrDefault(Topology.DEAD_LETTER_QUEUE_HEADER, queue));
    Object atMillis = headers.get(Topology.DEAD_LETTER_AT_HEADER);
    Instant at = atMillis instanceof Number n ? Instant.ofEpochMilli(n.longValue()) : Instant.EPOCH;
    return new DeadLetterEntry(
        id(response.getBody(), reason, at), from, reason, at, response.getBody());
  }

  private static Map<String, Object> headers(AMQP.BasicProperties properties) {
    return properties.getHeaders() == null ? Map.of() : properties.getHeaders();
  }

  private static String id(byte[] body, String reason, Instant at) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(body);
      digest.update((byte) 0);
      digest.update(reason.getBytes(StandardCharsets.UTF_8));
      digest.update(Long.toString(at.toEpochMilli()).getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(digest.digest(), 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // repairs

  @Override
  public int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(name(queue), Objects.requireNonNull(which, "which"), true);
  }

  @Override
  public int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(name(queue), Objects.requireNonNull(which, "which"), false);
  }

  /**
   * Walks the dead letters once (as many as there were when it started), settling each selected
   * one: a requeue publishes it with a confirm before acknowledging it (see the class notes); the
   * unselected go back in place at the end.
   */
  private int repair(String name, Predicate<DeadLetterEntry> which, boolean requeue) {
    String deadLetters = name + Topology.DEAD_LETTER_SUFFIX;
    long count = readyCount(deadLetters);
    if (count == 0) {
      return 0;
    }
    Channel channel = client.openChannel();
    int done = 0;
    try {
      for (long i = 0; i < count; i++) {
        GetResponse response = channel.basicGet(deadLetters, false);
        if (response == null) {
          break;
        }
        DeadLetterEntry entry = entry(name, response);
        if (!which.test(entry)) {
          continue;
        }
        if (requeue) {
          if (io.machinery.wire.BodyPreview.isPreview(headers(response.getProps()))) {
            log.warn(
                "Dead letter {} of '{}' keeps only a preview of an oversized message; not requeued (delete it)",
                entry.id(),
                name);
            continue;
          }
          republish(name, response);
        }
        channel.basicAck(response.getEnvelope().getDeliveryTag(), false);
        done++;
      }
    } catch (IOException e) {
      throw AmqpOperationException.of(
          (requeue ? "requeue" : "delete") + " dead letters of '" + name + "'", e);
    } finally {
      AmqpClient.closeQuietly(channel); // returns the unselected in place
    }
    return done;
  }

  /**
   * Publishes a dead letter's message to the tail of {@code queue} as first published, and waits
   * for the confirm.
   */
  private void republish(String queue, GetResponse response) {
    Map<String, Object> headers = new HashMap<>(headers(response.getProps()));
    headers.remove(Topology.DEAD_LETTER_REASON_HEADER);
    headers.remove(Topology.DEAD_LETTER_QUEUE_HEADER);
    headers.remove(Topology.DEAD_LETTER_AT_HEADER);
    AMQP.BasicProperties properties =
        response
            .getProps()
            .builder()
            .headers(headers.isEmpty() ? null : headers)
            .expiration(null)
            .build();
    try {
      client.publish("", queue, properties, response.getBody());
    } catch (UnroutableException e) {
      // the queue was deleted since: declare it (as a worker would) and publish once more
      client.callRetrying(
          "declare queue '" + queue + "'",
          ch -> {
            topology.declareTaskQueue(ch, topology.workerQueue(queue));
            return null;
          });
      client.publish("", queue, properties, response.getBody());
    }
  }

  // ------------------------------------------------------------------------------------------
  // purge

  @Override
  public long purge(String queue) {
    String name = name(queue);
    try {
      return client.callRetrying(
          "purge queue '" + name + "'", ch -> ch.queuePurge(name).getMessageCount());
    } catch (AmqpOperationException e) {
      if (e.replyCode() == AmqpOperationException.NOT_FOUND) {
        return 0;
      }
      throw e;
    }
  }

  @Override
  public void close() {
    management.close();
  }

  @Override
  public String toString() {
    return "AmqpInspector{" + client.urls() + ", management=" + management + "}";
  }
}
