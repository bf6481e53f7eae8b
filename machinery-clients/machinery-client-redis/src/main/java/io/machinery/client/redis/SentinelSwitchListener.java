package io.machinery.client.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
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
 *       +switch-master}. A message {@code <master> <old ip> <old port> <new ip> <new port>} about
 *       this session's master calls the session back once per new address (every Sentinel announces
 *       the same switch); the session drops its connections ({@link
 *       ReadOnlyReplicaGuard#primaryMoved}), which reconnect asking the Sentinels for the primary.
 *       Lettuce reconnects these connections and subscribes them again after a network failure; a
 *       Sentinel that cannot be reached when the session opens is not listened to (the others are,
 *       and the {@code READONLY} guard and the Sentinel's own demotion of the old primary still
 *       move the session later).
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

  private final String masterName;
  private final Consumer<String> onSwitch;
  private final List<StatefulRedisPubSubConnection<String, String>> connections =
      new CopyOnWriteArrayList<>();
  private final AtomicReference<String> lastPrimary = new AtomicReference<>("");
  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Subscribes to {@link #CHANNEL} on each of {@code sentinels} (in the background: a Sentinel that
   * does not answer delays nothing); {@code onSwitch} gets the new primary's {@code host:port}.
   */
  SentinelSwitchListener(
      RedisClient client, List<RedisURI> sentinels, String masterName, Consumer<String> onSwitch) {
    this.masterName = masterName;
    this.onSwitch = onSwitch;
    for (RedisURI sentinel : sentinels) {
      client
          .connectPubSubAsync(StringCodec.UTF8, sentinel)
          .whenComplete(
              (connection, error) -> {
                if (error != null) {
                  log.warn(
                      "Could not subscribe to {} on the Sentinel at {}:{} ({}); this session learns"
                          + " of failovers from the other Sentinels, or when the old primary"
                          + " refuses writes",
                      CHANNEL,
                      sentinel.getHost(),
                      sentinel.getPort(),
                      error.toString());
                  return;
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

  /** Closes the subscriptions; idempotent. */
  @Override
  public void close() {
    closed.set(true);
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
