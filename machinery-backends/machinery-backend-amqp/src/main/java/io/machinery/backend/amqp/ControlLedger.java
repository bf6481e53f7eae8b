package io.machinery.backend.amqp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.UnroutableException;
import io.machinery.spi.ControlPlane.BreakerOpening;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The revoked tasks, the task limits set at run time and the breaker openings of an AMQP-only
 * deployment ({@link AmqpControlPlane}), kept in RabbitMQ as a log of changes.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Changes, not state.</b> Each revocation, limit set or cleared and breaker opened or
 *       closed is one persistent JSON message published (confirmed) to the durable fanout exchange
 *       {@value #EXCHANGE}. Two kinds of queue are bound to it: the ledger {@value #LEDGER}
 *       (durable, classic), which keeps what is in force for planes that start later, and each
 *       reading plane's inbox, a server-named exclusive queue that lives with its connection, from
 *       which the plane learns what changed since it read the ledger.
 *   <li><b>Reading.</b> A plane reads the ledger when it first reads, after binding its inbox (a
 *       change then found in both is applied twice, which changes nothing), and again, from
 *       scratch, whenever its connection was replaced (the inbox went with the old one). After that
 *       a read drains the inbox: one basic.get when nothing changed, so a worker's heartbeat pays
 *       one round trip each for revocations and limits (and openings, when it keeps breakers), and
 *       never waits for the management API.
 *   <li><b>Last writer wins, in a causal order.</b> A change carries a time in microseconds and a
 *       random id; per task name and per breaker key the change with the latest (time, id) stands,
 *       whatever order two queues received concurrent writers' messages in. A writer reads first
 *       and stamps its change later than every change it has seen of that name or key (and than its
 *       own last one), so an operator's clearing after a setting wins even when made from a host
 *       whose clock is behind. A clearing or closing is a change too (a tombstone), so an older
 *       setting still in flight cannot come back. A revocation's expiry only grows.
 *   <li><b>One ledger reader at a time.</b> basic.get hides a message from other readers until it
 *       is handed back, so two planes walking the ledger at once would each see part of it. A
 *       walker first declares the exclusive queue {@value #LOCK} (RabbitMQ refuses it to any other
 *       connection with RESOURCE_LOCKED, and deletes it when its holder's connection dies), walks,
 *       hands the messages back by closing its channel, and deletes the lock; walkers in one JVM
 *       also take a lock of the JVM (one connection may be shared). Writers never wait for it.
 *   <li><b>Compaction.</b> The walker acknowledges, so drops, what no longer counts: changes
 *       superseded by later ones, revocations and openings whose time is up, tombstones older than
 *       {@link #TOMBSTONE_LINGER} (a superseded change in flight arrived long before) and messages
 *       that do not decode (logged). The ledger so holds about one message per name and key in
 *       force, plus the changes since the last walk. RabbitMQ drops revocations and openings at
 *       their time too (a per-message TTL).
 *   <li><b>Clocks.</b> Expiries are kept in the writer's clock (RabbitMQ tells no time over AMQP)
 *       and compared with the reader's, so hosts should keep NTP time: a skew moves a revocation's
 *       or an opening's end by as much.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class ControlLedger {
  private static final Logger log = LoggerFactory.getLogger(ControlLedger.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  static final String EXCHANGE = "machinery_control.changes";
  static final String LEDGER = "machinery_control.ledger";
  static final String LOCK = "machinery_control.ledger.lock";

  /** How long a clearing or closing stays in the ledger after it was made. */
  static final Duration TOMBSTONE_LINGER = Duration.ofHours(1);

  /** The most changes one read takes from the inbox; the rest wait for the next read. */
  static final int MAX_DRAIN = 10_000;

  /**
   * The most task UUIDs one revocation message carries (about 40 kB): cancelling a large group
   * publishes several, each well under {@link #MAX_CHANGE_BYTES}.
   */
  static final int MAX_REVOKED_PER_CHANGE = 1_000;

  /** The most bytes of one change a reader decodes; a larger message is dropped as malformed. */
  static final int MAX_CHANGE_BYTES = 256 << 10;

  /** RabbitMQ's largest per-message TTL (2^32 - 1 ms, about 49 days). */
  private static final long MAX_EXPIRATION_MILLIS = 0xFFFF_FFFFL;

  private static final Map<String, Object> CLASSIC = Map.of("x-queue-type", "classic");

  /** Walkers of this JVM, one at a time: the exclusive lock queue cannot tell them apart. */
  private static final ReentrantLock WALKING = new ReentrantLock();

  private final AmqpClient client;
  private final Clock clock;

  /** The last time stamped on a change by this ledger, in microseconds. */
  private long lastStamp;

  // the view, guarded by this
  private @Nullable String inbox;
  private @Nullable Connection inboxConnection;
  private final Map<String, Long> revoked = new HashMap<>();
  private final Map<String, LimitChange> limits = new HashMap<>();
  private final Map<String, BreakerChange> breakers = new HashMap<>();

  ControlLedger(AmqpClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
  }

  /** The kinds of change, as their JSON field {@code kind} names them (lower case). */
  private enum Kind {
    REVOKE,
    LIMIT,
    BREAKER
  }

  /** One change as published; its time (microseconds) and random id order it among others. */
  private sealed interface Change permits Revocation, Keyed {
    long at();

    String id();
  }

  /**
   * A change that replaces the earlier ones of its subject (last writer wins).
   *
   * <p>{@link LimitChange}: the subject is a task name; {@link BreakerChange}: a breaker key.
   */
  private sealed interface Keyed extends Change permits LimitChange, BreakerChange {
    String subject();

    /** A clearing or closing: kept a while so that an older change in flight cannot come back. */
    boolean tombstone();

    default boolean laterThan(@Nullable Keyed other) {
      return other == null
          || at() > other.at()
          || (at() == other.at() && id().compareTo(other.id()) > 0);
    }
  }

  /** Tasks revoked until {@code until} (epoch ms, the writer's clock). */
  private record Revocation(long at, String id, long until, List<String> tasks) implements Change {}

  /** A task limit set, or cleared when {@code setting} is null. */
  private record LimitChange(long at, String id, String subject, @Nullable TaskLimitSetting setting)
      implements Keyed {
    @Override
    public boolean tombstone() {
      return setting == null;
    }
  }

  /** A breaker opened until {@code until} (epoch ms, the writer's clock), or closed (null). */
  private record BreakerChange(
      long at, String id, String subject, long until, @Nullable BreakerOpening opening)
      implements Keyed {
    @Override
    public boolean tombstone() {
      return opening == null;
    }
  }

  // ------------------------------------------------------------------------------------ writes

  void revoke(Collection<String> taskUuids, Duration ttl) {
    List<String> tasks = new ArrayList<>(taskUuids.size());
    for (String uuid : taskUuids) {
      tasks.add(Objects.requireNonNull(uuid, "task uuid"));
    }
    if (tasks.isEmpty()) {
      return;
    }
    long until = clock.millis() + Math.max(1, ttl.toMillis());
    for (int from = 0; from < tasks.size(); from += MAX_REVOKED_PER_CHANGE) {
      ObjectNode body = change(Kind.REVOKE, nextStamp(0), "").put("until", until);
      ArrayNode array = body.putArray("tasks");
      tasks
          .subList(from, Math.min(tasks.size(), from + MAX_REVOKED_PER_CHANGE))
          .forEach(array::add);
      publish(body, ttl.toMillis());
    }
  }

  void setTaskLimit(String taskName, @Nullable TaskLimitSetting setting) {
    long seen = latest(limits, taskName);
    ObjectNode body = change(Kind.LIMIT, nextStamp(seen), taskName);
    if (setting != null) {
      body.set("setting", tree(setting.toJson()));
    }
    publish(body, 0);
  }

  BreakerOpening openBreaker(String key, Duration openFor, String reason, String openedBy) {
    long seen = latest(breakers, key);
    String id = UUID.randomUUID().toString();
    Instant until = clock.instant().plus(openFor).truncatedTo(ChronoUnit.MILLIS);
    BreakerOpening opening = new BreakerOpening(key, id, until, reason, openedBy);
    ObjectNode body = change(Kind.BREAKER, nextStamp(seen), key, id);
    body.put("until", until.toEpochMilli()).set("opening", tree(opening.toJson()));
    publish(body, openFor.toMillis());
    return opening;
  }

  void closeBreaker(String key) {
    long seen = latest(breakers, key);
    publish(change(Kind.BREAKER, nextStamp(seen), key), 0);
  }

  /** The time of the latest change seen of {@code subject}, reading first; 0 when none. */
  private synchronized long latest(Map<String, ? extends Keyed> changes, String subject) {
    sync();
    Keyed known = changes.get(subject);
    return known == null ? 0 : known.at();
  }

  /** A time later than {@code seen}, than this ledger's last one and, mostly, now. */
  private synchronized long nextStamp(long seen) {
    Instant now = clock.instant();
    long micros = now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    lastStamp = Math.max(micros, Math.max(seen, lastStamp) + 1);
    return lastStamp;
  }

  private static ObjectNode change(Kind kind, long at, String subject) {
    return change(kind, at, subject, UUID.randomUUID().toString());
  }

  private static ObjectNode change(Kind kind, long at, String subject, String id) {
    ObjectNode body = JSON.createObjectNode().put("kind", kind.name().toLowerCase(Locale.ROOT));
    body.put("at", at).put("id", id);
    if (!subject.isEmpty()) {
      body.put("subject", subject);
    }
    return body;
  }

  private static JsonNode tree(byte[] json) {
    try {
      return JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalStateException("cannot re-read JSON just written", e);
    }
  }

  private void publish(ObjectNode change, long ttlMillis) {
    AMQP.BasicProperties.Builder properties =
        new AMQP.BasicProperties.Builder().contentType("application/json").deliveryMode(2);
    if (ttlMillis > 0) {
      properties.expiration(Long.toString(Math.min(ttlMillis, MAX_EXPIRATION_MILLIS)));
    }
    byte[] body;
    try {
      body = JSON.writeValueAsBytes(change);
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode a control change", e);
    }
    declareLedger();
    try {
      client.publish(EXCHANGE, "", properties.build(), body);
    } catch (UnroutableException e) {
      declareLedger(); // deleted between the declaration and the publish
      client.publish(EXCHANGE, "", properties.build(), body);
    }
  }

  private void declareLedger() {
    client.callRetrying(
        "declare the control ledger",
        ch -> {
          ch.exchangeDeclare(EXCHANGE, "fanout", true);
          ch.queueDeclare(LEDGER, true, false, false, CLASSIC);
          return ch.queueBind(LEDGER, EXCHANGE, "");
        });
  }

  // ------------------------------------------------------------------------------------- reads

  synchronized Set<String> revoked() {
    sync();
    long now = clock.millis();
    revoked.values().removeIf(until -> until <= now);
    return Set.copyOf(revoked.keySet());
  }

  synchronized Map<String, TaskLimitSetting> taskLimits() {
    sync();
    Map<String, TaskLimitSetting> out = new HashMap<>();
    limits.forEach(
        (task, change) -> {
          if (change.setting() != null) {
            out.put(task, change.setting());
          }
        });
    return Map.copyOf(out);
  }

  synchronized Map<String, BreakerOpening> openBreakers() {
    sync();
    long now = clock.millis();
    Map<String, BreakerOpening> out = new HashMap<>();
    breakers.forEach(
        (key, change) -> {
          if (change.opening() != null && change.until() > now) {
            out.put(key, change.opening());
          }
        });
    return Map.copyOf(out);
  }

  /** Brings the view up to date: the inbox, after the ledger when the inbox is new. */
  private void sync() {
    for (int attempt = 1; ; attempt++) {
      Connection current = inboxConnection;
      if (inbox == null || current == null || !current.isOpen()) {
        subscribe();
      }
      try {
        drain(Objects.requireNonNull(inbox));
        return;
      } catch (AmqpOperationException e) {
        inbox = null; // gone with its connection: subscribe again and read the ledger
        if (attempt == 2
            || !(e.connectionLost() || e.replyCode() == AmqpOperationException.NOT_FOUND)) {
          throw e;
        }
      }
    }
  }

  /** A new inbox on the current connection, then the ledger read from scratch. */
  private void subscribe() {
    declareLedger();
    Channel channel = client.openChannel();
    String name;
    try {
      name = channel.queueDeclare("", false, true, false, CLASSIC).getQueue();
      channel.queueBind(name, EXCHANGE, "");
    } catch (IOException | ShutdownSignalException e) {
      throw AmqpOperationException.of("declare this process's control inbox", e);
    } finally {
      AmqpClient.closeQuietly(channel);
    }
    inbox = name;
    inboxConnection = channel.getConnection();
    revoked.clear();
    limits.clear();
    breakers.clear();
    walkLedger();
  }

  private void drain(String queue) {
    client.call(
        "read this process's control inbox",
        ch -> {
          for (int i = 0; i < MAX_DRAIN; i++) {
            GetResponse response = ch.basicGet(queue, true);
            if (response == null) {
              break;
            }
            try {
              apply(decode(response.getBody()));
            } catch (MalformedMessageException e) {
              log.warn("Skipping a control change that does not decode: {}", e.getMessage());
            }
          }
          return null;
        });
  }

  /** Puts a change into the view; later changes of a name or key replace earlier ones. */
  private void apply(@Nullable Change change) {
    switch (change) {
      case null -> {} // a kind of change this version does not know
      case Revocation r -> r.tasks().forEach(uuid -> revoked.merge(uuid, r.until(), Math::max));
      case LimitChange l -> {
        if (l.laterThan(limits.get(l.subject()))) {
          limits.put(l.subject(), l);
        }
      }
      case BreakerChange b -> {
        if (b.laterThan(breakers.get(b.subject()))) {
          breakers.put(b.subject(), b);
        }
      }
    }
  }

  /** One message of the ledger, read and not yet settled. */
  private record Read(long tag, @Nullable Change change) {}

  /**
   * Reads the whole ledger into the view under its lock, drops what no longer counts, and hands the
   * rest back (see the design notes).
   */
  private void walkLedger() {
    WALKING.lock();
    try {
      Channel lock = acquireLock();
      Channel channel = null;
      try {
        channel = client.openChannel();
        List<Read> reads = new ArrayList<>();
        for (GetResponse r; (r = channel.basicGet(LEDGER, false)) != null; ) {
          long tag = r.getEnvelope().getDeliveryTag();
          try {
            reads.add(new Read(tag, decode(r.getBody())));
          } catch (MalformedMessageException e) {
            log.warn("Dropping a control change that does not decode: {}", e.getMessage());
            channel.basicAck(tag, false);
          }
        }
        for (Read read : reads) {
          apply(read.change());
        }
        for (long tag : compacted(reads)) {
          channel.basicAck(tag, false);
        }
      } catch (IOException | ShutdownSignalException e) {
        throw AmqpOperationException.of("read the control ledger", e);
      } finally {
        AmqpClient.closeQuietly(channel); // hands back what was not dropped
        release(lock);
      }
    } finally {
      WALKING.unlock();
    }
  }

  /** The delivery tags of what no longer counts, judged after {@code reads} are in the view. */
  private List<Long> compacted(List<Read> reads) {
    long now = clock.millis();
    long lingerMicros = TOMBSTONE_LINGER.toMillis() * 1_000;
    long nowMicros = now * 1_000;
    List<Long> drop = new ArrayList<>();
    for (Read read : reads) {
      boolean counts =
          switch (read.change()) {
            case null -> true; // a newer version's change: kept for it
            case Revocation r -> r.until() > now;
            case LimitChange l -> standing(l, limits) && !old(l, nowMicros - lingerMicros);
            case BreakerChange b ->
                standing(b, breakers)
                    && (b.until() == 0 || b.until() > now)
                    && !old(b, nowMicros - lingerMicros);
          };
      if (!counts) {
        drop.add(read.tag());
      }
    }
    return drop;
  }

  /** Whether {@code change} is the one in force for its subject (no later one superseded it). */
  private static boolean standing(Keyed change, Map<String, ? extends Keyed> view) {
    return view.get(change.subject()) == change;
  }

  /** Whether {@code change} is a tombstone made before {@code micros}. */
  private static boolean old(Keyed change, long micros) {
    return change.tombstone() && change.at() < micros;
  }

  private Channel acquireLock() {
    long deadline = System.nanoTime() + client.publishTimeout().toNanos();
    long backoffMillis = 2;
    while (true) {
      Channel channel = client.openChannel();
      try {
        channel.queueDeclare(LOCK, false, true, false, CLASSIC);
        return channel;
      } catch (IOException | ShutdownSignalException e) {
        AmqpClient.closeQuietly(channel);
        AmqpOperationException error = AmqpOperationException.of("lock the control ledger", e);
        if (error.replyCode() != AmqpOperationException.RESOURCE_LOCKED
            || System.nanoTime() - deadline >= 0) {
          throw error;
        }
      }
      try {
        Thread.sleep(backoffMillis); // another process walks the ledger: a few milliseconds
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException("interrupted while waiting to read the control ledger", e);
      }
      backoffMillis = Math.min(100, backoffMillis * 2);
    }
  }

  private static void release(Channel lock) {
    try {
      lock.queueDelete(LOCK);
    } catch (IOException | ShutdownSignalException e) {
      log.debug(
          "Could not delete the control ledger's lock (its connection's end does): {}",
          e.toString());
    } finally {
      AmqpClient.closeQuietly(lock);
    }
  }

  /**
   * Deletes this process's inbox (best effort): on a connection the caller shares, it would
   * otherwise gather changes until that connection closes.
   */
  synchronized void close() {
    String name = inbox;
    Connection on = inboxConnection;
    inbox = null;
    if (name == null || on == null || !on.isOpen()) {
      return;
    }
    try {
      client.call("delete this process's control inbox", ch -> ch.queueDelete(name));
    } catch (RuntimeException e) {
      log.debug(
          "Could not delete the control inbox {} (its connection's end does): {}",
          name,
          e.toString());
    }
  }

  // ------------------------------------------------------------------------------ decoding

  /** The change in {@code body}; null for a kind this version does not know. */
  private static @Nullable Change decode(byte[] body) {
    if (body.length > MAX_CHANGE_BYTES) {
      throw new MalformedMessageException(
          "a control change of " + body.length + " bytes is over the limit of " + MAX_CHANGE_BYTES);
    }
    JsonNode n;
    try {
      n = JSON.readTree(body);
    } catch (IOException e) {
      throw new MalformedMessageException("not a control change: " + e.getMessage(), e);
    }
    if (n == null || !n.isObject()) {
      throw new MalformedMessageException("not a control change: not a JSON object");
    }
    Kind kind;
    try {
      kind = Kind.valueOf(n.path("kind").asText().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return null;
    }
    if (!n.path("at").canConvertToLong() || !n.path("id").isTextual()) {
      throw new MalformedMessageException("not a control change: no time or id");
    }
    long at = n.path("at").longValue();
    String id = n.path("id").asText();
    String subject = n.path("subject").asText("");
    long until = n.path("until").asLong(0);
    try {
      return switch (kind) {
        case REVOKE -> {
          Set<String> tasks = new HashSet<>();
          n.path("tasks").forEach(t -> tasks.add(t.asText()));
          yield new Revocation(at, id, until, List.copyOf(tasks));
        }
        case LIMIT -> {
          JsonNode setting = n.get("setting");
          yield new LimitChange(
              at,
              id,
              TaskLimitSetting.requireTaskName(subject),
              setting == null ? null : TaskLimitSetting.fromJson(JSON.writeValueAsBytes(setting)));
        }
        case BREAKER -> {
          JsonNode opening = n.get("opening");
          yield new BreakerChange(
              at,
              id,
              BreakerOpening.requireBreakerKey(subject),
              until,
              opening == null
                  ? null
                  : BreakerOpening.fromJson(
                      subject, Instant.ofEpochMilli(until), JSON.writeValueAsBytes(opening)));
        }
      };
    } catch (IOException | IllegalArgumentException e) {
      throw new MalformedMessageException("not a control change: " + e.getMessage(), e);
    }
  }
}
