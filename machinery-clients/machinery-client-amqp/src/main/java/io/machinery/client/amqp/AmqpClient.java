package io.machinery.client.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ChannelContinuationTimeoutException;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.MachineryException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One AMQP connection that comes back by itself, with a confirming publisher and pooled channels
 * for declarations and queries. The AMQP broker and backend build on it, and may share one (the
 * caller owns it).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Connection</b> ({@link Connector}). Opened lazily on first use by trying the URLs in
 *       order (Go's failover); when lost, the next use reconnects with back-off. The client
 *       library's own automatic recovery is off on purpose: it records every queue ever declared to
 *       re-declare it, which grows without bound for Go's per-task and per-delay queues, and its
 *       delivery-tag offsets make a late multiple-ack dangerous. Owners of channels (consumers)
 *       notice a lost connection through their channel's shutdown listener and resubscribe through
 *       {@link #openChannel()}. RabbitMQ's resource alarms ({@code connection.blocked}) are
 *       followed, so publishing waits for them with a deadline.
 *   <li><b>Publishing</b> ({@link ConfirmPublisher}, {@link PendingConfirms}). {@link #publish}
 *       sends with {@code mandatory} set on one of a few channels in confirm mode and returns when
 *       the broker confirmed. A returned message is an {@link UnroutableException}. A publish whose
 *       connection is lost before the confirm is sent again once reconnected (at-least-once), and
 *       so, once, is a publish whose channel RabbitMQ closed for another message's error (a 404 for
 *       a missing exchange, a 406 for an oversized message); nothing waits beyond the publish
 *       timeout, not even a write stuck in the socket (the publisher's watchdog closes the
 *       connection under it).
 *   <li><b>Queries.</b> {@link #call} runs declarations, inspections and basic.get on pooled
 *       channels that never carry publishes, so a refused declaration (which closes its channel)
 *       never fails a publish.
 * </ul>
 *
 * <p>Thread-safe. Whoever builds it closes it; {@link #close()} closes the connection, which ends
 * every thread the client library started for it.
 *
 * <p>Size: the AMQP connection set of a process (connecting over Go's several URLs, pooled call
 * channels taking turns, peeks, the blocked-connection state) and its builder; publishing with
 * confirms is {@code ConfirmPublisher}.
 */
public final class AmqpClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AmqpClient.class);

  /** How long a publish may take, reconnecting included, unless the builder says otherwise. */
  public static final Duration DEFAULT_PUBLISH_TIMEOUT = Duration.ofSeconds(30);

  /** Channels in confirm mode shared by publishers unless the builder says otherwise. */
  public static final int DEFAULT_PUBLISHER_CHANNELS = 4;

  /**
   * RabbitMQ's hard ceiling for {@code max_message_size} (its default is 128 MiB). The client
   * accepts message bodies up to it, so an oversized message reaches the worker, which dead-letters
   * it by size; with the client library's default (64 MiB) such a message would end the whole
   * connection on every delivery (F7).
   */
  public static final int MAX_INBOUND_BODY_BYTES = 512 * 1024 * 1024;

  static final long FIRST_BACKOFF_MILLIS = 100;
  static final long MAX_BACKOFF_MILLIS = 2000;
  private static final int IDLE_CALL_CHANNELS = 8;

  /**
   * At most this many {@link #call}s hold a channel at once; more wait for one. RabbitMQ allows
   * 2,047 channels per connection (fewer when {@code channel_max} says so), and a burst of
   * concurrent calls (a 10,000-member chord sent with unbounded concurrency declares each member's
   * target) would otherwise fail with "no channel left" instead of taking turns.
   */
  public static final int MAX_CALL_CHANNELS = 256;

  /** Work done on a channel by {@link #call}. */
  @FunctionalInterface
  public interface ChannelCall<T extends @Nullable Object> {
    T apply(Channel channel) throws IOException;
  }

  /**
   * Commands sent on a publishing channel right before a message, in the same order (for example
   * no-wait declarations of the queue the message goes to, which RabbitMQ applies before routing
   * it).
   */
  @FunctionalInterface
  public interface ChannelSetup {
    void apply(Channel channel) throws IOException;
  }

  /** What {@link #peek} does with each message it reads. */
  @FunctionalInterface
  public interface PeekVisitor {
    void visit(String queue, GetResponse response);
  }

  private final String connectionName;
  private final AmqpConnectionOptions options;
  private final Connector connector;
  private final ConfirmPublisher publisher;
  private final ArrayBlockingQueue<Channel> idleCallChannels =
      new ArrayBlockingQueue<>(IDLE_CALL_CHANNELS);
  private final Semaphore callChannels = new Semaphore(MAX_CALL_CHANNELS);
  private final @Nullable ExecutorService dispatch;

  private AmqpClient(Builder b) {
    this.connectionName = b.connectionName;
    this.options = b.options.build();
    this.dispatch = b.directDispatch ? new DirectExecutorService() : null;
    List<ConnectionFactory> factories = new ArrayList<>(b.urls.size());
    for (AmqpUrl url : b.urls) {
      ConnectionFactory f = options.connectionFactory(url);
      if (dispatch != null) {
        f.setSharedExecutor(dispatch);
      }
      factories.add(f);
    }
    this.connector = new Connector(b.urls, List.copyOf(factories), connectionName);
    for (ConnectionFactory f : factories) {
      f.setSocketConfigurator(connector.trackingSockets(f.getSocketConfigurator()));
    }
    this.publisher =
        new ConfirmPublisher(
            connector, b.publisherChannels, options.publishTimeout(), connectionName);
  }

  public static Builder builder(List<AmqpUrl> urls) {
    return new Builder(urls);
  }

  /** The URLs this client connects to, in failover order. */
  public List<AmqpUrl> urls() {
    return connector.urls();
  }

  /** How long {@link #publish} may take. */
  public Duration publishTimeout() {
    return options.publishTimeout();
  }

  /** The options this client was built with. */
  public AmqpConnectionOptions options() {
    return options;
  }

  // ------------------------------------------------------------------------------------------
  // connection

  /**
   * The open connection, connecting first if needed and waiting up to the publish timeout for the
   * broker.
   *
   * @throws AmqpOperationException when no URL answered in time
   * @throws MachineryException when the client is closed or the thread is interrupted
   */
  public Connection connection() {
    return connector.connection(options.publishTimeout());
  }

  /** {@link #connection()} waiting at most {@code wait}. */
  public Connection connection(Duration wait) {
    return connector.connection(wait);
  }

  /**
   * A new channel on the current connection (connecting first if needed); the caller owns and
   * closes it.
   *
   * @throws AmqpOperationException when no connection or channel can be had
   */
  public Channel openChannel() {
    Connection c = connection();
    try {
      Channel channel = c.createChannel();
      if (channel == null) {
        throw new AmqpOperationException("the AMQP connection has no channel left", 0, false, null);
      }
      return channel;
    } catch (IOException | ShutdownSignalException e) {
      throw AmqpOperationException.of("cannot open an AMQP channel", e);
    }
  }

  /** Whether the connection is open right now (it is reopened on demand). */
  public boolean isConnected() {
    return connector.isConnected();
  }

  /**
   * Why RabbitMQ blocks publishing on this client's connection right now (a memory or disk alarm,
   * as RabbitMQ words it); empty when it does not. Publishes wait for the block to end, up to the
   * publish timeout.
   */
  public java.util.Optional<String> publishingBlocked() {
    return java.util.Optional.ofNullable(connector.blockedReason());
  }

  // ------------------------------------------------------------------------------------------
  // queries

  /**
   * Runs {@code call} on a pooled channel, once. A channel the broker closed (a refused
   * declaration, a passive declaration of a missing queue) is dropped, never reused.
   *
   * @throws AmqpOperationException with the broker's reply code when the broker refused or the
   *     connection failed
   */
  public <T extends @Nullable Object> T call(String what, ChannelCall<T> call) {
    try {
      callChannels.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while waiting for an AMQP channel to " + what, e);
    }
    try {
      return callOnChannel(what, call);
    } finally {
      callChannels.release();
    }
  }

  private <T extends @Nullable Object> T callOnChannel(String what, ChannelCall<T> call) {
    Channel channel = idleCallChannels.poll();
    while (channel != null && !channel.isOpen()) {
      channel = idleCallChannels.poll();
    }
    if (channel == null) {
      channel = openChannel();
    }
    try {
      T result = call.apply(channel);
      if (channel.isOpen() && !connector.isClosed() && !idleCallChannels.offer(channel)) {
        closeQuietly(channel);
      }
      return result;
    } catch (ChannelContinuationTimeoutException e) {
      // no answer within the RPC timeout: closing waits for one more (channel.close-ok), so not
      // here
      Channel timedOut = channel;
      Thread.ofVirtual().name("machinery-amqp-close-channel").start(() -> closeQuietly(timedOut));
      throw new AmqpOperationException(
          what
              + ": no answer from RabbitMQ within the channel RPC timeout (the publish timeout, "
              + options.publishTimeout()
              + ", unless a connection factory customizer set another)"
              + blockedNote(),
          connector.blockedReason() != null ? AmqpOperationException.BLOCKED : 0,
          true,
          e);
    } catch (IOException | ShutdownSignalException e) {
      closeQuietly(channel);
      throw AmqpOperationException.of(what, e);
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    }
  }

  private String blockedNote() {
    String blocked = connector.blockedReason();
    return blocked == null ? "" : " (RabbitMQ blocks the connection: " + blocked + ")";
  }

  /**
   * {@link #call} for idempotent work (declarations, inspections): repeated after reconnecting when
   * the connection was lost, until the publish timeout.
   */
  public <T extends @Nullable Object> T callRetrying(String what, ChannelCall<T> call) {
    long deadline = System.nanoTime() + options.publishTimeout().toNanos();
    while (true) {
      try {
        return call(what, call);
      } catch (AmqpOperationException e) {
        if (!e.connectionLost() || System.nanoTime() - deadline >= 0 || connector.isClosed()) {
          throw e;
        }
        log.debug("{} failed with a lost connection; retrying: {}", what, e.getMessage());
        connection(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
      }
    }
  }

  /**
   * Reads up to {@code max} messages from the head of each queue with basic.get, without
   * acknowledging them, then hands them all back by closing the channel: a classic queue puts each
   * back in its place (it carries the redelivered flag from then on; a quorum queue counts it as a
   * delivery). One channel serves every queue; a queue that does not exist (which closes the
   * channel) is skipped and the rest are read on a new one.
   *
   * @throws AmqpOperationException when the broker refused a read for another reason or the
   *     connection failed
   */
  public void peek(List<String> queues, int max, PeekVisitor visitor) {
    Channel channel = null;
    try {
      for (String queue : queues) {
        if (channel == null || !channel.isOpen()) {
          closeQuietly(channel);
          channel = openChannel();
        }
        try {
          for (int i = 0; i < max; i++) {
            GetResponse response = channel.basicGet(queue, false);
            if (response == null) {
              break;
            }
            visitor.visit(queue, response);
          }
        } catch (IOException | ShutdownSignalException e) {
          AmqpOperationException error = AmqpOperationException.of("read queue '" + queue + "'", e);
          if (error.replyCode() != AmqpOperationException.NOT_FOUND) {
            throw error;
          }
        }
      }
    } finally {
      closeQuietly(channel); // returns every message read
    }
  }

  // ------------------------------------------------------------------------------------------
  // publishing

  /**
   * Publishes with {@code mandatory} set and returns once the broker confirmed the message. A
   * message lost with its connection before the confirm is sent again after reconnecting, until the
   * publish timeout, which also bounds waiting out a resource alarm; a message whose channel
   * RabbitMQ closed for an error of another message on it is sent again once, on a fresh channel.
   *
   * @throws UnroutableException when the broker returned the message (no queue bound for it)
   * @throws AmqpOperationException when the broker refused it, or no confirm came within the
   *     publish timeout ({@link AmqpOperationException#BLOCKED} when RabbitMQ blocked publishing
   *     all that time)
   */
  public void publish(
      String exchange, String routingKey, AMQP.BasicProperties properties, byte[] body) {
    publisher.publish(-1, null, exchange, routingKey, properties, body);
  }

  /**
   * {@link #publish(String, String, AMQP.BasicProperties, byte[])} without waiting for the confirm:
   * the future completes when the broker confirmed (RabbitMQ confirms many messages at once), or
   * fails with {@link UnroutableException}, an {@link AmqpOperationException} (no resend; the
   * caller decides), or an {@link AmqpOperationException} when no confirm came within the publish
   * timeout.
   */
  public CompletableFuture<Void> publishAsync(
      String exchange, String routingKey, AMQP.BasicProperties properties, byte[] body) {
    connector.checkOpen();
    long deadline = System.nanoTime() + options.publishTimeout().toNanos();
    try {
      return publisher
          .publishAsync(-1, null, exchange, routingKey, properties, body, deadline)
          .orTimeout(
              options.publishTimeout().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
          .exceptionallyCompose(
              e ->
                  CompletableFuture.failedFuture(
                      e instanceof java.util.concurrent.TimeoutException
                          ? new AmqpOperationException(
                              "no publisher confirm for a message to exchange '"
                                  + exchange
                                  + "' with routing key '"
                                  + routingKey
                                  + "' within "
                                  + options.publishTimeout(),
                              0,
                              true,
                              e)
                          : e));
    } catch (AmqpOperationException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * {@link #publish(String, String, AMQP.BasicProperties, byte[])} in order with every other
   * message published with the same {@code orderKey} (they share one channel), after {@code setup}
   * ran on that channel.
   */
  public void publishOrdered(
      String orderKey,
      @Nullable ChannelSetup setup,
      String exchange,
      String routingKey,
      AMQP.BasicProperties properties,
      byte[] body) {
    publisher.publish(
        publisher.channelFor(orderKey), setup, exchange, routingKey, properties, body);
  }

  /**
   * Publishes in order with every other message of the same {@code orderKey}, after {@code setup},
   * without waiting: the future completes when the broker confirmed, or fails with {@link
   * UnroutableException} or an {@link AmqpOperationException} (no retry; the caller decides).
   */
  public CompletableFuture<Void> publishOrderedAsync(
      String orderKey,
      @Nullable ChannelSetup setup,
      String exchange,
      String routingKey,
      AMQP.BasicProperties properties,
      byte[] body) {
    connector.checkOpen();
    try {
      return publisher.publishAsync(
          publisher.channelFor(orderKey),
          setup,
          exchange,
          routingKey,
          properties,
          body,
          System.nanoTime() + options.publishTimeout().toNanos());
    } catch (AmqpOperationException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // lifecycle

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return connector.isClosed();
  }

  /** Closes the connection (and with it every channel); idempotent. */
  @Override
  public void close() {
    publisher.close();
    connector.close();
    idleCallChannels.clear();
    if (dispatch != null) {
      dispatch.shutdownNow();
    }
  }

  /** Closes a channel, ignoring that it may be closed already. */
  public static void closeQuietly(@Nullable Channel channel) {
    if (channel == null || !channel.isOpen()) {
      return;
    }
    try {
      channel.close();
    } catch (IOException | TimeoutException | ShutdownSignalException e) {
      log.trace("Closing an AMQP channel: {}", e.toString());
    }
  }

  @Override
  public String toString() {
    return "AmqpClient{" + connectionName + " " + connector.urls() + "}";
  }

  /** Builds an {@link AmqpClient}. Not thread-safe. */
  public static final class Builder {
    private final List<AmqpUrl> urls;
    private String connectionName = "machinery";
    private int publisherChannels = DEFAULT_PUBLISHER_CHANNELS;
    private AmqpConnectionOptions.Builder options = AmqpConnectionOptions.builder();
    private boolean directDispatch;

    private Builder(List<AmqpUrl> urls) {
      if (urls.isEmpty()) {
        throw new IllegalArgumentException("at least one AMQP URL is needed");
      }
      this.urls = List.copyOf(urls);
    }

    /** The name the broker shows for the connection (management UI). */
    public Builder connectionName(String value) {
      connectionName = Objects.requireNonNull(value, "connectionName");
      return this;
    }

    /**
     * TLS, publish timeout and factory customizer, all at once (replaces what the single setters
     * set).
     */
    public Builder options(AmqpConnectionOptions value) {
      options = Objects.requireNonNull(value, "options").toBuilder();
      return this;
    }

    /**
     * How long a publish (reconnecting included) and a wait for a connection may take; default 30
     * s.
     */
    public Builder publishTimeout(Duration value) {
      options.publishTimeout(value);
      return this;
    }

    /**
     * How many confirm-mode channels publishers share; default {@value
     * #DEFAULT_PUBLISHER_CHANNELS}.
     */
    public Builder publisherChannels(int value) {
      if (value < 1 || value > 64) {
        throw new IllegalArgumentException(
            "publisherChannels must be between 1 and 64, was " + value);
      }
      publisherChannels = value;
      return this;
    }

    /** Use TLS even for {@code amqp://} URLs ({@code Config.tls()}). */
    public Builder tls(boolean value) {
      options.tls(value);
      return this;
    }

    /**
     * The TLS context for {@code amqps://} (default: the JVM's default context, with hostname
     * verification).
     */
    public Builder sslContext(SSLContext value) {
      options.sslContext(value);
      return this;
    }

    /** Adjusts each connection factory last (credentials provider, metrics, NIO, timeouts). */
    public Builder connectionFactoryCustomizer(Consumer<ConnectionFactory> value) {
      options.connectionFactoryCustomizer(value);
      return this;
    }

    /**
     * Runs the client library's consumer callbacks on the connection's own thread, the one that
     * reads from the socket, in order: no hand-off to another thread per message. Every callback
     * must then return quickly and never block nor wait for a reply from RabbitMQ (a blocked
     * callback stalls every channel of the connection, and its heartbeats); publishing,
     * acknowledging and starting a thread are fine.
     */
    public Builder directDispatch(boolean value) {
      directDispatch = value;
      return this;
    }

    public AmqpClient build() {
      return new AmqpClient(this);
    }
  }
}
