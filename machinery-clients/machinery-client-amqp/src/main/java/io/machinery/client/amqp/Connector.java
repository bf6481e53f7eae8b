package io.machinery.client.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.BlockedListener;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.SocketConfigurator;
import io.machinery.MachineryException;
import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection of an {@link AmqpClient}: opened lazily by trying the URLs in order (Go's
 * failover: the first that answers wins), reopened on the next use after it was lost, waiting
 * between failed attempts (100 ms doubling to {@value AmqpClient#MAX_BACKOFF_MILLIS} ms). It also
 * follows RabbitMQ's {@code connection.blocked} notifications (a memory or disk alarm), so
 * publishers can wait for the end of a block with a deadline instead of writing into a socket
 * RabbitMQ stopped reading (F17).
 *
 * <p>It keeps the socket of the connection (recorded by the factories' socket configurator, see
 * {@link #trackingSockets}), so that a write stuck in it can be ended: the client library writes
 * with no timeout, holding the connection's output lock, so neither {@code Connection.abort} nor
 * {@code close} (which write a close frame first) can end it; closing the socket can ({@link
 * #sever}, and {@link #close()} when the close handshake does not end in time).
 *
 * <p>Thread-safe. {@link #close()} closes the connection and wakes every waiter.
 */
final class Connector {
  private static final Logger log = LoggerFactory.getLogger(Connector.class);

  /** How long {@link #close()} waits for the close handshake before it closes the socket. */
  static final Duration CLOSE_HANDSHAKE = Duration.ofSeconds(6);

  private final List<AmqpUrl> urls;
  private final List<ConnectionFactory> factories;
  private final String name;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private volatile @Nullable Connection connection;

  /** The socket of {@link #connection}, when the factory made a plain socket (not NIO). */
  private volatile @Nullable Socket socket;

  /**
   * The socket the factory made during the current {@link #connect()}; guarded by {@link #lock}.
   */
  private @Nullable Socket connectingSocket;

  private volatile boolean closed;

  /** Why RabbitMQ blocks publishing on the current connection; null while it does not. */
  private volatile @Nullable String blockedReason;

  private int failures;
  private long nextAttemptNanos;
  private @Nullable Exception lastFailure;

  Connector(List<AmqpUrl> urls, List<ConnectionFactory> factories, String name) {
    this.urls = urls;
    this.factories = factories;
    this.name = name;
  }

  List<AmqpUrl> urls() {
    return urls;
  }

  /**
   * {@code own} (what the factory would do to each new socket), then remembers the socket for the
   * connection being opened, so that {@link #sever} can close it. Install on every factory.
   */
  SocketConfigurator trackingSockets(SocketConfigurator own) {
    return s -> {
      own.configure(s);
      connectingSocket = s; // connect() runs under the lock, one attempt at a time
    };
  }

  boolean isClosed() {
    return closed;
  }

  void checkOpen() {
    if (closed) {
      throw new MachineryException("the AMQP client " + name + " is closed");
    }
  }

  boolean isConnected() {
    Connection c = connection;
    return c != null && c.isOpen();
  }

  /** The open connection, connecting first if needed and waiting at most {@code wait}. */
  Connection connection(Duration wait) {
    Connection c = connection;
    if (c != null && c.isOpen()) {
      return c;
    }
    long deadline = System.nanoTime() + wait.toNanos();
    try {
      lock.lockInterruptibly();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while connecting to " + urls, e);
    }
    try {
      while (true) {
        checkOpen();
        c = connection;
        if (c != null && c.isOpen()) {
          return c;
        }
        long now = System.nanoTime();
        long pause = nextAttemptNanos - now;
        if (pause > 0) {
          if (now + pause - deadline > 0) {
            throw unreachable();
          }
          changed.awaitNanos(pause);
          continue;
        }
        try {
          connectingSocket = null;
          c = connect();
          blockedReason = null;
          socket = connectingSocket;
          connectingSocket = null;
          connection = c;
          failures = 0;
          lastFailure = null;
          return c;
        } catch (IOException | TimeoutException e) {
          failures++;
          lastFailure = e;
          long backoff =
              Math.min(
                  AmqpClient.MAX_BACKOFF_MILLIS,
                  AmqpClient.FIRST_BACKOFF_MILLIS << Math.min(failures - 1, 10));
          nextAttemptNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
          if (failures == 1) {
            log.warn("Cannot connect to AMQP broker {}: {}; retrying", urls, e.toString());
          }
          if (System.nanoTime() - deadline >= 0) {
            throw unreachable();
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while connecting to " + urls, e);
    } finally {
      lock.unlock();
    }
  }

  private AmqpOperationException unreachable() {
    Exception cause = lastFailure;
    return new AmqpOperationException(
        "cannot connect to AMQP broker " + urls + (cause == null ? "" : ": " + cause),
        0,
        true,
        cause);
  }

  private Connection connect() throws IOException, TimeoutException {
    IOException last = null;
    for (int i = 0; i < factories.size(); i++) {
      try {
        Connection c = factories.get(i).newConnection(name);
        c.addShutdownListener(
            signal -> {
              if (!signal.isInitiatedByApplication()) {
                log.warn("AMQP connection {} to {} lost: {}", name, urls, signal.getMessage());
              }
              unblocked(c);
            });
        c.addBlockedListener(
            new BlockedListener() {
              @Override
              public void handleBlocked(String reason) {
                log.warn(
                    "RabbitMQ blocks publishing on AMQP connection {} ({}): publishes wait, up to the publish "
                        + "timeout, until the alarm clears",
                    name,
                    reason);
                if (connection == c || connection == null) {
                  blockedReason = reason.isEmpty() ? "resource alarm" : reason;
                }
              }

              @Override
              public void handleUnblocked() {
                log.info("RabbitMQ unblocked AMQP connection {}", name);
                unblocked(c);
              }
            });
        if (failures > 0) {
          log.info("AMQP connection {} to {} established again", name, urls.get(i));
        }
        return c;
      } catch (IOException e) {
        last = e;
        log.debug("AMQP broker {} did not answer: {}", urls.get(i), e.toString());
      }
    }
    throw last != null ? last : new IOException("no AMQP URL");
  }

  private void unblocked(Connection c) {
    lock.lock();
    try {
      if (connection == c || connection == null) {
        blockedReason = null;
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Why RabbitMQ blocks publishing right now; null when it does not. */
  @Nullable String blockedReason() {
    return blockedReason;
  }

  /**
   * Waits until RabbitMQ no longer blocks publishing, at most until {@code deadlineNanos} ({@link
   * System#nanoTime()}); the reason it still blocks for, or null.
   */
  @Nullable String awaitUnblocked(long deadlineNanos) throws InterruptedException {
    if (blockedReason == null) {
      return null;
    }
    lock.lockInterruptibly();
    try {
      while (blockedReason != null && !closed) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return blockedReason;
        }
        changed.awaitNanos(left);
      }
      return null;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Closes the socket of {@code c}, if it is still the current connection, so that a write stuck in
   * it fails at once (and with it the connection, which the next use opens again). {@code why} goes
   * to the log.
   */
  void sever(Connection c, String why) {
    Socket s = socket;
    if (connection != c || s == null || s.isClosed()) {
      return;
    }
    log.error("Closing AMQP connection {} to {}: {}", name, urls, why);
    // on a thread of its own: closing a TLS socket may write (close_notify)
    Thread.ofVirtual().name("machinery-amqp-sever-" + name).start(() -> closeQuietly(s));
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      log.trace("Closing a socket: {}", e.toString());
    }
  }

  /**
   * Closes the connection; idempotent. The close handshake gets {@link #CLOSE_HANDSHAKE} (it waits,
   * without any timeout of the client library's own, for a write stuck in the socket to end); then
   * the socket is closed under it.
   */
  void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    Connection c = connection;
    Socket s = socket;
    connection = null;
    socket = null;
    if (c == null) {
      return;
    }
    Thread handshake =
        Thread.ofVirtual()
            .name("machinery-amqp-close-" + name)
            .start(
                () -> {
                  try {
                    c.close(AMQP.REPLY_SUCCESS, "closed by " + name, 5_000);
                  } catch (IOException | ShutdownSignalException e) {
                    log.debug("Closing AMQP connection {}: {}", name, e.toString());
                  }
                });
    boolean done;
    try {
      done = handshake.join(CLOSE_HANDSHAKE);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      done = false;
    }
    if (!done && s != null) {
      log.warn(
          "AMQP connection {} did not close within {} (a write stuck in its socket?); closing the"
              + " socket",
          name,
          CLOSE_HANDSHAKE);
      closeQuietly(s);
    }
  }
}
