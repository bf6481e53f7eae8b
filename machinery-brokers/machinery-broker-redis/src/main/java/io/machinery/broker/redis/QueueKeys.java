package io.machinery.broker.redis;

import io.machinery.client.redis.RedisKeys;

/**
 * The keys of one queue. The queue list keeps Go's name; the keys this broker adds carry the
 * queue's hash tag ({@code {machinery_tasks}:processing:<consumer>}), so every script that touches
 * the queue and them stays in one Redis Cluster slot.
 */
record QueueKeys(String queue) {
  /** The consumer's processing list: tasks it took and has not settled, oldest first. */
  String processing(String consumerId) {
    return RedisKeys.tagged(queue, "processing:" + consumerId);
  }

  /**
   * The consumer's lease: exists while the consumer is alive (refreshed by its heartbeat, expires
   * otherwise).
   */
  String lease(String consumerId) {
    return RedisKeys.tagged(queue, "lease:" + consumerId);
  }

  /**
   * The set of consumer ids that may own a processing list of this queue (the reaper's work list).
   */
  String consumers() {
    return RedisKeys.tagged(queue, "consumers");
  }

  /**
   * How often each message of this queue was returned by a reaper (a hash: SHA-1 of the message to
   * count), so a message that kills every worker that takes it is recognised; expires a day after
   * the last reap.
   */
  String redeliveries() {
    return RedisKeys.tagged(queue, "redeliveries");
  }

  /**
   * The list of priority band {@code band} ({@link io.machinery.spi.PriorityBands}): band 0 is the
   * queue itself (Go's list), bands 1-9 are {@code {queue}:priority:<band>}, which only this
   * library's consumers read.
   */
  String band(int band) {
    return band == 0 ? queue : RedisKeys.tagged(queue, "priority:" + band);
  }

  /**
   * The keys of {@link BrokerScripts#FETCH} for consumer {@code consumerId}, in the script's order:
   * the queue, the consumer's processing list and lease, the consumers, the dead letters, the
   * redeliveries, the bands 1-9 and the fairness ring, direct list, weights and head. (The fetch
   * script benchmark reads them from here too.)
   */
  String[] fetchKeys(String consumerId) {
    java.util.List<String> keys =
        new java.util.ArrayList<>(
            java.util.List.of(
                queue,
                processing(consumerId),
                lease(consumerId),
                consumers(),
                deadLetters(),
                redeliveries()));
    keys.addAll(java.util.List.of(upperBands()));
    keys.add(fairRing());
    keys.add(fairDirect());
    keys.add(fairWeights());
    keys.add(fairHead());
    return keys.toArray(String[]::new);
  }

  /** The bands 1-9, in order (band 0 is {@link #queue()}). */
  String[] upperBands() {
    String[] keys = new String[io.machinery.spi.PriorityBands.TOP_BAND];
    for (int b = 1; b <= keys.length; b++) {
      keys[b - 1] = band(b);
    }
    return keys;
  }

  /**
   * The ring of fairness keys with waiting tasks ({@link io.machinery.spi.FairShares}): a list of
   * keys, each once, in turn order; a fetch takes from the head's lane and moves the key to the
   * tail. A key is in the ring exactly while its lane has tasks (every script that changes a lane
   * keeps it so).
   */
  String fairRing() {
    return RedisKeys.tagged(queue, "fair");
  }

  /**
   * The lane of fairness key {@code key}: its waiting tasks, oldest first. The scripts build the
   * same name as {@link #fairRing()} {@code + ":" + key}.
   */
  String fairLane(String key) {
    return fairRing() + ":" + key;
  }

  /**
   * The SHA-1 of the last keyed task published straight to the plain queue because nothing waited
   * (the queue and every lane empty), so that an idle consumer's blocking move takes it at once. A
   * fetch that finds that task in the plain queue moves it to the head of its lane, not the tail:
   * it is older than every task of its key that followed it there.
   */
  String fairDirect() {
    return RedisKeys.tagged(queue, "fair_direct");
  }

  /**
   * The fairness weights above 1 (a hash: key to weight, {@link io.machinery.spi.FairShares}), read
   * by every fetch; a queue setting, kept when the lanes empty.
   */
  String fairWeights() {
    return RedisKeys.tagged(queue, "fair_weights");
  }

  /**
   * The turn of the ring's head under weights: a hash of the key ({@code k}) and how many tasks it
   * took in its turn ({@code n}); stale (another key) when the head changed.
   */
  String fairHead() {
    return RedisKeys.tagged(queue, "fair_head");
  }

  /** Dead letters of this queue: one JSON envelope per message ({@link DeadLetter}). */
  String deadLetters() {
    return RedisKeys.tagged(queue, "dead_letters");
  }
}
