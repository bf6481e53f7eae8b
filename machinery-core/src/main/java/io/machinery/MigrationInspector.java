package io.machinery;

import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * The {@link Inspector} of a {@link MigratingBroker}: both brokers' queues seen as one.
 *
 * <p>Design notes: sizes add up (the oldest age is the older of the two). A listing pages through
 * the old broker's entries first (they are older), then the new one's: a page that starts past the
 * old broker's end asks how many it holds by listing up to the offset, since a size read may be a
 * sampled statistic (RabbitMQ) that would shift the pages. Dead-letter ids get a prefix naming
 * their broker ({@code old-}, {@code new-}), as two brokers may use the same ids (sequence
 * numbers), and a repair passes each broker only its own entries. Fairness weights are set on each
 * broker that keeps lanes.
 */
final class MigrationInspector implements Inspector {
  private static final String OLD = "old-";
  private static final String NEW = "new-";

  private final Inspector old;
  private final Inspector fresh;

  MigrationInspector(Inspector old, Inspector fresh) {
    this.old = old;
    this.fresh = fresh;
  }

  @Override
  public List<QueueStats> queues() {
    return summed(old.queues(), fresh.queues());
  }

  /** Each broker's queues read once, for a view that shows them apart and summed. */
  MigratingBroker.QueueSizes queueSizes() {
    return new MigratingBroker.QueueSizes(old.queues(), fresh.queues());
  }

  /** The queues of both brokers, each one's sizes added up, in the old broker's order first. */
  static List<QueueStats> summed(List<QueueStats> oldQueues, List<QueueStats> newQueues) {
    Map<String, QueueStats> byName = new LinkedHashMap<>();
    for (QueueStats stats : oldQueues) {
      byName.merge(stats.queue(), stats, MigrationInspector::sum);
    }
    for (QueueStats stats : newQueues) {
      byName.merge(stats.queue(), stats, MigrationInspector::sum);
    }
    return List.copyOf(byName.values());
  }

  @Override
  public QueueStats queue(String queue) {
    return sum(old.queue(queue), fresh.queue(queue));
  }

  private static QueueStats sum(QueueStats a, QueueStats b) {
    return new QueueStats(
        a.queue(),
        a.pending() + b.pending(),
        a.delayed() + b.delayed(),
        a.deadLettered() + b.deadLettered(),
        older(a.oldestPendingAge(), b.oldestPendingAge()));
  }

  private static @Nullable Duration older(@Nullable Duration a, @Nullable Duration b) {
    if (a == null) {
      return b;
    }
    return b == null || a.compareTo(b) >= 0 ? a : b;
  }

  @Override
  public long pendingCount(String queue) {
    return old.pendingCount(queue) + fresh.pendingCount(queue);
  }

  @Override
  public boolean countsQueues() {
    return old.countsQueues() && fresh.countsQueues();
  }

  @Override
  public List<io.machinery.Signature> pending(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    return page(
        offset, limit, (o, l) -> old.pending(queue, o, l), (o, l) -> fresh.pending(queue, o, l));
  }

  @Override
  public List<io.machinery.Signature> delayed(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    return page(
        offset, limit, (o, l) -> old.delayed(queue, o, l), (o, l) -> fresh.delayed(queue, o, l));
  }

  @Override
  public List<DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    return page(
        offset,
        limit,
        (o, l) -> prefixed(OLD, old.deadLetters(queue, o, l)),
        (o, l) -> prefixed(NEW, fresh.deadLetters(queue, o, l)));
  }

  private static List<DeadLetterEntry> prefixed(String prefix, List<DeadLetterEntry> entries) {
    List<DeadLetterEntry> out = new ArrayList<>(entries.size());
    for (DeadLetterEntry entry : entries) {
      out.add(prefixed(prefix, entry));
    }
    return out;
  }

  private static DeadLetterEntry prefixed(String prefix, DeadLetterEntry entry) {
    return new DeadLetterEntry(
        prefix + entry.id(), entry.queue(), entry.reason(), entry.at(), entry.message());
  }

  @Override
  public int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return old.requeueDeadLetters(queue, e -> which.test(prefixed(OLD, e)))
        + fresh.requeueDeadLetters(queue, e -> which.test(prefixed(NEW, e)));
  }

  @Override
  public int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return old.deleteDeadLetters(queue, e -> which.test(prefixed(OLD, e)))
        + fresh.deleteDeadLetters(queue, e -> which.test(prefixed(NEW, e)));
  }

  @Override
  public long purge(String queue) {
    return old.purge(queue) + fresh.purge(queue);
  }

  /** Both brokers' keys, the counts added, the old broker's turn order first. */
  @Override
  public Map<String, Long> fairnessKeys(String queue, int limit) {
    Inspector.checkPage(0, limit);
    Map<String, Long> keys = new LinkedHashMap<>(old.fairnessKeys(queue, limit));
    fresh.fairnessKeys(queue, limit).forEach((key, count) -> keys.merge(key, count, Long::sum));
    Map<String, Long> out = new LinkedHashMap<>();
    for (Map.Entry<String, Long> entry : keys.entrySet()) {
      if (out.size() == limit) {
        break;
      }
      out.put(entry.getKey(), entry.getValue());
    }
    return out;
  }

  /**
   * Sets the weight on each broker that keeps lanes.
   *
   * @throws UnsupportedOperationException when neither does
   */
  @Override
  public void setFairnessWeight(String queue, String key, int weight) {
    UnsupportedOperationException refused = null;
    int set = 0;
    for (Inspector inspector : List.of(old, fresh)) {
      try {
        inspector.setFairnessWeight(queue, key, weight);
        set++;
      } catch (UnsupportedOperationException e) {
        refused = e;
      }
    }
    if (set == 0 && refused != null) {
      throw refused;
    }
  }

  /** Both brokers' weights; the new broker's where both set one. */
  @Override
  public Map<String, Integer> fairnessWeights(String queue) {
    Map<String, Integer> weights = new TreeMap<>(old.fairnessWeights(queue));
    weights.putAll(fresh.fairnessWeights(queue));
    return weights;
  }

  /** A page of one broker's listing. */
  private interface Pages<T> {
    List<T> page(int offset, int limit);
  }

  private static <T> List<T> page(int offset, int limit, Pages<T> first, Pages<T> second) {
    List<T> head = first.page(offset, limit);
    if (head.size() >= limit) {
      return head;
    }
    int firstSize;
    if (!head.isEmpty() || offset == 0) {
      firstSize = offset + head.size();
    } else {
      firstSize = first.page(0, offset).size();
    }
    List<T> out = new ArrayList<>(limit);
    out.addAll(head);
    out.addAll(second.page(Math.max(0, offset - firstSize), limit - head.size()));
    return out;
  }
}
