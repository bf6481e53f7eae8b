package io.machinery.embedded;

import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * The {@link Inspector} of a {@link MemoryBroker}: reads its queues under their locks, pages
 * without copying a whole queue, ages from the time each message joined its queue. Dead-letter ids
 * are the broker's sequence numbers, as decimal strings.
 */
final class MemoryInspector implements Inspector {
  private final MemoryBroker broker;
  private final Config config;

  MemoryInspector(MemoryBroker broker, Config config) {
    this.broker = broker;
    this.config = config;
  }

  private String name(String queue) {
    return Objects.requireNonNull(queue, "queue").isEmpty() ? config.defaultQueue() : queue;
  }

  @Override
  public List<QueueStats> queues() {
    List<QueueStats> out = new ArrayList<>();
    for (String queue : broker.knownQueues()) {
      out.add(queue(queue));
    }
    return out;
  }

  @Override
  public QueueStats queue(String queue) {
    String name = name(queue);
    long[] pending = broker.pendingCountAndOldest(name);
    long delayed = broker.delayedOf(name).size();
    long dead = broker.deadEntries().stream().filter(d -> d.letter().queue().equals(name)).count();
    Duration age =
        pending[1] < 0 ? null : Duration.ofMillis(Math.max(0, broker.clockMillis() - pending[1]));
    return new QueueStats(name, pending[0], delayed, dead, age);
  }

  @Override
  public List<Signature> pending(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    return decodeAll(broker.pendingPage(name(queue), offset, limit));
  }

  @Override
  public List<Signature> delayed(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    return decodeAll(broker.delayedOf(name(queue)).stream().skip(offset).limit(limit).toList());
  }

  @Override
  public List<DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    String name = name(queue);
    return broker.deadEntries().stream()
        .filter(d -> d.letter().queue().equals(name))
        .skip(offset)
        .limit(limit)
        .map(MemoryInspector::entry)
        .toList();
  }

  @Override
  public int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(queue, which, true);
  }

  @Override
  public int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(queue, which, false);
  }

  private int repair(String queue, Predicate<DeadLetterEntry> which, boolean requeue) {
    Objects.requireNonNull(which, "which");
    String name = name(queue);
    int count = 0;
    for (MemoryBroker.Dead dead : broker.deadEntries()) {
      if (dead.letter().queue().equals(name)
          && which.test(entry(dead))
          && broker.removeDead(dead)) {
        if (requeue) {
          broker.republish(name, dead.letter().message());
        }
        count++;
      }
    }
    return count;
  }

  @Override
  public long purge(String queue) {
    return broker.purge(name(queue));
  }

  @Override
  public java.util.Map<String, Long> fairnessKeys(String queue, int limit) {
    Inspector.checkPage(0, limit);
    return broker.fairnessKeys(name(queue), limit);
  }

  @Override
  public void setFairnessWeight(String queue, String key, int weight) {
    io.machinery.spi.FairShares.checkWeight(key, weight);
    broker.setFairnessWeight(name(queue), key, weight);
  }

  @Override
  public java.util.Map<String, Integer> fairnessWeights(String queue) {
    return broker.fairnessWeights(name(queue));
  }

  private static DeadLetterEntry entry(MemoryBroker.Dead dead) {
    MemoryBroker.DeadLetter letter = dead.letter();
    return new DeadLetterEntry(
        Long.toString(dead.id()), letter.queue(), letter.reason(), dead.at(), letter.message());
  }

  private static List<Signature> decodeAll(List<byte[]> messages) {
    List<Signature> out = new ArrayList<>(messages.size());
    for (byte[] message : messages) {
      try {
        out.add(WireCodec.decodeSignature(message));
      } catch (MalformedMessageException | StackOverflowError e) {
        // skipped: listed as a dead letter once a worker meets it
      }
    }
    return out;
  }
}
