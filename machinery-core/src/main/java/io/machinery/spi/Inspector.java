package io.machinery.spi;

import io.machinery.Signature;
import java.util.List;
import java.util.function.Predicate;

/**
 * Looks into a broker's queues without consuming them: sizes, pages of waiting, delayed and
 * dead-lettered tasks, and the repairs a person makes by hand (requeue or delete dead letters,
 * purge a queue). Get one from {@link Broker#inspector()}; the metrics module samples {@link
 * #queue} for its queue-depth gauges.
 *
 * <p>Design notes: every method is one bounded read or one batch on the server. Listings are paged
 * ({@code offset}, {@code limit}) and oldest first, so a queue of millions is never loaded into
 * memory; sizes come from the server's own counters (a list length, a queue's message count), never
 * by decoding messages; where those counters are statistics sampled by the server they lag by its
 * sampling interval (RabbitMQ's delay queues: the management plugin's 5 s), so a size read just
 * after a publish may not show it yet. An empty queue name means the broker's default queue.
 * Messages that do not decode are skipped in task listings (they show up as dead letters once a
 * worker meets them).
 *
 * <p>Implementations are thread-safe. Methods throw {@link io.machinery.MachineryException} when
 * the broker cannot be reached, {@link IllegalArgumentException} for a negative offset or a limit
 * below 1. The contract kit is {@code io.machinery.testkit.InspectorContract}.
 */
public interface Inspector {

  /**
   * Checks a page's bounds, as every listing does before anything else (a broker that cannot list
   * still refuses bad bounds first).
   *
   * @param offset how many entries to skip; 0 or more
   * @param limit the most entries to return; 1 or more
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is below 1
   */
  static void checkPage(int offset, int limit) {
    if (offset < 0) {
      throw new IllegalArgumentException("offset must be >= 0, was " + offset);
    }
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be >= 1, was " + limit);
    }
  }

  /**
   * Lists the queues this broker knows about (that have held a message or have a consumer), with
   * their sizes.
   *
   * @return one entry per known queue; empty when the broker knows none
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  List<QueueStats> queues();

  /**
   * Reads the sizes of one queue.
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @return the queue's sizes, named with its actual name (the default queue's for an empty name);
   *     all zero for a queue the broker has never seen
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  QueueStats queue(String queue);

  /**
   * Counts the tasks waiting in one queue: {@link #queue}'s {@code pending}, read as cheaply as the
   * broker allows (Redis: the lengths of its lists in one script, without the delayed count). A
   * {@link io.machinery.QueueBound} reads it on the send path.
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @return the tasks waiting; 0 for a queue the broker has never seen
   * @throws UnsupportedOperationException when this broker cannot count its queues ({@link
   *     #countsQueues()} is false)
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  default long pendingCount(String queue) {
    return queue(queue).pending();
  }

  /**
   * Tells whether {@link #queues}, {@link #queue} and {@link #pendingCount} work here: false for a
   * broker whose API has no message counts (Google Cloud Pub/Sub).
   *
   * @return true unless this broker cannot count its queues
   */
  default boolean countsQueues() {
    return true;
  }

  /**
   * Lists a page of the tasks waiting in {@code queue}, oldest first.
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @param offset how many of the oldest waiting tasks to skip; 0 or more
   * @param limit the most tasks to return; 1 or more
   * @return up to {@code limit} decoded tasks (messages that do not decode are left out, so a page
   *     may hold fewer); empty past the end of the queue
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is below 1
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  List<Signature> pending(String queue, int offset, int limit);

  /**
   * Lists a page of the tasks of {@code queue} waiting for their ETA, soonest first.
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @param offset how many of the soonest-due delayed tasks to skip; 0 or more
   * @param limit the most tasks to return; 1 or more
   * @return up to {@code limit} decoded tasks (messages that do not decode are left out, so a page
   *     may hold fewer); empty past the end
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is below 1
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  List<Signature> delayed(String queue, int offset, int limit);

  /**
   * Lists a page of the dead letters of {@code queue}, oldest first.
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @param offset how many of the oldest dead letters to skip; 0 or more
   * @param limit the most entries to return; 1 or more
   * @return up to {@code limit} entries, including those whose message does not decode; empty past
   *     the end
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is below 1
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  List<DeadLetterEntry> deadLetters(String queue, int offset, int limit);

  /**
   * Moves the dead letters of {@code queue} that {@code which} selects back to the tail of the
   * queue, as they were first published (one: match its {@link DeadLetterEntry#id()}; all: {@code e
   * -> true}).
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @param which returns true for each entry to requeue
   * @return how many were requeued
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which);

  /**
   * Deletes the dead letters of {@code queue} that {@code which} selects.
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @param which returns true for each entry to delete
   * @return how many were deleted
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which);

  /**
   * Removes every task waiting in {@code queue} (not the delayed ones, not those a worker holds).
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @return how many were removed
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  long purge(String queue);

  /**
   * Lists the fairness keys with tasks waiting in {@code queue} ({@link FairShares}), in the order
   * their turns come, each with how many of its tasks wait: which tenants are backlogged. Empty
   * where the broker keeps no lanes (AMQP, SQS, Pub/Sub; Redis without keyed tasks).
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @param limit the most keys to return; 1 or more
   * @return up to {@code limit} keys with their waiting tasks, in turn order
   * @throws IllegalArgumentException if {@code limit} is below 1
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  default java.util.Map<String, Long> fairnessKeys(String queue, int limit) {
    checkPage(0, limit);
    return java.util.Map.of();
  }

  /**
   * Gives a fairness key of {@code queue} a weight ({@link FairShares}): when its turn comes it
   * takes up to {@code weight} tasks in a row. It holds on every consumer of the queue from its
   * next fetch, until set again; weight 1 (the default) removes the setting.
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @param key the fairness key
   * @param weight from 1 to {@value FairShares#MAX_WEIGHT}
   * @throws IllegalArgumentException if the key is no usable key or the weight is out of range
   * @throws UnsupportedOperationException where the broker keeps no lanes (AMQP, SQS, Pub/Sub)
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  default void setFairnessWeight(String queue, String key, int weight) {
    FairShares.checkWeight(key, weight);
    throw new UnsupportedOperationException(
        "this broker keeps no fairness lanes, so it has no weights: memory and Redis do");
  }

  /**
   * Returns the fairness weights set for {@code queue} (keys without one weigh 1).
   *
   * @param queue the queue's name; empty means the broker's default queue
   * @return the keys with a weight above 1, sorted by key; empty where the broker keeps no lanes
   * @throws io.machinery.MachineryException when the broker cannot be reached
   */
  default java.util.Map<String, Integer> fairnessWeights(String queue) {
    return java.util.Map.of();
  }
}
