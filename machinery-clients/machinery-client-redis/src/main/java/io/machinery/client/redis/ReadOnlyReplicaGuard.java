package io.machinery.client.redis;

import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisChannelWriter;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.protocol.DefaultEndpoint;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drops a single-node connection whose server answered {@code READONLY}, so that Lettuce connects
 * again, and a DNS name, a proxy or Sentinel takes the new connection to the current primary.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Why.</b> A managed Redis (ElastiCache or Azure primary endpoint, a DNS name or a virtual
 *       IP in front of Sentinel-managed servers) fails over by moving its name to the new primary
 *       and demoting the old one to a replica. A connection made before stays on the old node, a
 *       healthy replica that refuses every write with {@code READONLY You can't write against a
 *       read only replica.}: without a drop, every write fails until the process restarts. Go
 *       Machinery's client (go-redis) counts a {@code READONLY} reply as a bad connection and dials
 *       again; this is the same for Lettuce, which has no such option (it has {@link
 *       io.lettuce.core.RedisReadOnlyException} and leaves the rest to its users).
 *   <li><b>How.</b> {@link DefaultEndpoint#disconnect()} closes the connection's channel; the
 *       connection itself stays open, so Lettuce's watchdog reconnects as after a network failure
 *       (a new TCP connection, the host name resolved again, or the master asked of the Sentinels
 *       again) and sends again the commands still unanswered, as after any lost connection ({@link
 *       RedisSession#reconnects()} counts it). The command that was answered {@code READONLY} fails
 *       to its caller as before: callers retry.
 *   <li><b>No storms.</b> Many commands in flight on the old node are all answered {@code
 *       READONLY}, before the drop takes effect; one drop per {@link #DROP_INTERVAL} per
 *       connection, whatever the number of replies. A new connection that reaches a replica again
 *       (a DNS cache not yet expired) is dropped again after that interval at the soonest.
 *   <li>Which replies count: those that begin with {@code READONLY} (what go-redis checks), and a
 *       script error that carries one ({@code -READONLY} inside the message of a Redis 6 script
 *       error).
 * </ul>
 *
 * <p>Thread-safe; called on Lettuce's I/O threads, it hands the drop to {@code executor}.
 */
final class ReadOnlyReplicaGuard {
  private static final Logger log = LoggerFactory.getLogger(ReadOnlyReplicaGuard.class);

  /** The least time between two drops of one connection. */
  static final Duration DROP_INTERVAL = Duration.ofSeconds(1);

  private final StatefulConnection<?, ?> connection;
  private final String what;
  private final Executor executor;
  private final AtomicLong lastDrop;

  /**
   * Guards {@code connection}, described as {@code what} in the log (no credentials); drops run on
   * {@code executor}.
   */
  ReadOnlyReplicaGuard(StatefulConnection<?, ?> connection, String what, Executor executor) {
    this.connection = connection;
    this.what = what;
    this.executor = executor;
    this.lastDrop = new AtomicLong(System.nanoTime() - DROP_INTERVAL.toNanos() - 1);
  }

  /** Whether {@code error}, a Redis error reply, says that the server is a read-only replica. */
  static boolean isReadOnly(@Nullable String error) {
    return error != null && (error.startsWith("READONLY") || error.contains("-READONLY "));
  }

  /**
   * Called with the error reply of a command sent on the guarded connection: drops the connection
   * when the reply is a {@code READONLY} and no other drop happened in the last {@link
   * #DROP_INTERVAL}.
   */
  void errorReply(@Nullable String error) {
    if (!isReadOnly(error)) {
      return;
    }
    long now = System.nanoTime();
    long last = lastDrop.get();
    if (now - last <= DROP_INTERVAL.toNanos() || !lastDrop.compareAndSet(last, now)) {
      return;
    }
    drop("answered \"" + error + "\": the server is a replica now (a failover?)");
  }

  /**
   * Drops the connection at once because the primary moved to {@code newPrimary} (a Sentinel
   * announced it): the connection may still be on the old primary, which takes writes it will lose.
   * A {@code READONLY} reply within the next {@link #DROP_INTERVAL} drops it no second time.
   */
  void primaryMoved(String newPrimary) {
    lastDrop.set(System.nanoTime());
    drop("is no longer the primary: a Sentinel announced " + newPrimary);
  }

  private void drop(String why) {
    RedisChannelWriter writer =
        connection instanceof RedisChannelHandler<?, ?> handler ? handler.getChannelWriter() : null;
    if (!(writer instanceof DefaultEndpoint endpoint)) {
      log.warn(
          "Redis at {} {}, but this connection cannot be dropped ({}), so it stays on it",
          what,
          why,
          writer == null ? connection.getClass().getName() : writer.getClass().getName());
      return;
    }
    log.warn("Redis at {} {}; dropping the connection to reconnect to the primary", what, why);
    try {
      executor.execute(endpoint::disconnect);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("Not dropping the Redis connection to {}: the session is closing", what);
    }
  }

  /** {@link #errorReply} for a command's failure (a {@code READONLY} reply, or anything else). */
  void failure(@Nullable Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof RedisCommandExecutionException && isReadOnly(t.getMessage())) {
        errorReply(t.getMessage());
        return;
      }
    }
  }
}
