package io.machinery.broker.redis;

import static io.machinery.broker.redis.RedisBroker.bytes;

import io.lettuce.core.LMoveArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.machinery.MachineryException;
import io.machinery.client.redis.RedisSession;
import io.machinery.spi.Consumer;
import io.machinery.spi.DeliveryHandler;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumption of one queue.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Fetching.</b> A virtual thread runs the fetch loop: reserve free slots from the worker, take at most
 *       that many messages into this consumer's processing list (script {@link BrokerScripts#FETCH}, or one
 *       {@code BLMOVE} on this consumer's own connection while the queue is empty), hand them over.
 *   <li><b>Stopping</b> is a Dekker handshake between {@link #fetching} and {@link #phase}: the loop is
 *       interrupted only while it waits in {@link DeliveryHandler#reserve}, never while a Redis command is in
 *       flight, and a {@code BLMOVE} is cut short with {@code CLIENT UNBLOCK}, so no reply is dropped; messages
 *       fetched after the stop go back to the head of the queue.
 *   <li><b>Lost replies.</b> When a fetch's reply is lost (timeout, dropped connection) the command may still
 *       have run: before the next fetch the processing list is compared with the messages handed over and not
 *       yet confirmed settled, and the strays go back to the head of the queue ({@link #returnStrays}). As
 *       Lettuce may also send a lost command again after reconnecting, the blocking connection is replaced and
 *       the maintenance thread sweeps the list as well ({@link #sweepStrays}).
 *   <li><b>Settling</b> is asynchronous: acknowledgements ride on the next fetch (or leave in batches when no
 *       fetch is coming, see {@link #ack}); the broker's maintenance thread calls {@link #maintain} for
 *       heartbeats and to resend settlements that failed.
 * </ul>
 */
final class RedisConsumer implements Consumer {
  private static final Logger log = LoggerFactory.getLogger(RedisConsumer.class);
  private static final int IDLE = 0;
  private static final int RESERVING = 1;
  private static final int FETCHING = 2;
  private static final int BLOCKING = 3;
  private static final long MAX_BACKOFF_MILLIS = 5_000;
  private static final Duration REPLY_MARGIN = Duration.ofSeconds(1);
  private static final int MAX_ACK_BATCH = 256;
  private static final long UNBLOCK_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  private final RedisBroker broker;
  private final RedisSession session;
  private final RedisClusterAsyncCommands<String, byte[]> commands;
  private final String tag;
  private final String id;
  private final byte[] idBytes;
  private final QueueKeys keys;
  private final String processing;
  private final String lease;
  private final DeliveryHandler handler;
  private final byte[] leaseMillis;
  private final double blockSeconds;
  private final ConcurrentLinkedQueue<Retry> retries = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<byte[]> acks = new ConcurrentLinkedQueue<>();
  /** Messages handed to the worker whose settlement Redis has not yet confirmed, with their multiplicity. */
  private final ConcurrentHashMap<ByteBuffer, Integer> unsettled = new ConcurrentHashMap<>();
  private final AtomicBoolean ackInFlight = new AtomicBoolean();
  private final CountDownLatch stopSignal = new CountDownLatch(1);
  private final CountDownLatch loopEnded = new CountDownLatch(1);
  private final AtomicBoolean stopRequested = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile boolean fetching = true;
  private volatile int phase = IDLE;
  private @Nullable Thread loop;
  private volatile RedisSession.@Nullable BlockingConnection blocking;
  private long nextHeartbeat;
  private long nextSweep;
  /** Stray messages of the last sweep (maintenance thread only). */
  private Set<ByteBuffer> suspects = Set.of();
  private volatile boolean heartbeatFailing;

  /** A settlement to send again after a failure, and the messages it settles. */
  private record Retry(String what, Supplier<CompletableFuture<?>> operation, List<byte[]> messages) {}

  RedisConsumer(RedisBroker broker, String tag, String id, QueueKeys keys, DeliveryHandler handler) {
    this.broker = broker;
    this.session = broker.session();
    this.commands = session.commands();
    this.tag = tag;
    this.id = id;
    this.idBytes = bytes(id);
    this.keys = keys;
    this.processing = keys.processing(id);
    this.lease = keys.lease(id);
    this.handler = handler;
    this.leaseMillis = bytes(Long.toString(broker.leaseTimeout().toMillis()));
    Duration poll = broker.config().redis().normalTasksPollPeriod();
    Duration cap = session.commandTimeout().dividedBy(2);
    this.blockSeconds = Math.max(0.01, (poll.compareTo(cap) > 0 ? cap : poll).toMillis() / 1000.0);
  }

  String id() { return id; }
  QueueKeys keys() { return keys; }
  boolean isClosed() { return closed.get(); }

  /** Registers the lease (so nothing is ever in a processing list without one), then starts fetching. */
  void start() {
    session.await(heartbeat());
    nextHeartbeat = System.nanoTime() + broker.heartbeatInterval().toNanos();
    nextSweep = System.nanoTime() + broker.sweepInterval().toNanos();
    blocking = session.openBlocking();
    loop = Thread.ofVirtual().name("machinery-redis-fetch-" + tag).start(this::fetchLoop);
  }

  private CompletableFuture<Long> heartbeat() {
    return BrokerScripts.HEARTBEAT.run(commands, new String[] {lease, keys.consumers()}, idBytes, leaseMillis);
  }

  // ----------------------------------------------------------------------------------------------- fetching

  private void fetchLoop() {
    try {
      while (fetching) {
        try {
          fetchUntilStopped();
        } catch (RuntimeException e) {
          // A bug or an unexpected reply must not end consumption silently: report it and start over.
          log.error("Redis consumer {}: fetch loop failed; restarting it", id, e);
          handler.brokerError(e);
          replyLostAfterCrash = true;
          awaitStop(1000);
        }
      }
    } finally {
      phase = IDLE;
      loopEnded.countDown();
    }
  }

  /** Set when the fetch loop crashed: what a lost reply may have moved is returned by the next run. */
  private boolean replyLostAfterCrash;

  private void fetchUntilStopped() {
    long backoff = 0;
    boolean queueWasEmpty = false;
    boolean replyLost = replyLostAfterCrash;
    replyLostAfterCrash = false;
    while (fetching) {
      if (replyLost) {
        try {
          returnStrays();
          replyLost = false;
        } catch (RuntimeException e) {
          if (!fetching) {
            break;
          }
          handler.brokerError(e);
          backoff = backoff == 0 ? 100 : Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
          awaitStop(backoff);
          continue;
        }
      }
      phase = RESERVING;
      if (!fetching) {
        break;
      }
      int reserved;
      try {
        reserved = handler.reserve(broker.fetchBatchSize());
      } catch (InterruptedException e) {
        break;
      } finally {
        phase = FETCHING;
      }
      Thread.interrupted(); // a stop interrupt that arrived just after reserve returned; `fetching` tells
      if (!fetching) {
        handler.release(reserved);
        break;
      }
      List<byte[]> messages;
      try {
        messages = fetch(reserved, queueWasEmpty);
        backoff = 0;
      } catch (RuntimeException e) {
        handler.release(reserved);
        replyLost = true; // the command may still run: what it moved is found by returnStrays()
        dropBlockingConnection(); // so that Lettuce does not send a lost BLMOVE again after reconnecting
        if (!fetching) {
          break;
        }
        handler.brokerError(e);
        backoff = backoff == 0 ? 100 : Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        awaitStop(backoff);
        continue;
      }
      queueWasEmpty = messages.isEmpty();
      if (!fetching) {
        returnToHead(messages);
        handler.release(reserved);
        break;
      }
      int handedOver = 0;
      try {
        for (byte[] message : messages) {
          unsettled.merge(ByteBuffer.wrap(message), 1, Integer::sum);
          handler.handle(new RedisDelivery(this, message));
          handedOver++;
        }
      } finally {
        handler.release(reserved - handedOver); // slots of messages not handed over go back, even on a crash
      }
    }
  }

  /**
   * Up to {@code max} messages: the fetch script, or (when the queue was empty last time, or is now) one
   * blocking move that waits up to the poll period.
   */
  private List<byte[]> fetch(int max, boolean queueWasEmpty) {
    if (!queueWasEmpty) {
      List<byte[]> carried = pollAcks();
      byte[][] args = new byte[3 + carried.size()][];
      args[0] = bytes(Integer.toString(max));
      args[1] = idBytes;
      args[2] = leaseMillis;
      for (int i = 0; i < carried.size(); i++) {
        args[3 + i] = carried.get(i);
      }
      List<byte[]> batch;
      try {
        batch = awaitReply(BrokerScripts.FETCH.run(commands,
            new String[] {keys.queue(), processing, lease, keys.consumers()}, args), session.commandTimeout());
      } catch (RuntimeException e) {
        acks.addAll(carried); // sent again with the next fetch (removing twice removes nothing more)
        throw e;
      }
      confirmed(carried);
      if (!batch.isEmpty() || !fetching) {
        return batch;
      }
    }
    phase = BLOCKING;
    flushAcks(); // no fetch will carry them while this one blocks; see ack()
    RedisSession.BlockingConnection connection = blocking;
    if (connection == null) {
      connection = session.openBlocking();
      blocking = connection;
    }
    try {
      byte[] one = awaitReply(connection.block(keys.queue(),
              c -> c.blmove(keys.queue(), processing, LMoveArgs.Builder.leftRight(), blockSeconds)),
          session.commandTimeout().plusMillis((long) (blockSeconds * 1000)));
      return one == null ? List.of() : List.of(one);
    } finally {
      phase = FETCHING;
    }
  }

  private void dropBlockingConnection() {
    RedisSession.BlockingConnection connection = blocking;
    blocking = null;
    if (connection != null) {
      connection.close();
    }
  }

  /** Waits for a reply without giving up on an interrupt (the reply may carry messages that are ours now). */
  private <T> T awaitReply(CompletableFuture<T> reply, Duration timeout) {
    boolean interrupted = false;
    long deadline = System.nanoTime() + timeout.plus(REPLY_MARGIN).toNanos();
    try {
      while (true) {
        try {
          return reply.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw session.failure(e.getCause() == null ? e : e.getCause());
        } catch (TimeoutException e) {
          throw new MachineryException("Redis at " + session.address() + " did not answer within " + timeout, e);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void awaitStop(long millis) {
    try {
      stopSignal.await(millis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * After a fetch whose reply was lost (timeout, dropped connection), the command may still have moved
   * messages into the processing list: every message there that was not handed to the worker (or whose
   * settlement is not confirmed) goes back to the head of the queue, in order. The snapshot of the unsettled
   * ones is taken before the list is read, so a settlement racing with this never makes a message look stray.
   */
  private void returnStrays() {
    List<byte[]> strays = strays(awaitReply(commands.lrange(processing, 0, -1).toCompletableFuture(),
        session.commandTimeout()), new HashMap<>(unsettled));
    if (!strays.isEmpty()) {
      Long returned = awaitReply(BrokerScripts.RETURN_TO_HEAD.run(commands, new String[] {processing, keys.queue()},
          strays.toArray(new byte[0][])), session.commandTimeout());
      log.info("Consumer {}: returned {} messages whose fetch reply was lost to the head of queue {}", id, returned,
          keys.queue());
    }
  }

  /** The listed messages that are not among the known unsettled ones (counted as a multiset), in list order. */
  private static List<byte[]> strays(List<byte[]> listed, Map<ByteBuffer, Integer> known) {
    List<byte[]> strays = new ArrayList<>();
    for (byte[] message : listed) {
      ByteBuffer key = ByteBuffer.wrap(message);
      Integer count = known.get(key);
      if (count == null) {
        strays.add(message);
      } else if (count == 1) {
        known.remove(key);
      } else {
        known.put(key, count - 1);
      }
    }
    return strays;
  }

  /**
   * The slow safety net behind {@link #returnStrays}: a lost reply's command can also run later (Lettuce
   * sends it again after reconnecting). Every sweep lists the processing list; a message that is stray in two
   * sweeps in a row (a fetch reply takes far less than a sweep interval) goes back to the head of the queue.
   */
  private void sweepStrays() {
    Map<ByteBuffer, Integer> known = new HashMap<>(unsettled); // before the list is read
    List<byte[]> now = strays(session.await(commands.lrange(processing, 0, -1)), known);
    List<byte[]> lost = new ArrayList<>();
    Set<ByteBuffer> next = new HashSet<>();
    for (byte[] message : now) {
      ByteBuffer key = ByteBuffer.wrap(message);
      if (suspects.contains(key)) {
        lost.add(message);
      } else {
        next.add(key);
      }
    }
    suspects = next;
    if (!lost.isEmpty()) {
      long returned = session.await(BrokerScripts.RETURN_TO_HEAD.run(commands, new String[] {processing, keys.queue()},
          lost.toArray(new byte[0][])));
      log.warn("Consumer {}: returned {} messages that a lost fetch reply had left in its processing list to the head"
          + " of queue {}", id, returned, keys.queue());
    }
  }

  /** Messages fetched after a stop was requested go back to the head of the queue, in order. */
  private void returnToHead(List<byte[]> messages) {
    if (messages.isEmpty()) {
      return;
    }
    try {
      session.await(BrokerScripts.RETURN_TO_HEAD.run(commands, new String[] {processing, keys.queue()},
          messages.toArray(new byte[0][])));
    } catch (RuntimeException e) {
      log.warn("Consumer {}: could not return {} fetched messages to queue {} ({}); they return when the consumer"
          + " closes or its lease expires", id, messages.size(), keys.queue(), e.getMessage());
    }
  }

  @Override
  public void stopFetching(Duration timeout) {
    if (stopRequested.compareAndSet(false, true)) {
      fetching = false;
      stopSignal.countDown();
      Thread t = loop;
      if (t != null && phase == RESERVING) {
        t.interrupt();
      }
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      // a BLMOVE in flight is cut short (it returns as on its timeout, so no message is lost on the way)
      while (!loopEnded.await(Math.min(UNBLOCK_EVERY_NANOS, Math.max(0, deadline - System.nanoTime())), TimeUnit.NANOSECONDS)
          && System.nanoTime() - deadline < 0) {
        RedisSession.BlockingConnection connection = blocking;
        if (connection != null) {
          connection.interrupt();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // --------------------------------------------------------------------------------------------- settling

  /**
   * Queues the removal. Acknowledgements normally ride on the next fetch (the worker frees the slot right
   * after acknowledging, so the fetch loop fetches at once): no command of their own. When no fetch is coming
   * (the loop blocks on an empty queue, or has ended) they leave at once in batches, at most one batch in
   * flight per consumer (a lone one as {@code LREM}, several as one {@link BrokerScripts#ACK}); the
   * maintenance thread flushes any that wait longer than a tick.
   */
  void ack(byte[] message) {
    if (closed.get()) {
      return;
    }
    acks.add(message);
    int now = phase; // read after the add: the loop sets BLOCKING before it flushes (a Dekker pair)
    if (now == BLOCKING || now == IDLE) {
      flushAcks();
    }
  }

  private List<byte[]> pollAcks() {
    List<byte[]> batch = new ArrayList<>();
    for (byte[] m; batch.size() < MAX_ACK_BATCH && (m = acks.poll()) != null; ) {
      batch.add(m);
    }
    return batch;
  }

  private void flushAcks() {
    while (!acks.isEmpty() && ackInFlight.compareAndSet(false, true)) {
      List<byte[]> batch = pollAcks();
      if (batch.isEmpty()) {
        ackInFlight.set(false);
        continue;
      }
      Supplier<CompletableFuture<?>> operation = batch.size() == 1
          ? () -> commands.lrem(processing, 1, batch.get(0)).toCompletableFuture()
          : () -> BrokerScripts.ACK.run(commands, new String[] {processing}, batch.toArray(new byte[0][]));
      CompletableFuture<?> sent;
      try {
        sent = operation.get();
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      sent.whenComplete((ok, error) -> {
        if (error == null) {
          confirmed(batch);
        } else if (!closed.get()) {
          if (retries.isEmpty()) {
            log.warn("Consumer {}: ack failed ({}); retrying in the background", id, error.getMessage());
          }
          retries.add(new Retry("ack", operation, batch));
        }
        ackInFlight.set(false);
        flushAcks();
      });
      return;
    }
  }

  /** Waits (up to {@code timeout}) until every queued acknowledgement has been answered. */
  private void drainAcks(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while ((!acks.isEmpty() || ackInFlight.get()) && System.nanoTime() - deadline < 0) {
      flushAcks();
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  void requeue(byte[] message, Duration delay) {
    if (delay.isZero() || delay.isNegative()) {
      settle("requeue", message, () -> BrokerScripts.REQUEUE_NOW.run(commands, new String[] {processing, keys.queue()}, message));
      return;
    }
    Instant due = broker.clock().instant().plus(delay);
    long score = RedisBroker.nanos(due);
    if (session.isCluster()) {
      // delayed_tasks lives in another slot: add first, then remove (a crash in between duplicates, never loses)
      settle("requeue", message, () -> commands.zadd(broker.delayedKey(), (double) score, message).toCompletableFuture()
          .thenCompose(added -> commands.lrem(processing, 1, message).toCompletableFuture()));
    } else {
      settle("requeue", message, () -> BrokerScripts.REQUEUE_LATER.run(commands, new String[] {processing, broker.delayedKey()},
          message, bytes(Long.toString(score))));
    }
  }

  void deadLetter(byte[] message, String reason) {
    byte[] envelope = new DeadLetter(keys.queue(), reason, id, broker.clock().instant(), message).toJson();
    settle("dead-letter", message, () -> BrokerScripts.DEAD_LETTER.run(commands, new String[] {processing, keys.deadLetters()},
        message, envelope));
  }

  /**
   * Sends a settlement without waiting; a failure queues it for the maintenance thread to send again. After
   * {@link #close()} settlements are dropped: closing returned every unsettled message to the queue.
   */
  private void settle(String what, byte[] message, Supplier<CompletableFuture<?>> operation) {
    send(new Retry(what, operation, List.of(message)));
  }

  private void send(Retry settlement) {
    if (closed.get()) {
      return;
    }
    CompletableFuture<?> sent;
    try {
      sent = settlement.operation().get();
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    sent.whenComplete((ok, error) -> {
      if (error == null) {
        confirmed(settlement.messages());
      } else if (!closed.get()) {
        if (retries.isEmpty()) {
          log.warn("Consumer {}: {} failed ({}); retrying in the background", id, settlement.what(), error.getMessage());
        }
        retries.add(settlement);
      }
    });
  }

  /** Redis has applied the settlement of these messages. */
  private void confirmed(List<byte[]> messages) {
    for (byte[] message : messages) {
      unsettled.computeIfPresent(ByteBuffer.wrap(message), (key, count) -> count > 1 ? count - 1 : null);
    }
  }

  /** Called by the broker's maintenance thread: heartbeat when due, retry failed settlements. */
  void maintain(long now) {
    if (closed.get()) {
      return;
    }
    if (now - nextHeartbeat >= 0) {
      nextHeartbeat = now + broker.heartbeatInterval().toNanos();
      CompletableFuture<Long> sent;
      try {
        sent = heartbeat();
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      sent.whenComplete((ok, error) -> {
        if (error != null && !heartbeatFailing) {
          heartbeatFailing = true;
          log.warn("Consumer {}: heartbeat failed ({}); its tasks go back to queue {} if this lasts over {}", id,
              error.getMessage(), keys.queue(), broker.leaseTimeout());
        } else if (error == null && heartbeatFailing) {
          heartbeatFailing = false;
          log.info("Consumer {}: heartbeat works again", id);
        }
      });
    }
    if (!acks.isEmpty() && phase != FETCHING) {
      flushAcks(); // the worker acknowledged without freeing a slot, so no fetch is coming to carry them
    }
    if (now - nextSweep >= 0) {
      nextSweep = now + broker.sweepInterval().toNanos();
      try {
        sweepStrays();
      } catch (RuntimeException e) {
        log.debug("Consumer {}: sweeping the processing list failed: {}", id, e.toString());
      }
    }
    for (int n = retries.size(); n > 0; n--) {
      Retry retry = retries.poll();
      if (retry == null) {
        break;
      }
      send(retry);
    }
  }

  // ---------------------------------------------------------------------------------------------- closing

  /**
   * Stops fetching, then returns every unsettled message of this consumer to the head of the queue and drops
   * the lease (the registration is left for a reaper to remove). Idempotent.
   */
  @Override
  public void close() {
    stopFetching(session.commandTimeout().plusMillis((long) (blockSeconds * 1000)).plus(REPLY_MARGIN));
    drainAcks(session.commandTimeout());
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      long returned = session.await(BrokerScripts.RELEASE.run(commands,
          new String[] {lease, processing, keys.queue(), keys.consumers()}, idBytes, bytes("1")));
      if (returned > 0) {
        log.info("Consumer {}: returned {} unsettled tasks to the head of queue {}", id, returned, keys.queue());
      }
    } catch (RuntimeException e) {
      log.warn("Consumer {}: could not return its unsettled tasks to queue {} ({}); a reaper returns them once its"
          + " lease expires", id, keys.queue(), e.getMessage());
    }
    dropBlockingConnection();
    broker.removed(this);
  }

  @Override
  public String toString() {
    return "RedisConsumer{" + id + " on " + keys.queue() + "}";
  }
}
