package io.machinery.broker.redis;

import static io.machinery.broker.redis.RedisBroker.bytes;

import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.machinery.client.redis.RedisSession;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A broker's background work: consumers' heartbeats and settlement retries, the reaper, the
 * delayed-task promotion ({@link DelayedTasks}) and the stray sweeps.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Platform threads.</b> Two platform threads of its own, never virtual ones: task bodies
 *       run on virtual threads, which are not preempted, so CPU-bound tasks holding every carrier
 *       would otherwise stop the heartbeats and get a live worker's tasks reaped and run again
 *       elsewhere (review F5).
 *   <li><b>Two schedules.</b> One never waits for Redis (heartbeats, acknowledgements no fetch
 *       carries, retries: sends only), so a slow reap or promotion cannot delay a heartbeat; the
 *       other does the work that waits for replies (reaper, promotion, sweeps).
 *   <li><b>Never dies.</b> A scheduled task that throws is never run again, so each step catches
 *       every {@link Throwable}, an {@link OutOfMemoryError} included, logs it at ERROR and reports
 *       it to every consumer's handler; the next tick runs as usual.
 *   <li><b>The reaper</b> visits the queues this broker consumes: for each consumer registered
 *       there but not its own, {@link BrokerScripts#RELEASE} returns the processing list to the
 *       head of the queue if the lease has expired, and counts the return in the queue's
 *       redeliveries hash.
 * </ul>
 *
 * <p>Thread-safe. The broker closes it after its consumers.
 */
final class Maintenance {
  private static final Logger log = LoggerFactory.getLogger(Maintenance.class);

  private final RedisBroker broker;
  private final List<RedisConsumer> consumers;
  private final DelayedTasks delayedTasks;
  private final Object lock = new Object();
  private @Nullable ScheduledExecutorService executor;
  private boolean closed;
  private long nextPromote;
  private long nextReap;

  /** {@code consumers} is the broker's live list of consumers (thread-safe). */
  Maintenance(RedisBroker broker, List<RedisConsumer> consumers) {
    this.broker = broker;
    this.consumers = consumers;
    this.delayedTasks = new DelayedTasks(broker);
  }

  /** Starts the threads (with the broker's first consumer); does nothing after {@link #close()}. */
  void start() {
    synchronized (lock) {
      if (executor != null || closed) {
        return;
      }
      AtomicInteger n = new AtomicInteger();
      ScheduledExecutorService threads =
          Executors.newScheduledThreadPool(
              2,
              r -> {
                Thread t = new Thread(r, "machinery-redis-maintenance-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
              });
      long tick =
          Math.min(
              broker.config().redis().delayedTasksPollPeriod().toNanos(),
              broker.heartbeatInterval().toNanos());
      nextPromote = System.nanoTime();
      nextReap = System.nanoTime() + broker.reapInterval().toNanos();
      threads.scheduleWithFixedDelay(
          () -> guarded("heartbeats", this::maintainFast), 0, tick, TimeUnit.NANOSECONDS);
      threads.scheduleWithFixedDelay(
          () -> guarded("reaping and promotion", this::maintainSlow),
          0,
          tick,
          TimeUnit.NANOSECONDS);
      executor = threads;
    }
  }

  /**
   * Runs one maintenance step so that nothing ends the schedule (a scheduled task that throws is
   * never run again): a failure, an {@link OutOfMemoryError} included, is logged at ERROR and
   * reported to every consumer.
   */
  private void guarded(String what, Runnable step) {
    try {
      step.run();
    } catch (Throwable e) {
      log.error("Redis broker maintenance ({}) failed; it keeps running", what, e);
      for (RedisConsumer consumer : consumers) {
        try {
          consumer.handler().brokerError(e);
        } catch (Throwable ignored) {
          // a failing error handler must not stop the maintenance of the other consumers
        }
      }
    }
  }

  /** Heartbeats, acknowledgements and settlement retries: sends only, never waits for Redis. */
  private void maintainFast() {
    long now = System.nanoTime();
    for (RedisConsumer consumer : consumers) {
      consumer.maintainFast(now);
    }
  }

  /** The reaper, the delayed-task promotion and the stray sweeps: these wait for Redis. */
  private void maintainSlow() {
    long now = System.nanoTime();
    if (now - nextReap >= 0) {
      nextReap = now + broker.reapInterval().toNanos();
      reapDeadConsumers();
    }
    if (now - nextPromote >= 0) {
      nextPromote = now + broker.config().redis().delayedTasksPollPeriod().toNanos();
      delayedTasks.promoteDue();
    }
    for (RedisConsumer consumer : consumers) {
      consumer.maintainSlow(now);
    }
  }

  /**
   * For each consumed queue: return the tasks of consumers whose lease expired to the head of the
   * queue.
   */
  private void reapDeadConsumers() {
    Map<String, Set<String>> ownIdsByQueue = new HashMap<>();
    for (RedisConsumer consumer : consumers) {
      if (!consumer.isClosed()) {
        ownIdsByQueue
            .computeIfAbsent(consumer.keys().queue(), q -> new HashSet<>())
            .add(consumer.id());
      }
    }
    RedisSession session = broker.session();
    RedisClusterAsyncCommands<String, byte[]> commands = session.commands();
    byte[] retention = bytes(Long.toString(RedisBroker.REDELIVERY_RETENTION.toMillis()));
    for (Map.Entry<String, Set<String>> entry : ownIdsByQueue.entrySet()) {
      QueueKeys keys = new QueueKeys(entry.getKey());
      try {
        Set<byte[]> members = session.await(commands.smembers(keys.consumers()));
        List<String> others = new ArrayList<>();
        List<CompletableFuture<Long>> releases = new ArrayList<>();
        for (byte[] member : members) {
          String id = new String(member, StandardCharsets.UTF_8);
          if (entry.getValue().contains(id)) {
            continue;
          }
          others.add(id);
          releases.add(
              BrokerScripts.RELEASE.run(
                  commands,
                  new String[] {
                    keys.lease(id),
                    keys.processing(id),
                    keys.queue(),
                    keys.consumers(),
                    keys.redeliveries(),
                    keys.fairRing()
                  },
                  member,
                  bytes("0"),
                  retention,
                  RedisBroker.fairnessFlag(broker.fairness())));
        }
        for (int i = 0; i < releases.size(); i++) {
          long moved = session.await(releases.get(i));
          if (moved > 0) {
            log.warn(
                "Returned {} unacknowledged tasks of consumer {} (its lease expired) to the head of queue {}",
                moved,
                others.get(i),
                keys.queue());
          }
        }
      } catch (RuntimeException e) {
        log.debug("Reaping queue {} failed: {}", keys.queue(), e.toString());
      }
    }
  }

  /** Stops the threads, waiting for a step in progress (at most the command timeout and 5 s). */
  void close() {
    ScheduledExecutorService threads;
    synchronized (lock) {
      closed = true;
      threads = executor;
    }
    if (threads == null) {
      return;
    }
    threads.shutdown();
    try {
      if (!threads.awaitTermination(
          broker.session().commandTimeout().plusSeconds(5).toMillis(), TimeUnit.MILLISECONDS)) {
        threads.shutdownNow();
      }
    } catch (InterruptedException e) {
      threads.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
