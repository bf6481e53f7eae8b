package io.machinery.broker.redis;

import static io.machinery.broker.redis.RedisBroker.bytes;

import io.machinery.Signature;
import io.machinery.client.redis.RedisKeys;
import io.machinery.client.redis.RedisSession;
import io.machinery.internal.GoJson;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Inspector} of a {@link RedisBroker}: reads Go's keys and the broker's own, never
 * consumes.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Sizes</b> come from {@code LLEN} of the queue and of its dead-letter list, in one script
 *       per queue ({@link InspectorScripts#QUEUE_STATS}); the delayed count from a pass over {@code
 *       delayed_tasks} inside Redis ({@link InspectorScripts#DELAYED_COUNTS}): Go keeps every
 *       queue's delayed tasks in that one set, so a queue's share is only known from each member's
 *       RoutingKey (found by a pattern; nothing is sent back but the counts). The pass runs in
 *       slices of {@link #DELAYED_SLICE} members, so a large set never holds Redis up for long.
 *       Everything is sent together: one round trip for {@link #queue} and {@link #queues} (two
 *       when the delayed set has more than one slice).
 *   <li><b>Age of the oldest waiting task.</b> A Go message carries no send time, so: when the head
 *       has an ETA (a delayed or retried task, which joined the queue when it fell due) the age is
 *       counted from it; otherwise, and when that is larger, from when an inspector first saw that
 *       message at the head (a side record {@code {queue}:head_seen}, kept {@link
 *       #HEAD_RECORD_RETENTION}). The second is a lower bound that becomes exact for a queue
 *       sampled regularly (the metrics gauge): a head that does not move keeps growing older. The
 *       head message is never sent to the inspector.
 *   <li><b>Listings</b> are pages: {@code LRANGE} for waiting tasks and dead letters (oldest
 *       first); for delayed tasks (soonest first) a script per slice of {@code delayed_tasks} until
 *       the page is full.
 *   <li><b>Dead letters</b> are the broker's capped lists {@code {queue}:dead_letters} of {@link
 *       DeadLetter} envelopes. An entry's id is the first 16 hex digits of the SHA-1 of its
 *       envelope (stable while it sits there; equal envelopes are one letter twice). Requeue and
 *       delete read the list in pages, select in Java, then remove each selected envelope in a
 *       script that pushes its message back to the tail of the queue in the same step ({@link
 *       InspectorScripts#REPAIR_DEAD}): a letter is requeued once or not at all, even with two
 *       operators at work. A letter that only kept a preview of an over-long message cannot be
 *       requeued (its message is gone): it is left in place, not counted, and logged.
 *   <li><b>Known queues</b> are the default queue plus those a {@link RedisBroker} ever consumed
 *       (registered in the set {@code {machinery:control}:queues} when a consumer starts). Queues
 *       used only by Go processes are inspected by name ({@link #queue}). The set is not pruned (a
 *       queue may be idle for days and still matter): a queue given up for good is dropped with
 *       {@code SREM}.
 *   <li><b>Purge</b> is one script: count and {@code UNLINK} (the list is freed in the background).
 * </ul>
 *
 * <p>Thread-safe; it owns nothing (it reads through its broker's session).
 */
final class RedisInspector implements Inspector {
  private static final Logger log = LoggerFactory.getLogger(RedisInspector.class);

  /**
   * How long the head record of a queue stays without being read: a queue nobody samples for a week
   * resets.
   */
  static final Duration HEAD_RECORD_RETENTION = Duration.ofDays(7);

  /**
   * How many members of delayed_tasks one script reads: Redis serves other clients between two
   * slices.
   */
  static final int DELAYED_SLICE = 2_000;

  /** Dead letters are read and repaired in pages of this many (one script per page). */
  private static final int REPAIR_PAGE = 200;

  private final RedisBroker broker;
  private final RedisSession session;
  private final String queuesKey;

  RedisInspector(RedisBroker broker, String queuesKey) {
    this.broker = broker;
    this.session = broker.session();
    this.queuesKey = queuesKey;
  }

  /**
   * Records that {@code queue} has a consumer, so {@link #queues} lists it; best effort (logged on
   * failure).
   */
  void remember(String queue) {
    session
        .commands()
        .sadd(queuesKey, bytes(queue))
        .whenComplete(
            (added, error) -> {
              if (error != null) {
                log.debug(
                    "Could not register queue {} in {}: {}", queue, queuesKey, error.toString());
              }
            });
  }

  private String name(String queue) {
    broker.checkOpen();
    return Objects.requireNonNull(queue, "queue").isEmpty()
        ? broker.config().defaultQueue()
        : queue;
  }

  @Override
  public List<QueueStats> queues() {
    broker.checkOpen();
    TreeSet<String> names = new TreeSet<>();
    names.add(broker.config().defaultQueue());
    for (byte[] name : session.await(session.commands().smembers(queuesKey))) {
      names.add(new String(name, StandardCharsets.UTF_8));
    }
    return stats(List.copyOf(names));
  }

  @Override
  public QueueStats queue(String queue) {
    return stats(List.of(name(queue))).get(0);
  }

  /** One script: the lengths of the queue's lists (no delayed count, no head record). */
  @Override
  public long pendingCount(String queue) {
    String name = name(queue);
    QueueKeys queueKeys = new QueueKeys(name);
    String[] bands = queueKeys.upperBands();
    String[] keys = new String[2 + bands.length];
    keys[0] = queueKeys.fairRing();
    keys[1] = name;
    System.arraycopy(bands, 0, keys, 2, bands.length);
    Long count = session.await(InspectorScripts.PENDING_COUNT.run(session.commands(), keys));
    return count;
  }

  /**
   * The sizes of {@code names}: one stats script per queue and the first slice of the delayed
   * count, sent together; the other slices of a large delayed set follow in a second batch.
   */
  private List<QueueStats> stats(List<String> names) {
    long now = broker.clock().millis();
    CompletableFuture<List<Object>> firstSlice = delayedSlice(0);
    List<CompletableFuture<List<Object>>> replies = new ArrayList<>(names.size());
    for (String name : names) {
      QueueKeys keys = new QueueKeys(name);
      replies.add(
          InspectorScripts.QUEUE_STATS.run(
              session.commands(),
              statsKeys(name, keys),
              bytes(Long.toString(now)),
              bytes(Long.toString(HEAD_RECORD_RETENTION.toMillis()))));
    }
    Map<String, Long> delayed = delayedCounts(firstSlice);
    List<QueueStats> out = new ArrayList<>(names.size());
    for (int i = 0; i < names.size(); i++) {
      List<Object> reply = session.await(replies.get(i));
      long pending = (Long) reply.get(0);
      Duration age = pending == 0 ? null : age(now, text(reply.get(2)), (Long) reply.get(3));
      out.add(
          new QueueStats(
              names.get(i),
              pending,
              delayed.getOrDefault(names.get(i), 0L),
              (Long) reply.get(1),
              age));
    }
    return out;
  }

  private CompletableFuture<List<Object>> delayedSlice(long first) {
    return InspectorScripts.DELAYED_COUNTS.run(
        session.commands(),
        new String[] {broker.delayedKey()},
        bytes(broker.config().defaultQueue()),
        bytes(Long.toString(first)),
        bytes(Integer.toString(DELAYED_SLICE)));
  }

  /**
   * Delayed tasks per queue: the first slice's counts, plus those of the remaining slices (sent at
   * once). Members that move while the slices run (promoted, added) can shift ranks: such a count
   * is off by those few.
   */
  private Map<String, Long> delayedCounts(CompletableFuture<List<Object>> firstSlice) {
    Map<String, Long> counts = new HashMap<>();
    List<Object> first = session.await(firstSlice);
    addCounts(counts, first);
    long size = (Long) first.get(0);
    List<CompletableFuture<List<Object>>> rest = new ArrayList<>();
    for (long rank = DELAYED_SLICE; rank < size; rank += DELAYED_SLICE) {
      rest.add(delayedSlice(rank));
    }
    for (CompletableFuture<List<Object>> slice : rest) {
      addCounts(counts, session.await(slice));
    }
    return counts;
  }

  private static void addCounts(Map<String, Long> counts, List<Object> slice) {
    for (int i = 1; i + 1 < slice.size(); i += 2) {
      counts.merge(text(slice.get(i)), (Long) slice.get(i + 1), Long::sum);
    }
  }

  /** The larger of now - ETA (when the head has a past ETA) and now - first seen at the head. */
  private static @Nullable Duration age(long now, String eta, long firstSeen) {
    long oldest = firstSeen < 0 ? Long.MAX_VALUE : firstSeen;
    if (!eta.isEmpty()) {
      try {
        oldest = Math.min(oldest, GoJson.parseTime(eta).toInstant().toEpochMilli());
      } catch (DateTimeParseException | ArithmeticException e) {
        // not Go's time format: the head record alone tells the age
      }
    }
    return oldest == Long.MAX_VALUE ? null : Duration.ofMillis(Math.max(0, now - oldest));
  }

  private static String[] statsKeys(String name, QueueKeys keys) {
    String[] bands = keys.upperBands();
    String[] all = new String[4 + bands.length];
    all[0] = name;
    all[1] = keys.deadLetters();
    all[2] = RedisKeys.tagged(name, "head_seen");
    all[3] = keys.fairRing();
    System.arraycopy(bands, 0, all, 4, bands.length);
    return all;
  }

  @Override
  public List<Signature> pending(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    return RedisBroker.decodeAll(pendingPage(session, new QueueKeys(name(queue)), offset, limit));
  }

  /**
   * A page of a queue's waiting messages: in the order the weighted fetch favours (band 9 first,
   * then down to the plain queue), then each fairness lane in the ring's order; FIFO within each
   * (the ring, then lengths, in one pipeline; then only the ranges the page needs).
   */
  static List<byte[]> pendingPage(RedisSession session, QueueKeys keys, long offset, long limit) {
    CompletableFuture<List<byte[]>> ring =
        session.commands().lrange(keys.fairRing(), 0, -1).toCompletableFuture();
    List<String> lists = new ArrayList<>(List.of(keys.upperBands()));
    java.util.Collections.reverse(lists);
    lists.add(keys.queue());
    for (byte[] key : session.await(ring)) {
      lists.add(keys.fairLane(new String(key, StandardCharsets.UTF_8)));
    }
    List<CompletableFuture<Long>> lengths = new ArrayList<>();
    for (String list : lists) {
      lengths.add(session.commands().llen(list).toCompletableFuture());
    }
    List<byte[]> page = new ArrayList<>();
    long skip = offset;
    for (int i = 0; i < lists.size() && page.size() < limit; i++) {
      long length = session.await(lengths.get(i));
      if (skip >= length) {
        skip -= length;
        continue;
      }
      long want = Math.min(limit - page.size(), length - skip);
      page.addAll(session.await(session.commands().lrange(lists.get(i), skip, skip + want - 1)));
      skip = 0;
    }
    return page;
  }

  /**
   * Reads delayed_tasks slice by slice (one script each) until the page is full or the set ends.
   */
  @Override
  public List<Signature> delayed(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    String name = name(queue);
    List<byte[]> page = new ArrayList<>();
    long skip = offset;
    for (long rank = 0, size = 1; rank < size && page.size() < limit; rank += DELAYED_SLICE) {
      List<Object> reply =
          session.await(
              InspectorScripts.DELAYED_PAGE.run(
                  session.commands(),
                  new String[] {broker.delayedKey()},
                  bytes(broker.config().defaultQueue()),
                  bytes(name),
                  bytes(Long.toString(rank)),
                  bytes(Integer.toString(DELAYED_SLICE)),
                  bytes(Long.toString(skip)),
                  bytes(Integer.toString(limit - page.size()))));
      size = (Long) reply.get(0);
      skip = (Long) reply.get(1);
      for (int i = 2; i < reply.size(); i++) {
        page.add((byte[]) reply.get(i));
      }
    }
    return RedisBroker.decodeAll(page);
  }

  @Override
  public List<DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    String name = name(queue);
    List<byte[]> envelopes =
        session.await(
            session
                .commands()
                .lrange(new QueueKeys(name).deadLetters(), offset, (long) offset + limit - 1));
    List<DeadLetterEntry> out = new ArrayList<>(envelopes.size());
    for (byte[] envelope : envelopes) {
      out.add(entry(name, envelope, DeadLetter.fromJson(name, envelope)));
    }
    return out;
  }

  @Override
  public int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(name(queue), Objects.requireNonNull(which, "which"), true);
  }

  @Override
  public int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(name(queue), Objects.requireNonNull(which, "which"), false);
  }

  /**
   * Walks the dead-letter list page by page; the selected envelopes of each page are removed (and
   * requeued) in one script before the next page is read, the next page starting that many
   * positions earlier. Letters trimmed from the head meanwhile (new ones arriving at a full list)
   * can shift a page: such a letter may be missed by this call, never repaired twice.
   */
  private int repair(String name, Predicate<DeadLetterEntry> which, boolean requeue) {
    QueueKeys keys = new QueueKeys(name);
    int total = 0;
    long start = 0;
    while (true) {
      List<byte[]> envelopes =
          session.await(
              session.commands().lrange(keys.deadLetters(), start, start + REPAIR_PAGE - 1));
      if (envelopes.isEmpty()) {
        return total;
      }
      List<byte[]> args = new ArrayList<>();
      args.add(bytes(requeue ? "1" : "0"));
      for (byte[] envelope : envelopes) {
        DeadLetter letter = DeadLetter.fromJson(name, envelope);
        if (!which.test(entry(name, envelope, letter))) {
          continue;
        }
        if (requeue && letter.truncated()) {
          log.warn(
              "Dead letter of queue {} ({} bytes, SHA-1 {}) kept only a preview of its message: not requeued",
              name,
              letter.size(),
              letter.sha1());
          continue;
        }
        args.add(envelope);
        args.add(requeue ? letter.message() : new byte[0]);
      }
      long removed = 0;
      if (args.size() > 1) {
        removed =
            session.<Long>await(
                InspectorScripts.REPAIR_DEAD.run(
                    session.commands(),
                    new String[] {keys.deadLetters(), name},
                    args.toArray(new byte[0][])));
        total += (int) removed;
      }
      if (envelopes.size() < REPAIR_PAGE) {
        return total;
      }
      start += REPAIR_PAGE - removed;
    }
  }

  @Override
  public long purge(String queue) {
    String name = name(queue);
    QueueKeys keys = new QueueKeys(name);
    String[] all = new String[2 + io.machinery.spi.PriorityBands.TOP_BAND];
    all[0] = keys.fairRing();
    all[1] = name;
    System.arraycopy(keys.upperBands(), 0, all, 2, all.length - 2);
    return session.<Long>await(InspectorScripts.PURGE.run(session.commands(), all));
  }

  /** One script over the ring: its first {@code limit} keys with their lanes' lengths. */
  @Override
  public Map<String, Long> fairnessKeys(String queue, int limit) {
    Inspector.checkPage(0, limit);
    List<Object> reply =
        session.await(
            InspectorScripts.FAIRNESS_KEYS.run(
                session.commands(),
                new String[] {new QueueKeys(name(queue)).fairRing()},
                bytes(Integer.toString(limit))));
    Map<String, Long> keys = new java.util.LinkedHashMap<>();
    for (int i = 0; i + 1 < reply.size(); i += 2) {
      keys.put(text(reply.get(i)), (Long) reply.get(i + 1));
    }
    return keys;
  }

  @Override
  public void setFairnessWeight(String queue, String key, int weight) {
    io.machinery.spi.FairShares.checkWeight(key, weight);
    String weights = new QueueKeys(name(queue)).fairWeights();
    if (weight == 1) {
      session.await(session.commands().hdel(weights, key));
    } else {
      session.await(session.commands().hset(weights, key, bytes(Integer.toString(weight))));
    }
  }

  @Override
  public Map<String, Integer> fairnessWeights(String queue) {
    Map<String, byte[]> stored =
        session.await(session.commands().hgetall(new QueueKeys(name(queue)).fairWeights()));
    Map<String, Integer> weights = new java.util.TreeMap<>();
    stored.forEach(
        (key, weight) -> {
          // a value written by hand that is no weight counts as 1 in the fetch: not listed
          String text = text(weight);
          if (text.matches("[0-9]{1,4}") && Integer.parseInt(text) > 1) {
            weights.put(key, Integer.parseInt(text));
          }
        });
    return java.util.Collections.unmodifiableMap(weights);
  }

  private static DeadLetterEntry entry(String list, byte[] envelope, DeadLetter letter) {
    return new DeadLetterEntry(id(envelope), list, letter.reason(), letter.at(), letter.message());
  }

  /** The first 16 hex digits of the envelope's SHA-1. */
  static String id(byte[] envelope) {
    return DeadLetter.sha1Hex(envelope).substring(0, 16);
  }

  private static String text(Object value) {
    return value instanceof byte[] b
        ? new String(b, StandardCharsets.UTF_8)
        : String.valueOf(value);
  }

  @Override
  public String toString() {
    return "RedisInspector{" + session.address() + "}";
  }
}
