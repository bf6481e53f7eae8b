package io.machinery.broker.gcppubsub;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Delivery counts kept by one broker for subscriptions without a dead-letter policy, where Pub/Sub
 * reports no delivery attempt (it is 0), so the worker's poison limit ({@code maxDeliveries}) would
 * never trigger.
 *
 * <p>Design notes. What this counts, and what it cannot: every time a consumer of this broker pulls
 * a message (by subscription and message id) it counts one delivery, so a message this process
 * receives again (nacked, a lease that lapsed after {@code MaxExtension}, a task that stalls every
 * time) is dead-lettered after {@code maxDeliveries}. It lives in this process only: deliveries to
 * other processes are not seen (with W workers a message may be delivered up to W times the limit),
 * and a message that kills the process each time starts again from zero in the next one, so a crash
 * loop is bounded only by a dead-letter policy on the subscription (then Pub/Sub's own attempt
 * count is used and this is not consulted). An entry is dropped when its message is settled for
 * good (acknowledged, dead-lettered, or requeued as a new message through the delay topic); beyond
 * {@value #CAPACITY} entries the least recently delivered is forgotten, so a count can only be too
 * low, never too high. Thread-safe.
 */
final class LocalDeliveryCounts {
  static final int CAPACITY = 10_000;

  private final Map<String, Integer> counts =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
          return size() > CAPACITY;
        }
      };

  private static String key(String subscription, String messageId) {
    return subscription + '\n' + messageId;
  }

  /** Counts one more delivery of the message and returns its count, from 1. */
  synchronized int delivered(String subscription, String messageId) {
    return counts.merge(key(subscription, messageId), 1, Integer::sum);
  }

  /** Takes back one delivery counted by {@link #delivered} that never reached the worker. */
  synchronized void undelivered(String subscription, String messageId) {
    counts.computeIfPresent(key(subscription, messageId), (k, n) -> n > 1 ? n - 1 : null);
  }

  /** The message is settled for good: it is not delivered again under this id. */
  synchronized void forget(String subscription, String messageId) {
    counts.remove(key(subscription, messageId));
  }

  synchronized int size() {
    return counts.size();
  }
}
