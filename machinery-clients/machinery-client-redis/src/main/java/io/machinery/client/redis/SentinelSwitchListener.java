package io.machinery.client.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells a Sentinel-managed session the moment a Sentinel announces a new primary, so that it drops
 * its connections to the old one.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Why.</b> A Sentinel failover ({@code SENTINEL FAILOVER}, or after the primary is seen
 *       down) promotes a replica without stopping the old primary, and demotes the old primary (and
 *       kills its clients) only about ten seconds after it announced the switch, or never while
 *       that primary is cut off from the Sentinels. Lettuce asks the Sentinels for the primary only
 *       when it connects, so a connection made before keeps writing to the old primary meanwhile,
 *       and every write that primary acknowledges then is lost when it resynchronises from the new
 *       one: a {@code sendTask} that returned, a task's SUCCESS, an acknowledgement. go-redis'
 *       failover client (Go Machinery's) listens to {@code +switch-master} and closes its
 *       connections to the old primary; this does the same.
 *   <li><b>How.</b> One Pub/Sub connection per Sentinel of the URL, subscribed to {@code
 *       +switch-master} (from {@link RedisSession}'s {@link AsyncOnlyRedisClient}: without
 *       Lettuce's synchronous view, the costly part of the first such connection in a JVM). A
 *       message {@code <master> <old ip> <old port> <new ip> <new port>} about this session's
 *       master calls the session back once per new address (every Sentinel announces the same
 *       switch); the session drops its connections ({@link ReadOnlyReplicaGuard#primaryMoved}),
 *       which reconnect asking the Sentinels for the primary. Lettuce reconnects these connections
 *       and subscribes them again after a network failure or a restart of the Sentinel ({@code
 *       RedisSentinelSwitchIT}).
 *   <li><b>A Sentinel that does not answer</b> when the session opens is tried again until it does,
 *       after the waits of the client's reconnect delay (for {@link RedisSession}: doubling from 1
 *       ms up to about a second, as Lettuce waits before reconnecting a lost connection), each
 *       attempt a task scheduled on the client's event executors: no thread per Sentinel, no
 *       attempt while one is under way. Before, such a Sentinel was never listened to, and when it
 *       alone announced a failover (the others down, or not yet aware) the session stayed on the
 *       old primary until that primary turned replica, about ten seconds on. The first failure is
 *       logged as a warning, the later ones at debug level, the subscription at last as info.
 *       go-redis' failover client subscribes to one Sentinel only, the first that answers when it
 *       looks for the primary; one that does not answer is asked again only at the next look-up
 *       after the chosen one failed, never subscribed to on its own.
 *   <li><b>What remains.</b> Writes the old primary acknowledged after the replica's promotion and
 *       before the announcement reached the session (the time the Sentinel takes to see the
 *       promotion: a fraction of a second) are lost, as with go-redis: Redis replicates
 *       asynchronously.
 * </ul>
 *
 * <p>Thread-safe; the callback runs on a Lettuce I/O thread and must not block.
 */
final class SentinelSwitchListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SentinelSwitchListener.class);

  /** The channel on which Sentinels announce a new primary. */
  static final String CHANNEL = "+switch-master";

  private final RedisClient client;
  private final String masterName;
  private final Consumer<String> onSwitch;
  private final Delay retryDelay;

  /**
   * The next attempt to subscribe to a Sentinel that did not answer, by {@code host:port};
   * cancelled on close (an attempt that runs after close does nothing).
   */
  private final Map<String, ScheduledFuture<?>> retries = new ConcurrentHashMap<>();

  private final List<StatefulRedisPubSubConnection<String, String>> connections =
      new CopyOnWriteArrayList<>();
  private final AtomicReference<String> lastPrimary = new AtomicReference<>("");
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Subscribes to {@link #CHANNEL} on each of {@code sentinels} (in the background: a Sentinel that
   * does not answer delays nothing, and is tried again until it does); {@code onSwitch} gets the
   * new primary's {@code host:port}. Attempts wait as {@code client}'s reconnect delay says, on its
   * event executors.
   */
  SentinelSwitchListener(
      RedisClient client, List<RedisURI> sentinels, String masterName, Consumer<String> onSwitch) {
    this.client = client;
    this.masterName = masterName;
    this.onSwitch = onSwitch;
    this.retryDelay = client.getResources().reconnectDelay();
    for (RedisURI sentinel : sentinels) {
      subscribe(sentinel, 1);
    }
  }

  /** Attempt number {@code attempt} (from 1) to subscribe to {@code sentinel}. */
  private void subscribe(RedisURI sentinel, int attempt) {
    if (closed.get()) {
      return;
    }
    CompletableFuture<StatefulRedisPubSubConnection<String, String>> connecting;
    try {
      connecting = client.connectPubSubAsync(StringCodec.UTF8, sentinel).toCompletableFuture();
    } catch (RuntimeException e) {
      connecting = CompletableFuture.failedFuture(e); // a client shutting down, say
    }
    connecting.whenComplete(
        (connection, error) -> {
          if (error != null) {
            failed(sentinel, attempt, error);
            return;
          }
          if (attempt > 1) {
            log.info(
                "Subscribed to {} on the Sentinel at {}:{} after {} attempts",
                CHANNEL,
                sentinel.getHost(),
                sentinel.getPort(),
                attempt);
          }
          connection.addListener(
              new RedisPubSubAdapter<>() {
                @Override
                public void message(String channel, String message) {
                  announced(message);
                }
              });
          connections.add(connection);
          if (closed.get()) {
            close(); // closed while connecting
          } else {
            connection.async().subscribe(CHANNEL);
          }
        });
  }

  /** Attempt {@code attempt} to reach {@code sentinel} failed: schedules the next one. */
  private void failed(RedisURI sentinel, int attempt, Throwable error) {
    if (closed.get()) {
      return;
    }
    if (attempt == 1) {
      log.warn(
          "Could not subscribe to {} on the Sentinel at {}:{} ({}); trying again in the background"
              + " until it answers. Meanwhile this session learns of failovers from the other"
              + " Sentinels, or when the old primary refuses writes",
          CHANNEL,
          sentinel.getHost(),
          sentinel.getPort(),
          error.toString());
    } else {
      log.debug(
          "Attempt {} to subscribe to {} on the Sentinel at {}:{} failed: {}",
          attempt,
          CHANNEL,
          sentinel.getHost(),
          sentinel.getPort(),
          error.toString());
    }
    Duration wait = retryDelay.createDelay(attempt);
    try {
      ScheduledFuture<?> next =
          client
              .getResources()
              .eventExecutorGroup()
              .schedule(
                  () -> subscribe(sentinel, attempt + 1), wait.toNanos(), TimeUnit.NANOSECONDS);
      // one entry per Sentinel, the latest attempt's (an earlier one may land last: it has run)
      retries.put(sentinel.getHost() + ":" + sentinel.getPort(), next);
      if (closed.get()) {
        next.cancel(false); // closed while scheduling
      }
    } catch (RejectedExecutionException e) {
      // the client's executors are shutting down: the session is closing
    }
  }

  /**
   * The new primary ({@code host:port}) that {@code message}, a {@link #CHANNEL} message, announces
   * for {@code masterName}; null when it is about another master or malformed.
   */
  static @Nullable String newPrimary(String message, String masterName) {
    String[] parts = message.trim().split(" ");
    if (parts.length != 5 || !parts[0].equals(masterName)) {
      return null;
    }
    return parts[3] + ":" + parts[4];
  }

  /** Handles one announcement: calls back once per new primary. */
  void announced(String message) {
    String primary = newPrimary(message, masterName);
    if (primary == null || closed.get()) {
      return;
    }
    String last = lastPrimary.getAndSet(primary);
    if (!primary.equals(last)) {
      onSwitch.accept(primary);
    }
  }

  /** Closes the subscriptions and gives up on the Sentinels not reached yet; idempotent. */
  @Override
  public void close() {
    closed.set(true);
    for (ScheduledFuture<?> retry : retries.values()) {
      retry.cancel(false);
    }
    retries.clear();
    for (StatefulRedisPubSubConnection<String, String> connection : connections) {
      if (connections.remove(connection)) {
        try {
          connection.closeAsync();
        } catch (RuntimeException e) {
          log.debug("Closing a Sentinel subscription failed: {}", e.toString());
        }
      }
    }
  }
}
