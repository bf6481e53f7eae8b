package io.machinery.broker.redis;

import static io.machinery.broker.redis.RedisBroker.bytes;

import io.lettuce.core.LMoveArgs;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.machinery.MachineryException;
import io.machinery.client.redis.RedisSession;
import io.machinery.spi.BrokerClosing;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.LeaseTimeline;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One consumption of one queue: the fetch loop and the consumer's lifecycle. Settling is {@link
 * Settlements}, the recovery from lost fetch replies is {@link StrayCollector}. (About 500 lines,
 * much of it notes: the fetch loop, its stop handshake and the blocking connection share {@link
 * #phase}, {@link #fetching} and {@link #blocking}, and are only correct read together.)
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Fetching.</b> A platform thread runs the fetch loop: reserve free slots from the worker,
 *       take at most that many messages, and no more bytes than the broker's fetch budget, into
 *       this consumer's processing list (script {@link BrokerScripts#FETCH}, or one {@code BLMOVE}
 *       on this consumer's own connection while the queue is empty), hand them over. Before each
 *       blocking move the consumer refreshes its lease and registration and waits for the reply,
 *       and the move waits at most a third of the lease: a reaper may have unregistered it during a
 *       pause, and a message it then took would be in a list no reaper visits (review F13); this
 *       way whatever the move takes is registered and leased. Right behind the move, on the same
 *       connection, goes the claim ({@link BrokerScripts#CLAIMED_TAIL}): Redis runs it the moment
 *       the move returns, so the consumer is registered again at once (F13) and the moved message's
 *       delivery count comes back with the move's reply. On an idle worker a message thus costs no
 *       round trip after the push that wakes the move (the claim was a second one, after the move's
 *       reply; it still is when the claim read another message than the move took). The loop
 *       survives any {@link Throwable}: it reports it and starts over.
 *   <li><b>Fetching ahead</b> ({@link RedisBroker.Builder#prefetch}). With every slot busy the loop
 *       would wait for a slot, then for a fetch's round trip, while the slot stays idle; so it
 *       keeps up to {@code prefetch} messages fetched ahead ({@link #ahead}) and hands them over as
 *       slots free up. When half are handed over it sends the next fetch and goes on handing over
 *       the rest while the reply travels ({@link #fetchingAhead}): a loop that waited for the reply
 *       would leave every slot that frees up meanwhile idle, and at concurrency 10 that wait
 *       bounded the worker. They are taken like any fetch (in the processing list, leased, counted
 *       unsettled), so a dead worker loses none and a stopping one puts them back at the head of
 *       the queue in order. A slot that does not free up within {@link #PREFETCH_HOLD_MILLIS} ms
 *       means long tasks: the messages go back to the queue for other workers, and fetching ahead
 *       pauses for a second.
 *   <li><b>Priorities.</b> The fetch script takes from the queue and its priority bands by the
 *       weighted fetch ({@link io.machinery.spi.PriorityBands}; this consumer counts its takes for
 *       the turns of lower bands); with {@link RedisBroker.Builder#priorities} it first moves
 *       prioritized messages among the first {@link RedisBroker#PRIORITY_WINDOW} of the plain queue
 *       (a Go producer's) to their bands. The blocking move watches the plain queue only, so after
 *       each one that timed out the next fetch runs the script again: a message published to a band
 *       while the consumer was idle waits at most one poll period.
 *   <li><b>Fairness.</b> The fetch script also takes from the fairness lanes ({@link
 *       io.machinery.spi.FairShares}): one task of each key in the ring in turn, every (keys + 1)th
 *       take for the unkeyed tasks; this consumer counts those turns ({@link #fairTurns}). It does
 *       so whether or not its broker has {@link RedisBroker.Builder#fairness} on, so no keyed task
 *       is stranded; with it on, the fetch first moves keyed tasks among the plain queue's first
 *       {@link RedisBroker#PRIORITY_WINDOW} to their lanes, and what goes back (a close, a reap, a
 *       fetch ahead given back, a stray) goes to the head of its lane.
 *   <li><b>Delivery counts.</b> Each message carries how many times it was handed out: 1 plus the
 *       number of times a reaper returned it (the reaper counts in {@link
 *       QueueKeys#redeliveries()}), so a message that kills every worker taking it is recognised.
 *       Returns on a graceful close or after a lost reply do not count: the message did not run.
 *   <li><b>Stopping</b> is a Dekker handshake between {@link #fetching} and {@link #phase}: the
 *       loop is interrupted only while it waits in {@link DeliveryHandler#reserve} (a fetch ahead
 *       may be on its way then: its reply is still awaited and what it took goes back), never while
 *       it waits for a Redis reply, and a {@code BLMOVE} is cut short with {@code CLIENT UNBLOCK},
 *       so no reply is dropped; messages fetched after the stop go back to the head of the queue.
 *   <li><b>Maintenance</b> runs on the broker's platform threads, never on a virtual thread that
 *       CPU-bound tasks could starve: {@link #maintainFast} (heartbeat, acknowledgements no fetch
 *       carries, retries of failed settlements; never blocks) and {@link #maintainSlow} (the stray
 *       sweep, which waits for Redis).
 * </ul>
 */
final class RedisConsumer implements Consumption {
  private static final Logger log = LoggerFactory.getLogger(RedisConsumer.class);
  private static final int IDLE = 0;
  private static final int RESERVING = 1;
  private static final int FETCHING = 2;
  private static final int BLOCKING = 3;
  private static final long MAX_BACKOFF_MILLIS = 5_000;
  private static final Duration REPLY_MARGIN = Duration.ofSeconds(1);
  private static final long UNBLOCK_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  /** How long messages fetched ahead wait for a free slot before they go back, by default. */
  static final long PREFETCH_HOLD_MILLIS = 50;

  /** How long a consumer whose tasks turned out long fetches only for free slots. */
  private static final long PREFETCH_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(1);

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
  private final Settlements settlements;
  private final StrayCollector strays;
  private final CountDownLatch stopSignal = new CountDownLatch(1);
  private final CountDownLatch loopEnded = new CountDownLatch(1);
  private final AtomicBoolean stopRequested = new AtomicBoolean();
  private final AtomicBoolean closed = new AtomicBoolean();
  private volatile boolean fetching = true;
  private volatile int phase = IDLE;
  private @Nullable Thread loop;
  private volatile RedisSession.@Nullable BlockingConnection blocking;

  /**
   * Set when a fetch reply was lost (or the fetch loop crashed): what the command may have moved is
   * returned before the next fetch. Only the fetch loop's thread touches it.
   */
  private boolean replyLost;

  /**
   * Whether a message was handed over since the fetch loop last failed unexpectedly: a loop that
   * fails again before it hands one over waits longer each time ({@link #restartDelay}). Only the
   * fetch loop's thread touches it.
   */
  private boolean handedOverSinceFailure;

  /**
   * The fetch script's KEYS: the queue, this consumer's keys, the priority bands 1-9, the fairness
   * ring and direct record.
   */
  private final String[] fetchKeys;

  /** The fetch script's arguments before the acknowledgements it carries. */
  private static final int FETCH_ARGS = 11;

  /** How many messages at the queue's head the fetch sorts, and into what ("p", "f", "pf"). */
  private final byte[] sortWindow;

  private final byte[] sortWhat;

  /** Messages this consumer took by the weighted fetch (the priority policy's turn counter). */
  private long takes;

  /** Takes this consumer made while fairness lanes waited (the fair shares' turn counter). */
  private long fairTurns;

  /** A message fetched ahead of a free slot, with its delivery count. */
  private record Ahead(byte[] message, int count, long takenAt) {}

  /**
   * Messages fetched ahead of free slots, in fetch order (only the fetch loop's thread touches it).
   * They are in the processing list and counted as unsettled, so the stray sweep leaves them.
   */
  private final java.util.ArrayDeque<Ahead> ahead = new java.util.ArrayDeque<>();

  /**
   * The fetch ahead on its way, if any: sent while the messages already ahead are handed over, and
   * taken into {@link #ahead} when its reply is in or nothing is left to hand over (only the fetch
   * loop's thread touches it).
   */
  private @Nullable FetchInFlight fetchingAhead;

  /** Until when (nanoTime) this consumer fetches only for free slots; see Builder.prefetch. */
  private long prefetchPausedUntil = System.nanoTime();

  /**
   * The lease's renewals that Redis confirmed, for {@link RedisDelivery#stillHeld()}: the
   * heartbeats, and the fetches that took messages.
   */
  private final LeaseTimeline leaseTimeline;

  private volatile long nextHeartbeat;
  private volatile long nextSweep;
  private volatile boolean heartbeatFailing;

  RedisConsumer(
      RedisBroker broker, String tag, String id, QueueKeys keys, DeliveryHandler handler) {
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
    this.leaseTimeline = LeaseTimeline.of(broker.leaseTimeout());
    Duration poll = broker.config().redis().normalTasksPollPeriod();
    Duration cap = session.commandTimeout().dividedBy(2);
    if (cap.compareTo(broker.heartbeatInterval()) > 0) {
      cap =
          broker.heartbeatInterval(); // a blocking move ends well within the lease that preceded it
      // (see fetch)
    }
    this.blockSeconds = Math.max(0.01, (poll.compareTo(cap) > 0 ? cap : poll).toMillis() / 1000.0);
    this.fetchKeys = keys.fetchKeys(id);
    String sort = (broker.priorities() ? "p" : "") + (broker.fairness() ? "f" : "");
    this.sortWhat = bytes(sort);
    this.sortWindow = bytes(sort.isEmpty() ? "0" : Integer.toString(RedisBroker.PRIORITY_WINDOW));
    this.settlements = new Settlements(broker, id, keys, processing);
    this.strays = new StrayCollector(session, keys, processing, broker.fairness());
  }

  String id() {
    return id;
  }

  QueueKeys keys() {
    return keys;
  }

  boolean isClosed() {
    return closed.get();
  }

  DeliveryHandler handler() {
    return handler;
  }

  /**
   * Registers the lease (so nothing is ever in a processing list without one), then starts
   * fetching.
   */
  void start() {
    session.await(heartbeat());
    nextHeartbeat = System.nanoTime() + broker.heartbeatInterval().toNanos();
    nextSweep = System.nanoTime() + broker.sweepInterval().toNanos();
    blocking = session.openBlocking();
    // A platform thread: with CPU-bound tasks on every carrier thread, a virtual fetch loop could
    // not take its
    // BLMOVE's reply for many seconds, and the stray sweep (two sweeps in a row) returned the
    // message it had
    // moved to the queue while it was being handed over: a task ran twice (CpuBoundTasksIT, 20 s
    // tasks on 2 cores).
    loop = Thread.ofPlatform().daemon().name("machinery-redis-fetch-" + tag).start(this::fetchLoop);
  }

  /** Refreshes the lease and the registration; the lease timeline knows once Redis confirmed. */
  private CompletableFuture<Long> heartbeat() {
    long sent = System.nanoTime();
    return BrokerScripts.HEARTBEAT
        .<Long>run(commands, new String[] {lease, keys.consumers()}, idBytes, leaseMillis)
        .thenApply(
            reply -> {
              leaseTimeline.renewed(sent, System.nanoTime());
              return reply;
            });
  }

  /**
   * Whether this consumer's lease has lasted without a break since {@code since} (a {@link
   * System#nanoTime()} before the command that took a message), as far as this process knows.
   */
  boolean leaseHeldSince(long since) {
    return leaseTimeline.heldThroughout(since, System.nanoTime());
  }

  /**
   * Asks Redis whether {@code message} is still in this consumer's processing list, and if so
   * refreshes the lease in the same script ({@link BrokerScripts#HOLDS}), so that no reaper can
   * take it for a lease from now on. Throws when Redis cannot answer.
   */
  boolean confirmHold(byte[] message) {
    long sent = System.nanoTime();
    long found =
        session.await(
            BrokerScripts.HOLDS.<Long>run(
                commands,
                new String[] {processing, lease, keys.consumers()},
                message,
                idBytes,
                leaseMillis));
    if (found == 1) {
      leaseTimeline.renewed(sent, System.nanoTime());
      return true;
    }
    settlements.confirmed(List.of(message)); // a reaper took it: nothing of ours to settle
    return false;
  }

  // -----------------------------------------------------------------------------------------------
  // fetching

  private void fetchLoop() {
    int failuresInARow = 0;
    try {
      while (fetching) {
        try {
          fetchUntilStopped();
        } catch (Throwable e) {
          // A bug, an unexpected reply or an OutOfMemoryError must not end consumption silently:
          // report it and start over (what the failed step may have moved is returned by
          // returnStrays()), waiting longer each time it fails again before it hands a message
          // over, so that a failure at every turn does not log an error every second for ever.
          failuresInARow = handedOverSinceFailure ? 1 : failuresInARow + 1;
          handedOverSinceFailure = false;
          long delay = restartDelay(failuresInARow);
          if (failuresInARow == 1) {
            log.error("Redis consumer {}: fetch loop failed; restarting it in {} ms", id, delay, e);
          } else {
            log.error(
                "Redis consumer {}: fetch loop failed again, {} times in a row without handing a"
                    + " message over; restarting it in {} ms",
                id,
                failuresInARow,
                delay,
                e);
          }
          report(e);
          replyLost = true;
          awaitStop(delay);
        }
      }
    } finally {
      phase = IDLE;
      loopEnded.countDown();
    }
  }

  /** 1 s after the first unexpected failure in a row, doubling up to 30 s. */
  private static long restartDelay(int failuresInARow) {
    return Math.min(30_000L, 1000L << Math.min(failuresInARow - 1, 5));
  }

  private void report(Throwable e) {
    try {
      handler.brokerError(e);
    } catch (Throwable ignored) {
      // the worker's error handler failing must not end the loop that reports to it
    }
  }

  private void fetchUntilStopped() {
    try {
      fetchAndHandOver();
    } finally {
      returnAhead();
    }
  }

  /**
   * Hands over messages fetched ahead as slots free up; false when the loop is to end (stopping).
   * When no slot frees up within the hold, gives them all back and pauses fetching ahead.
   */
  private boolean handOverAhead() {
    phase = RESERVING;
    if (!fetching) {
      return false;
    }
    int reserved;
    try {
      reserved =
          handler.reserve(Math.min(ahead.size(), broker.fetchBatchSize()), broker.prefetchHold());
    } catch (InterruptedException e) {
      return false;
    } finally {
      phase = FETCHING;
    }
    Thread.interrupted(); // a stop interrupt that arrived just after reserve returned
    if (!fetching) {
      handler.release(reserved);
      return false;
    }
    if (reserved == 0) {
      prefetchPausedUntil = System.nanoTime() + PREFETCH_PAUSE_NANOS;
      returnAhead();
      return true;
    }
    int handedOver = 0;
    try {
      while (handedOver < reserved && !ahead.isEmpty()) {
        Ahead next = ahead.poll();
        try {
          handler.handle(new RedisDelivery(this, next.message(), next.count(), next.takenAt()));
        } catch (Throwable e) {
          // not handed over: let returnStrays() put it back, with the rest
          settlements.confirmed(List.of(next.message()));
          throw e;
        }
        handedOver++;
        handedOverSinceFailure = true;
      }
    } finally {
      handler.release(reserved - handedOver);
    }
    return true;
  }

  /**
   * Waits for the fetch ahead on its way and adds what it took to {@link #ahead}; true when it
   * found the queue empty. Throws when its reply is lost (see {@link #replyLost}).
   */
  private boolean takeFetchAhead() {
    FetchInFlight inFlight = fetchingAhead;
    if (inFlight == null) {
      return false;
    }
    fetchingAhead = null;
    Fetched fetched = finishFetch(inFlight);
    for (int i = 0; i < fetched.messages().size(); i++) {
      byte[] message = fetched.messages().get(i);
      settlements.handedOver(message); // unsettled from now on: the stray sweep leaves it
      ahead.add(new Ahead(message, fetched.count(i), fetched.takenAt()));
    }
    return fetched.messages().isEmpty() && !fetched.more();
  }

  /**
   * Puts the messages fetched ahead (with those of a fetch ahead on its way) back at the head of
   * the queue, in order, and forgets them; if that fails they stay in the processing list, where
   * the stray sweep (they are no longer counted unsettled) or the consumer's close returns them.
   */
  private void returnAhead() {
    try {
      takeFetchAhead();
    } catch (RuntimeException e) {
      replyLost = true; // what it took goes back before the next fetch, or when the consumer closes
      log.debug("Consumer {}: the reply of a fetch ahead was lost: {}", id, e.toString());
    }
    if (ahead.isEmpty()) {
      return;
    }
    List<byte[]> messages = new java.util.ArrayList<>(ahead.size());
    for (Ahead a : ahead) {
      messages.add(a.message());
    }
    ahead.clear();
    returnToHead(messages);
    settlements.confirmed(messages);
  }

  private void fetchAndHandOver() {
    long backoff = 0;
    boolean queueWasEmpty = false;
    while (fetching) {
      if (replyLost) {
        try {
          long returned = strays.returnStrays(settlements.unsettledSnapshot());
          if (returned > 0) {
            log.info(
                "Consumer {}: returned {} messages whose fetch reply was lost to the head of queue {}",
                id,
                returned,
                keys.queue());
          }
          replyLost = false;
        } catch (RuntimeException e) {
          if (!fetching) {
            break;
          }
          backoff = reportAndBackOff(e, backoff);
          continue;
        }
      }
      int prefetch = broker.prefetch(handler.capacity());
      if (prefetch > 0) {
        try {
          if (fetchingAhead == null
              && ahead.size() <= prefetch / 2
              && !queueWasEmpty
              && System.nanoTime() - prefetchPausedUntil >= 0) {
            fetchingAhead = startFetch(prefetch - ahead.size());
          }
          if (fetchingAhead != null && (ahead.isEmpty() || fetchingAhead.reply().isDone())) {
            queueWasEmpty = takeFetchAhead();
            backoff = 0;
          }
        } catch (RuntimeException e) {
          replyLost = true;
          dropBlockingConnection();
          if (!fetching) {
            break;
          }
          backoff = reportAndBackOff(e, backoff);
          continue;
        }
        if (!fetching) {
          break; // what was fetched ahead goes back in the finally below
        }
      }
      if (!ahead.isEmpty()) {
        if (!handOverAhead()) {
          break;
        }
        continue;
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
      Thread.interrupted(); // a stop interrupt that arrived just after reserve returned; `fetching`
      // tells
      if (!fetching) {
        handler.release(reserved);
        break;
      }
      Fetched fetched;
      try {
        fetched = fetch(reserved, queueWasEmpty);
        backoff = 0;
      } catch (RuntimeException e) {
        handler.release(reserved);
        // The next try runs the fetch script first: a Redis out of memory refuses every BLMOVE
        // (a write that may grow memory) but runs the script, whose first write is an LPOP. A
        // consumer whose fetch ahead had found the queue empty retried only its blocking move and
        // took nothing while tasks a reaper, a requeue or the delayed-task promotion put in its
        // queue waited for memory to be freed.
        queueWasEmpty = false;
        replyLost = true; // the command may still run: what it moved is found by returnStrays()
        dropBlockingConnection(); // so that Lettuce does not send a lost BLMOVE again after
        // reconnecting
        if (!fetching) {
          break;
        }
        backoff = reportAndBackOff(e, backoff);
        continue;
      }
      List<byte[]> messages = fetched.messages();
      queueWasEmpty = messages.isEmpty() && !fetched.more();
      if (!fetching) {
        returnToHead(messages);
        handler.release(reserved);
        break;
      }
      int handedOver = 0;
      try {
        for (int i = 0; i < messages.size(); i++) {
          byte[] message = messages.get(i);
          settlements.handedOver(message);
          try {
            handler.handle(new RedisDelivery(this, message, fetched.count(i), fetched.takenAt()));
          } catch (Throwable e) {
            // not handed over (as far as anyone can tell): let returnStrays() put it back, with the
            // rest
            settlements.confirmed(List.of(message));
            throw e;
          }
          handedOver++;
          handedOverSinceFailure = true;
        }
      } finally {
        handler.release(
            reserved - handedOver); // slots of messages not handed over go back, even on a crash
      }
    }
  }

  /** Reports a failed fetch step and waits the next back-off (cut short by a stop); returns it. */
  private long reportAndBackOff(RuntimeException e, long backoff) {
    report(e);
    long next = nextBackoff(backoff);
    awaitStop(next);
    return next;
  }

  private static long nextBackoff(long backoff) {
    return backoff == 0 ? 100 : Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
  }

  /**
   * Messages taken by one fetch, with their delivery counts (empty: all 1), whether a bound ended
   * it (the queue may hold more even when nothing was taken: it was all dead-lettered for size),
   * and when the command that set their lease was sent ({@link System#nanoTime()}).
   */
  private record Fetched(List<byte[]> messages, int[] counts, boolean more, long takenAt) {
    int count(int i) {
      return counts.length > i ? counts[i] : 1;
    }
  }

  /**
   * Up to {@code max} messages: the fetch script, or (when the queue was empty last time, or is
   * now) one blocking move that waits up to the poll period.
   */
  private Fetched fetch(int max, boolean queueWasEmpty) {
    if (!queueWasEmpty) {
      Fetched batch = fetchNow(max);
      if (!batch.messages().isEmpty() || batch.more() || !fetching) {
        return batch;
      }
    }
    return fetchBlocking();
  }

  /** Up to {@code max} messages by the fetch script, which never waits for messages. */
  private Fetched fetchNow(int max) {
    return finishFetch(startFetch(max));
  }

  /**
   * A fetch script on its way, with the acknowledgements it carries (given back to {@link
   * Settlements} if its reply is lost).
   */
  private record FetchInFlight(
      CompletableFuture<List<byte[]>> reply, List<byte[]> carried, long sentNanos) {}

  /** Sends the fetch script for up to {@code max} messages without waiting for its reply. */
  private FetchInFlight startFetch(int max) {
    List<byte[]> carried = settlements.pollAcks();
    byte[][] args = new byte[FETCH_ARGS + carried.size()][];
    args[0] = bytes(Integer.toString(max));
    args[1] = idBytes;
    args[2] = leaseMillis;
    args[3] = bytes(Long.toString(broker.fetchByteBudget()));
    args[4] = bytes(Integer.toString(broker.config().maxMessageBytes()));
    args[5] = bytes(broker.clock().instant().toString());
    args[6] = bytes(Integer.toString(broker.deadLetterLimit()));
    args[7] = bytes(Long.toString(takes));
    args[8] = sortWindow;
    args[9] = sortWhat;
    args[10] = bytes(Long.toString(fairTurns));
    for (int i = 0; i < carried.size(); i++) {
      args[FETCH_ARGS + i] = carried.get(i);
    }
    CompletableFuture<List<byte[]>> reply;
    long sent = System.nanoTime();
    try {
      reply = BrokerScripts.FETCH.run(commands, fetchKeys, args);
    } catch (RuntimeException e) {
      settlements.carryAgain(carried);
      throw e;
    }
    return new FetchInFlight(reply, carried, sent);
  }

  /** Waits for a fetch script's reply; throws (acknowledgements carried again) when it is lost. */
  private Fetched finishFetch(FetchInFlight inFlight) {
    List<byte[]> reply;
    try {
      reply = awaitReply(inFlight.reply(), session.commandTimeout());
    } catch (RuntimeException e) {
      settlements.carryAgain(inFlight.carried());
      throw e;
    }
    settlements.confirmed(inFlight.carried());
    if (reply.size() > 4) {
      leaseTimeline.renewed(inFlight.sentNanos(), System.nanoTime()); // it set the lease
    }
    takes = Long.parseLong(new String(reply.get(2), StandardCharsets.US_ASCII));
    fairTurns = Long.parseLong(new String(reply.get(3), StandardCharsets.US_ASCII));
    return new Fetched(
        reply.subList(4, reply.size()),
        counts(reply.get(0)),
        reply.get(1).length == 1 && reply.get(1)[0] == '1',
        inFlight.sentNanos());
  }

  /** One message by a blocking move that waits up to the poll period (none: an empty batch). */
  private Fetched fetchBlocking() {
    // Re-register and refresh the lease before blocking: a reaper may have unregistered this
    // consumer during a
    // pause (GC, SIGSTOP), and a message the blocking move takes must never land in a list no
    // reaper visits.
    // The move ends within a third of the lease, so whatever it takes is in the list before the
    // lease expires.
    long leased = System.nanoTime();
    awaitReply(heartbeat(), session.commandTimeout());
    phase = BLOCKING;
    settlements.flushAcks(); // no fetch will carry them while this one blocks; see ack()
    RedisSession.BlockingConnection connection = blocking;
    if (connection == null) {
      connection = session.openBlocking();
      blocking = connection;
    }
    byte[] one;
    // The claim rides right behind the move on the same connection (see the class notes).
    AtomicReference<CompletableFuture<List<Object>>> claim = new AtomicReference<>();
    try {
      one =
          awaitReply(
              connection.block(
                  keys.queue(),
                  c -> {
                    RedisFuture<byte[]> move =
                        c.blmove(
                            keys.queue(), processing, LMoveArgs.Builder.leftRight(), blockSeconds);
                    claim.set(
                        BrokerScripts.CLAIMED_TAIL.run(
                            c,
                            new String[] {lease, keys.consumers(), keys.redeliveries(), processing},
                            idBytes,
                            leaseMillis));
                    return move;
                  }),
              session.commandTimeout().plusMillis((long) (blockSeconds * 1000)));
    } finally {
      phase = FETCHING;
    }
    long reaped = claimedTail(claim.get(), one);
    if (one == null) {
      // "more": the next fetch runs the script, which looks at the priority bands the move cannot
      return new Fetched(List.of(), new int[0], true, leased);
    }
    if (reaped < 0) {
      reaped = claimed(one);
    }
    return new Fetched(
        List.of(one),
        new int[] {(int) Math.min(Integer.MAX_VALUE - 1, reaped) + 1},
        false,
        leased); // the lease refreshed right before the move covers it
  }

  /**
   * The delivery count of {@code moved} from the claim sent behind its move: how many times it was
   * reaped, or -1 when that claim failed or read another message (then {@link #claimed} reads it).
   * Waits for the claim's reply even when nothing was moved, so no command of this move is left in
   * flight on the blocking connection.
   */
  private long claimedTail(
      @Nullable CompletableFuture<List<Object>> claim, byte @Nullable [] moved) {
    if (claim == null) {
      return -1;
    }
    List<Object> reply;
    try {
      reply = awaitReply(claim, session.commandTimeout());
    } catch (RuntimeException e) {
      log.debug("Consumer {}: the claim behind a blocking move failed: {}", id, e.toString());
      return -1;
    }
    if (moved == null
        || reply.size() < 2
        || !(reply.get(0) instanceof byte[] tail)
        || !(reply.get(1) instanceof Long count)
        || !DeadLetter.sha1Hex(moved).equals(new String(tail, StandardCharsets.US_ASCII))) {
      return -1;
    }
    return count;
  }

  /**
   * The {@link BrokerScripts#CLAIMED} round trip for a message a blocking move took: re-registers
   * this consumer and reads how many times the message was reaped (0 when that fails: the message
   * is ours, in our processing list, and the next heartbeat re-registers us).
   */
  private long claimed(byte[] one) {
    try {
      return awaitReply(
          BrokerScripts.CLAIMED.run(
              commands,
              new String[] {lease, keys.consumers(), keys.redeliveries()},
              idBytes,
              leaseMillis,
              bytes(DeadLetter.sha1Hex(one))),
          session.commandTimeout());
    } catch (RuntimeException e) {
      log.debug("Consumer {}: re-registering after a blocking move failed: {}", id, e.toString());
      return 0;
    }
  }

  private static int[] counts(byte[] text) {
    if (text.length == 0) {
      return new int[0];
    }
    String[] parts = new String(text, StandardCharsets.US_ASCII).split(",");
    int[] counts = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      counts[i] = Integer.parseInt(parts[i]);
    }
    return counts;
  }

  private void dropBlockingConnection() {
    RedisSession.BlockingConnection connection = blocking;
    blocking = null;
    if (connection != null) {
      connection.close();
    }
  }

  /**
   * Waits for a reply without giving up on an interrupt (the reply may carry messages that are ours
   * now). On a timeout the command is cancelled, so that Lettuce never sends it after a reconnect.
   */
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
          reply.cancel(false);
          throw new MachineryException(
              "Redis at " + session.address() + " did not answer within " + timeout, e);
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

  /** Messages fetched after a stop was requested go back to the head of the queue, in order. */
  private void returnToHead(List<byte[]> messages) {
    if (messages.isEmpty()) {
      return;
    }
    try {
      strays.returnToHead(messages);
    } catch (RuntimeException e) {
      log.warn(
          "Consumer {}: could not return {} fetched messages to queue {} ({}); they return when the consumer"
              + " closes or its lease expires",
          id,
          messages.size(),
          keys.queue(),
          e.getMessage());
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
      // a BLMOVE in flight is cut short (it returns as on its timeout, so no message is lost on the
      // way)
      while (!loopEnded.await(
              Math.min(UNBLOCK_EVERY_NANOS, Math.max(0, deadline - System.nanoTime())),
              TimeUnit.NANOSECONDS)
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

  // ---------------------------------------------------------------------------------------------
  // settling

  /**
   * Queues the removal. Acknowledgements normally ride on the next fetch (the worker frees the slot
   * right after acknowledging, so the fetch loop fetches at once): no command of their own. When no
   * fetch is coming (the loop blocks on an empty queue, or has ended) they leave at once; the
   * maintenance thread flushes any that wait longer than a tick.
   */
  void ack(byte[] message) {
    if (closed.get()) {
      return;
    }
    settlements.ack(message);
    int now = phase; // read after the add: the loop sets BLOCKING before it flushes (a Dekker pair)
    if (now == BLOCKING || now == IDLE) {
      settlements.flushAcks();
    }
  }

  void requeue(byte[] message, Duration delay, byte[] replacement) {
    settlements.requeue(message, delay, replacement);
  }

  void deadLetter(byte[] message, String reason) {
    settlements.deadLetter(message, reason);
  }

  // ------------------------------------------------------------------------------------------
  // maintenance

  /**
   * Heartbeat when due, acknowledgements no fetch carries, retries of failed settlements. Never
   * blocks.
   */
  void maintainFast(long now) {
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
      sent.whenComplete(
          (ok, error) -> {
            if (error != null && !heartbeatFailing) {
              heartbeatFailing = true;
              log.warn(
                  "Consumer {}: heartbeat failed ({}); its tasks go back to queue {} if this lasts over {}",
                  id,
                  error.getMessage(),
                  keys.queue(),
                  broker.leaseTimeout());
            } else if (error == null && heartbeatFailing) {
              heartbeatFailing = false;
              log.info("Consumer {}: heartbeat works again", id);
            }
          });
    }
    if (settlements.hasQueuedAcks() && phase != FETCHING) {
      settlements
          .flushAcks(); // the worker acknowledged without freeing a slot, so no fetch is coming to
      // carry them
    }
    settlements.retryFailed();
  }

  /** The stray sweep when due (waits for Redis). */
  void maintainSlow(long now) {
    if (closed.get() || now - nextSweep < 0) {
      return;
    }
    nextSweep = now + broker.sweepInterval().toNanos();
    if (!strays.sweepDue(session.reconnects())) {
      return; // no reconnect, no suspects: nothing can be stray, and listing would move every
      // in-flight body again
    }
    try {
      long returned = strays.sweep(settlements.unsettledSnapshot());
      if (returned > 0) {
        log.warn(
            "Consumer {}: returned {} messages that a lost fetch reply had left in its processing list to the"
                + " head of queue {}",
            id,
            returned,
            keys.queue());
      }
    } catch (RuntimeException e) {
      log.debug("Consumer {}: sweeping the processing list failed: {}", id, e.toString());
    }
  }

  // ----------------------------------------------------------------------------------------------
  // closing

  /** The broker closes: see {@link BrokerClosing}. */
  void brokerClosed() {
    BrokerClosing.close(this, !stopRequested.get(), handler, "Redis", tag, keys.queue());
  }

  /**
   * Stops fetching, then returns every unsettled message of this consumer to the head of the queue
   * and drops the lease (the registration is left for a reaper to remove). Idempotent.
   */
  @Override
  public void close() {
    stopFetching(
        session.commandTimeout().plusMillis((long) (blockSeconds * 1000)).plus(REPLY_MARGIN));
    settlements.drainAcks(session.commandTimeout());
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    settlements.close();
    try {
      long returned =
          session.await(
              BrokerScripts.RELEASE.run(
                  commands,
                  new String[] {
                    lease,
                    processing,
                    keys.queue(),
                    keys.consumers(),
                    keys.redeliveries(),
                    keys.fairRing()
                  },
                  idBytes,
                  bytes("1"),
                  bytes("0"),
                  RedisBroker.fairnessFlag(broker.fairness())));
      if (returned > 0) {
        log.info(
            "Consumer {}: returned {} unsettled tasks to the head of queue {}",
            id,
            returned,
            keys.queue());
      }
    } catch (RuntimeException e) {
      log.warn(
          "Consumer {}: could not return its unsettled tasks to queue {} ({}); a reaper returns them once its"
              + " lease expires",
          id,
          keys.queue(),
          e.getMessage());
    }
    dropBlockingConnection();
    broker.removed(this);
  }

  @Override
  public String toString() {
    return "RedisConsumer{" + id + " on " + keys.queue() + "}";
  }
}
