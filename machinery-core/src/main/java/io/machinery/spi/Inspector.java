package io.machinery.spi;

import io.machinery.Signature;
import java.util.List;
import java.util.function.Predicate;

/**
 * Looks into a broker's queues without consuming them: sizes, pages of waiting, delayed and dead-lettered
 * tasks, and the repairs a person makes by hand (requeue or delete dead letters, purge a queue). Get one from
 * {@link Broker#inspector()}; the metrics module samples {@link #queue} for its queue-depth gauges.
 *
 * <p>Design notes: every method is one bounded read or one batch on the server. Listings are paged ({@code
 * offset}, {@code limit}) and oldest first, so a queue of millions is never loaded into memory; sizes come
 * from the server's own counters (a list length, a queue's message count), never by decoding messages. An
 * empty queue name means the broker's default queue. Messages that do not decode are skipped in task listings
 * (they show up as dead letters once a worker meets them).
 *
 * <p>Implementations are thread-safe. Methods throw {@link io.machinery.MachineryException} when the broker
 * cannot be reached, {@link IllegalArgumentException} for a negative offset or a limit below 1. The contract
 * kit is {@code io.machinery.testkit.InspectorContract}.
 */
public interface Inspector {

  /** The queues this broker knows about (that have held a message or have a consumer), with their sizes. */
  List<QueueStats> queues();

  /** The sizes of one queue; all zero for a queue the broker has never seen. */
  QueueStats queue(String queue);

  /** Up to {@code limit} tasks waiting in {@code queue}, skipping the {@code offset} oldest. */
  List<Signature> pending(String queue, int offset, int limit);

  /** Up to {@code limit} tasks of {@code queue} waiting for their ETA, soonest first, after {@code offset}. */
  List<Signature> delayed(String queue, int offset, int limit);

  /** Up to {@code limit} dead letters of {@code queue}, oldest first, after {@code offset}. */
  List<DeadLetterEntry> deadLetters(String queue, int offset, int limit);

  /**
   * Moves the dead letters of {@code queue} that {@code which} selects back to the tail of the queue, as they
   * were first published (one: match its {@link DeadLetterEntry#id()}; all: {@code e -> true}).
   *
   * @return how many were requeued
   */
  int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which);

  /**
   * Deletes the dead letters of {@code queue} that {@code which} selects.
   *
   * @return how many were deleted
   */
  int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which);

  /**
   * Removes every task waiting in {@code queue} (not the delayed ones, not those a worker holds).
   *
   * @return how many were removed
   */
  long purge(String queue);
}
