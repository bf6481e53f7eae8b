package io.machinery.broker.redis;

import static io.machinery.broker.redis.RedisBroker.bytes;

import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.machinery.client.redis.RedisSession;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The settling side of one consumer: acknowledgements, requeues, dead letters, the retry of those
 * that failed, and the multiset of messages handed to the worker whose settlement Redis has not
 * confirmed yet.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Asynchronous.</b> No settlement waits for Redis: each is sent and, when it fails, queued
 *       for the maintenance thread to send again ({@link #retryFailed}). Every script does nothing
 *       when the message is no longer in the processing list, so sending one twice is harmless.
 *   <li><b>Acknowledgements</b> are queued; the fetch loop carries them on its next fetch ({@link
 *       #pollAcks}), or they leave in batches when no fetch is coming ({@link #flushAcks}), at most
 *       one batch in flight (a lone one as {@code LREM}, several as one {@link BrokerScripts#ACK}).
 *   <li><b>Unsettled</b> messages are counted as a multiset (the same bytes may be fetched twice),
 *       so that the {@link StrayCollector} can tell what a lost fetch reply left behind.
 *   <li><b>Dead letters</b> keep the whole message up to the broker's {@code maxMessageBytes}, else
 *       a preview ({@link DeadLetter#of}); the list keeps its newest {@code deadLetterLimit}
 *       envelopes.
 * </ul>
 *
 * <p>Thread-safe. After {@link #close()} settlements are dropped: closing returned every unsettled
 * message.
 */
final class Settlements {
  private static final Logger log = LoggerFactory.getLogger(Settlements.class);
  private static final int MAX_ACK_BATCH = 256;

  private final RedisBroker broker;
  private final RedisSession session;
  private final RedisClusterAsyncCommands<String, byte[]> commands;
  private final String consumerId;
  private final QueueKeys keys;
  private final String processing;
  private final ConcurrentLinkedQueue<Settlement> retries = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<byte[]> acks = new ConcurrentLinkedQueue<>();
  private final ConcurrentHashMap<MessageKey, Integer> unsettled = new ConcurrentHashMap<>();
  private final AtomicBoolean ackInFlight = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** A settlement, sent again after a failure, and the messages it settles. */
  private record Settlement(
      String what, Supplier<CompletableFuture<?>> operation, List<byte[]> messages) {}

  Settlements(RedisBroker broker, String consumerId, QueueKeys keys, String processing) {
    this.broker = broker;
    this.session = broker.session();
    this.commands = session.commands();
    this.consumerId = consumerId;
    this.keys = keys;
    this.processing = processing;
  }

  /** A message goes to the worker: unsettled until Redis confirms its settlement. */
  void handedOver(byte[] message) {
    unsettled.merge(MessageKey.of(message), 1, Integer::sum);
  }

  /** A snapshot of the unsettled multiset (take it before reading the processing list). */
  Map<MessageKey, Integer> unsettledSnapshot() {
    return new HashMap<>(unsettled);
  }

  // -----------------------------------------------------------------------------------------
  // acknowledgements

  /**
   * Queues an acknowledgement; the caller decides whether a fetch will carry it or {@link
   * #flushAcks()} must.
   */
  void ack(byte[] message) {
    if (!closed.get()) {
      acks.add(message);
    }
  }

  boolean hasQueuedAcks() {
    return !acks.isEmpty();
  }

  /** Up to one batch of queued acknowledgements, for a fetch to carry. */
  List<byte[]> pollAcks() {
    List<byte[]> batch = new ArrayList<>();
    for (byte[] m; batch.size() < MAX_ACK_BATCH && (m = acks.poll()) != null; ) {
      batch.add(m);
    }
    return batch;
  }

  /** A fetch that carried these acknowledgements failed: they wait for the next one. */
  void carryAgain(List<byte[]> carried) {
    acks.addAll(carried); // removing twice removes nothing more
  }

  /** Sends the queued acknowledgements in batches, one batch in flight at a time. */
  void flushAcks() {
    while (!acks.isEmpty() && ackInFlight.compareAndSet(false, true)) {
      List<byte[]> batch = pollAcks();
      if (batch.isEmpty()) {
        ackInFlight.set(false);
        continue;
      }
      Supplier<CompletableFuture<?>> operation =
          batch.size() == 1
              ? () -> commands.lrem(processing, 1, batch.get(0)).toCompletableFuture()
              : () ->
                  BrokerScripts.ACK.run(
                      commands, new String[] {processing}, batch.toArray(new byte[0][]));
      send(new Settlement("ack", operation, batch))
          .whenComplete(
              (ok, error) -> {
                ackInFlight.set(false);
                flushAcks();
              });
      return;
    }
  }

  /** Waits (up to {@code timeout}) until every queued acknowledgement has been answered. */
  void drainAcks(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while ((!acks.isEmpty() || ackInFlight.get()) && System.nanoTime() - deadline < 0) {
      flushAcks();
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  // ------------------------------------------------------------------------------------ requeues,
  // dead letters

  /**
   * Moves {@code message} out of the processing list and {@code replacement} (often the same) back
   * to the queue.
   */
  void requeue(byte[] message, Duration delay, byte[] replacement) {
    if (delay.isZero() || delay.isNegative()) {
      send(
          new Settlement(
              "requeue",
              () ->
                  BrokerScripts.REQUEUE_NOW.run(
                      commands, new String[] {processing, keys.queue()}, message, replacement),
              List.of(message)));
      return;
    }
    long score = RedisBroker.nanos(broker.clock().instant().plus(delay));
    Supplier<CompletableFuture<?>> operation =
        session.isCluster()
            // delayed_tasks lives in another slot: add first, then remove (a crash in between
            // duplicates, never loses)
            ? () ->
                commands
                    .zadd(broker.delayedKey(), (double) score, replacement)
                    .toCompletableFuture()
                    .thenCompose(
                        added -> commands.lrem(processing, 1, message).toCompletableFuture())
            : () ->
                BrokerScripts.REQUEUE_LATER.run(
                    commands,
                    new String[] {processing, broker.delayedKey()},
                    message,
                    bytes(Long.toString(score)),
                    replacement);
    send(new Settlement("requeue", operation, List.of(message)));
  }

  void deadLetter(byte[] message, String reason) {
    byte[] envelope =
        DeadLetter.of(
                keys.queue(),
                reason,
                consumerId,
                broker.clock().instant(),
                message,
                broker.config().maxMessageBytes())
            .toJson();
    byte[] limit = bytes(Integer.toString(broker.deadLetterLimit()));
    send(
        new Settlement(
            "dead-letter",
            () ->
                BrokerScripts.DEAD_LETTER.run(
                    commands,
                    new String[] {processing, keys.deadLetters()},
                    message,
                    envelope,
                    limit),
            List.of(message)));
  }

  // ------------------------------------------------------------------------------------------------- sending

  private CompletableFuture<?> send(Settlement settlement) {
    if (closed.get()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<?> sent;
    try {
      sent = settlement.operation().get();
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.whenComplete(
        (ok, error) -> {
          if (error == null) {
            confirmed(settlement.messages());
          } else if (!closed.get()) {
            if (retries.isEmpty()) {
              log.warn(
                  "Consumer {}: {} failed ({}); retrying in the background",
                  consumerId,
                  settlement.what(),
                  error.getMessage());
            }
            retries.add(settlement);
          }
        });
  }

  /** Redis has applied the settlement of these messages. */
  void confirmed(List<byte[]> messages) {
    for (byte[] message : messages) {
      unsettled.computeIfPresent(
          MessageKey.of(message), (key, count) -> count > 1 ? count - 1 : null);
    }
  }

  /** Sends again every settlement that failed so far (the maintenance thread, every tick). */
  void retryFailed() {
    for (int n = retries.size(); n > 0; n--) {
      Settlement retry = retries.poll();
      if (retry == null) {
        break;
      }
      send(retry);
    }
  }

  boolean isClosed() {
    return closed.get();
  }

  void close() {
    closed.set(true);
  }
}
