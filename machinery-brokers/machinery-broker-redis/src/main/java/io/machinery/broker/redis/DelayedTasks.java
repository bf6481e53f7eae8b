package io.machinery.broker.redis;

import static io.machinery.broker.redis.RedisBroker.bytes;

import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.machinery.MalformedMessageException;
import io.machinery.client.redis.RedisKeys;
import io.machinery.client.redis.RedisSession;
import io.machinery.wire.WireCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The promotion of due delayed tasks from {@code delayed_tasks} to their queues, run by a broker's
 * maintenance thread.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Never lost.</b> On a single server one script ({@link BrokerScripts#PROMOTE}) moves each
 *       due task exactly once; a task whose RoutingKey names a key that is not a list is
 *       dead-lettered to the default queue's list instead (a failed {@code RPUSH} after the {@code
 *       ZREM} would drop it: Redis does not roll a script back). On a cluster the set and the
 *       queues are in different slots, so a task is first moved into a claim set in the set's slot
 *       ({@link BrokerScripts#CLAIM}: exactly one promoter per task), then pushed, and only then
 *       dropped from the claim set; claims older than a lease go back to the set ({@link
 *       BrokerScripts#RECLAIM}). A promoter that dies in between causes a duplicate, never a loss.
 *   <li><b>Cheap for Redis.</b> The script finds the RoutingKey with a pattern on Go's fixed field
 *       order (cjson only for other layouts, and for a chain too deep for cjson a scan of its
 *       top-level members: {@link BrokerScripts#JSON_MEMBER}) and moves at most {@link
 *       RedisBroker#PROMOTE_BATCH} tasks and about {@link RedisBroker#PROMOTE_BYTES} bytes per run,
 *       so no run keeps Redis busy for long (every client, heartbeats included, waits while a
 *       script runs).
 * </ul>
 *
 * <p>Not thread-safe: one maintenance thread calls {@link #promoteDue}.
 */
final class DelayedTasks {
  private static final Logger log = LoggerFactory.getLogger(DelayedTasks.class);

  private final RedisBroker broker;
  private final RedisSession session;
  private final String delayedKey;
  private final String claimedKey;
  private boolean promoteFailing;

  DelayedTasks(RedisBroker broker) {
    this.broker = broker;
    this.session = broker.session();
    this.delayedKey = broker.delayedKey();
    this.claimedKey = RedisKeys.tagged(delayedKey, "claimed");
  }

  /**
   * Moves due delayed tasks to their queues; bounded per run (at most 10 runs) so that Redis stays
   * responsive.
   */
  void promoteDue() {
    try {
      if (session.isCluster()) {
        reclaimStaleClaims();
      }
      for (int round = 0; round < 10; round++) {
        long now = RedisBroker.nanos(broker.clock().instant());
        if (!(session.isCluster() ? promoteClustered(now) : promoteScripted(now))) {
          break;
        }
      }
      if (promoteFailing) {
        promoteFailing = false;
        log.info("Moving delayed tasks from {} works again", delayedKey);
      }
    } catch (RuntimeException e) {
      if (!promoteFailing) {
        promoteFailing = true;
        log.warn(
            "Moving delayed tasks from {} failed (will retry every {}): {}",
            delayedKey,
            broker.config().redis().delayedTasksPollPeriod(),
            e.getMessage());
      }
    }
  }

  /** One script run; whether it hit a bound (more may be due). */
  private boolean promoteScripted(long nowNanos) {
    String defaultQueue = broker.config().defaultQueue();
    List<Long> result =
        session.await(
            BrokerScripts.PROMOTE.run(
                session.commands(),
                new String[] {delayedKey, new QueueKeys(defaultQueue).deadLetters()},
                bytes(Long.toString(nowNanos)),
                bytes(Integer.toString(RedisBroker.PROMOTE_BATCH)),
                bytes(defaultQueue),
                bytes(Long.toString(RedisBroker.PROMOTE_BYTES)),
                bytes(broker.clock().instant().toString()),
                bytes(Integer.toString(broker.deadLetterLimit()))));
    return result.get(0) >= RedisBroker.PROMOTE_BATCH || result.get(1) >= RedisBroker.PROMOTE_BYTES;
  }

  /**
   * Claims due members into the claim set (one script in the set's slot: each member has one
   * claimer), pushes each to its queue, then drops the pushed ones from the claim set. A crash or
   * failed push in between leaves the claim, which {@link #reclaimStaleClaims} turns back into a
   * due task: duplicates, never losses. A member whose push fails for good ({@code WRONGTYPE}: its
   * RoutingKey names a key that is not a list) is dead-lettered to the default queue's list.
   */
  private boolean promoteClustered(long nowNanos) {
    RedisClusterAsyncCommands<String, byte[]> commands = session.commands();
    long deadline = nowNanos + broker.leaseTimeout().toNanos();
    List<byte[]> claimed =
        session.await(
            BrokerScripts.CLAIM.<List<byte[]>>run(
                commands,
                new String[] {delayedKey, claimedKey},
                bytes(Long.toString(nowNanos)),
                bytes(Integer.toString(RedisBroker.PROMOTE_BATCH)),
                bytes(Long.toString(RedisBroker.PROMOTE_BYTES)),
                bytes(Long.toString(deadline))));
    if (claimed.isEmpty()) {
      return false;
    }
    List<CompletableFuture<Long>> pushes = new ArrayList<>(claimed.size());
    for (byte[] member : claimed) {
      pushes.add(commands.rpush(routingKeyOf(member), member).toCompletableFuture());
    }
    List<byte[]> done = new ArrayList<>(claimed.size());
    for (int i = 0; i < claimed.size(); i++) {
      try {
        session.await(pushes.get(i));
        done.add(claimed.get(i));
      } catch (RuntimeException e) {
        if (String.valueOf(e.getMessage()).contains("WRONGTYPE")) {
          deadLetterPromotion(claimed.get(i), "RoutingKey names a Redis key that is not a list");
          done.add(claimed.get(i));
        } else {
          log.debug(
              "Pushing a claimed delayed task failed (it is claimed again later): {}",
              e.toString());
        }
      }
    }
    if (!done.isEmpty()) {
      session.await(
          BrokerScripts.UNCLAIM.run(
              commands, new String[] {claimedKey}, done.toArray(new byte[0][])));
    }
    long bytes = 0;
    for (byte[] member : claimed) {
      bytes += member.length;
    }
    return claimed.size() >= RedisBroker.PROMOTE_BATCH || bytes >= RedisBroker.PROMOTE_BYTES;
  }

  private void reclaimStaleClaims() {
    long returned =
        session.await(
            BrokerScripts.RECLAIM.<Long>run(
                session.commands(),
                new String[] {delayedKey, claimedKey},
                bytes(Long.toString(RedisBroker.nanos(broker.clock().instant()))),
                bytes(Integer.toString(RedisBroker.PROMOTE_BATCH))));
    if (returned > 0) {
      log.warn(
          "Put {} delayed tasks back into {} whose promoter did not finish pushing them",
          returned,
          delayedKey);
    }
  }

  private void deadLetterPromotion(byte[] message, String reason) {
    QueueKeys keys = new QueueKeys(broker.config().defaultQueue());
    byte[] envelope =
        DeadLetter.of(
                routingKeyOf(message),
                reason,
                "delayed-task promotion",
                broker.clock().instant(),
                message,
                broker.config().maxMessageBytes())
            .toJson();
    session.await(session.commands().rpush(keys.deadLetters(), envelope));
    session.await(session.commands().ltrim(keys.deadLetters(), -broker.deadLetterLimit(), -1));
  }

  /**
   * The queue a promoted message goes to: its RoutingKey, else the default queue (whose worker
   * dead-letters junk).
   */
  private String routingKeyOf(byte[] message) {
    try {
      String key = WireCodec.decodeSignature(message).routingKey();
      return key.isEmpty() ? broker.config().defaultQueue() : key;
    } catch (MalformedMessageException e) {
      return broker.config().defaultQueue();
    }
  }
}
