package io.machinery.client.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConfirmListener;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.MachineryException;
import java.io.IOException;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One AMQP connection that comes back by itself, with a confirming publisher and pooled channels for
 * declarations and queries. The AMQP broker and backend build on it.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Connection.</b> Opened lazily on first use by trying the URLs in order (Go's failover: the first
 *       one that answers wins). When it is lost, the next use reconnects, waiting between failed attempts
 *       (100 ms doubling to {@value #MAX_BACKOFF_MILLIS} ms). The client library's own automatic recovery is
 *       off on purpose: it records every queue ever declared to re-declare it, which grows without bound for
 *       Go's per-task and per-delay queues, and its delivery-tag offsets make a late multiple-ack dangerous.
 *       Owners of channels (consumers) notice a lost connection through their channel's shutdown listener and
 *       resubscribe through {@link #openChannel()}.
 *   <li><b>Publishing.</b> {@link #publish} sends with {@code mandatory} set on one of a few channels in
 *       confirm mode and returns when the broker confirmed. Concurrent publishers share these channels, so
 *       the broker confirms them in batches ({@code multiple=true}); confirms and returns are matched to
 *       publishers by sequence number and, for returns, by exchange, routing key and body. A returned
 *       message is an {@link UnroutableException}. A publish whose connection is lost before the confirm is
 *       sent again once reconnected (at-least-once) until the publish timeout.
 *   <li><b>Queries.</b> {@link #call} runs declarations, inspections and basic.get on pooled channels that
 *       never carry publishes, so a refused declaration (which closes its channel) never fails a publish.
 * </ul>
 *
 * <p>Thread-safe. Whoever builds it closes it; {@link #close()} closes the connection, which ends every
 * thread the client library started for it.
 */
public final class AmqpClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AmqpClient.class);

  /** How long a publish may take, reconnecting included, unless the builder says otherwise. */
  public static final Duration DEFAULT_PUBLISH_TIMEOUT = Duration.ofSeconds(30);
  /** Channels in confirm mode shared by publishers unless the builder says otherwise. */
  public static final int DEFAULT_PUBLISHER_CHANNELS = 4;
  static final long FIRST_BACKOFF_MILLIS = 100;
  static final long MAX_BACKOFF_MILLIS = 2000;
  private static final int IDLE_CALL_CHANNELS = 8;
  /**
   * RabbitMQ's hard ceiling for {@code max_message_size} (its default is 128 MiB). The client accepts message
   * bodies up to it, so an oversized message reaches the worker, which dead-letters it by size; with the client
   * library's default (64 MiB) such a message would end the whole connection on every delivery (F7).
   */
  public static final int MAX_INBOUND_BODY_BYTES = 512 * 1024 * 1024;

  /** Work done on a channel by {@link #call}. */
  @FunctionalInterface
  public interface ChannelCall<T> {
    T apply(Channel channel) throws IOException;
  }

  /**
   * Commands sent on a publishing channel right before a message, in the same order (for example no-wait
   * declarations of the queue the message goes to, which RabbitMQ applies before routing it).
   */
  @FunctionalInterface
  public interface ChannelSetup {
    void apply(Channel channel) throws IOException;
  }

  private final List<AmqpUrl> urls;
  private final List<ConnectionFactory> factories;
  private final String connectionName;
  private final Duration publishTimeout;
  private final ReentrantLock connectLock = new ReentrantLock();
  private final Condition closedSignal = connectLock.newCondition();
  private volatile @Nullable Connection connection;
  private volatile boolean closed;
  private int failures;
  private long nextAttemptNanos;
  private @Nullable Exception lastFailure;
  private final AtomicReferenceArray<@Nullable PublisherChannel> publishers;
  private final Object[] publisherLocks;
  private final AtomicInteger nextPublisher = new AtomicInteger();
  private final ArrayBlockingQueue<Channel> idleCallChannels = new ArrayBlockingQueue<>(IDLE_CALL_CHANNELS);
  private final @Nullable ExecutorService dispatch;

  private AmqpClient(Builder b) {
    this.urls = b.urls;
    this.dispatch = b.virtualThreadDispatch
        ? Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name(b.connectionName + "-dispatch-", 0).factory())
        : null;
    this.connectionName = b.connectionName;
    this.publishTimeout = b.publishTimeout;
    List<ConnectionFactory> list = new ArrayList<>(urls.size());
    for (AmqpUrl url : urls) {
      ConnectionFactory f = factory(url, b);
      if (dispatch != null) {
        f.setSharedExecutor(dispatch);
      }
      if (b.customizer != null) {
        b.customizer.accept(f);
      }
      list.add(f);
    }
    this.factories = List.copyOf(list);
    this.publishers = new AtomicReferenceArray<>(b.publisherChannels);
    this.publisherLocks = new Object[b.publisherChannels];
    Arrays.setAll(publisherLocks, i -> new Object());
  }

  public static Builder builder(List<AmqpUrl> urls) {
    return new Builder(urls);
  }

  private static ConnectionFactory factory(AmqpUrl url, Builder b) {
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(url.host());
    f.setPort(url.port());
    f.setUsername(url.username());
    f.setPassword(url.password());
    f.setVirtualHost(url.vhost());
    f.setRequestedHeartbeat((int) Math.min(Integer.MAX_VALUE, url.heartbeat().toSeconds()));
    f.setConnectionTimeout((int) Math.min(Integer.MAX_VALUE, url.connectionTimeout().toMillis()));
    if (url.channelMax() > 0) {
      f.setRequestedChannelMax(url.channelMax());
    }
    if (url.frameMax() > 0) {
      f.setRequestedFrameMax(url.frameMax());
    }
    f.setMaxInboundMessageBodySize(MAX_INBOUND_BODY_BYTES);
    f.setAutomaticRecoveryEnabled(false);
    f.setTopologyRecoveryEnabled(false);
    if (url.tls() || b.tls) {
      try {
        f.useSslProtocol(b.sslContext != null ? b.sslContext : SSLContext.getDefault());
        f.enableHostnameVerification();
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("no default TLS context in this JVM", e);
      }
    }
    return f;
  }

  /** The URLs this client connects to, in failover order. */
  public List<AmqpUrl> urls() {
    return urls;
  }

  /** How long {@link #publish} may take. */
  public Duration publishTimeout() {
    return publishTimeout;
  }

  // ------------------------------------------------------------------------------------------ connection

  /**
   * The open connection, connecting first if needed and waiting up to the publish timeout for the broker.
   *
   * @throws AmqpOperationException when no URL answered in time
   * @throws MachineryException when the client is closed or the thread is interrupted
   */
  public Connection connection() {
    return connection(publishTimeout);
  }

  /** {@link #connection()} waiting at most {@code wait}. */
  public Connection connection(Duration wait) {
    Connection c = connection;
    if (c != null && c.isOpen()) {
      return c;
    }
    long deadline = System.nanoTime() + wait.toNanos();
    try {
      connectLock.lockInterruptibly();
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
          closedSignal.awaitNanos(pause);
          continue;
        }
        try {
          c = connect();
          connection = c;
          failures = 0;
          lastFailure = null;
          return c;
        } catch (IOException | TimeoutException e) {
          failures++;
          lastFailure = e;
          long backoff = Math.min(MAX_BACKOFF_MILLIS, FIRST_BACKOFF_MILLIS << Math.min(failures - 1, 10));
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
      connectLock.unlock();
    }
  }

  private AmqpOperationException unreachable() {
    Exception cause = lastFailure;
    return new AmqpOperationException("cannot connect to AMQP broker " + urls
        + (cause == null ? "" : ": " + cause), 0, true, cause);
  }

  private Connection connect() throws IOException, TimeoutException {
    IOException last = null;
    for (int i = 0; i < factories.size(); i++) {
      try {
        Connection c = factories.get(i).newConnection(connectionName);
        c.addShutdownListener(signal -> {
          if (!signal.isInitiatedByApplication()) {
            log.warn("AMQP connection {} to {} lost: {}", connectionName, urls, signal.getMessage());
          }
        });
        if (failures > 0) {
          log.info("AMQP connection {} to {} established again", connectionName, urls.get(i));
        }
        return c;
      } catch (IOException e) {
        last = e;
        log.debug("AMQP broker {} did not answer: {}", urls.get(i), e.toString());
      }
    }
    throw last != null ? last : new IOException("no AMQP URL");
  }

  /**
   * A new channel on the current connection (connecting first if needed); the caller owns and closes it.
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
    Connection c = connection;
    return c != null && c.isOpen();
  }

  // ------------------------------------------------------------------------------------------ queries

  /**
   * Runs {@code call} on a pooled channel, once. A channel the broker closed (a refused declaration, a
   * passive declaration of a missing queue) is dropped, never reused.
   *
   * @throws AmqpOperationException with the broker's reply code when the broker refused or the connection failed
   */
  public <T> T call(String what, ChannelCall<T> call) {
    Channel channel = idleCallChannels.poll();
    while (channel != null && !channel.isOpen()) {
      channel = idleCallChannels.poll();
    }
    if (channel == null) {
      channel = openChannel();
    }
    try {
      T result = call.apply(channel);
      if (channel.isOpen() && !closed && !idleCallChannels.offer(channel)) {
        closeQuietly(channel);
      }
      return result;
    } catch (IOException | ShutdownSignalException e) {
      closeQuietly(channel);
      throw AmqpOperationException.of(what, e);
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    }
  }

  /**
   * {@link #call} for idempotent work (declarations, inspections): repeated after reconnecting when the
   * connection was lost, until the publish timeout.
   */
  public <T> T callRetrying(String what, ChannelCall<T> call) {
    long deadline = System.nanoTime() + publishTimeout.toNanos();
    while (true) {
      try {
        return call(what, call);
      } catch (AmqpOperationException e) {
        if (!e.connectionLost() || System.nanoTime() - deadline >= 0 || closed) {
          throw e;
        }
        log.debug("{} failed with a lost connection; retrying: {}", what, e.getMessage());
        connection(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
      }
    }
  }

  // ------------------------------------------------------------------------------------------ publishing

  /**
   * Publishes with {@code mandatory} set and returns once the broker confirmed the message. A message lost
   * with its connection before the confirm is sent again after reconnecting, until the publish timeout.
   *
   * @throws UnroutableException when the broker returned the message (no queue bound for it)
   * @throws AmqpOperationException when the broker refused it, or no confirm came within the publish timeout
   */
  public void publish(String exchange, String routingKey, AMQP.BasicProperties properties, byte[] body) {
    publish(-1, null, exchange, routingKey, properties, body);
  }

  /**
   * {@link #publish(String, String, AMQP.BasicProperties, byte[])} in order with every other message published
   * with the same {@code orderKey} (they share one channel), after {@code setup} ran on that channel.
   */
  public void publishOrdered(
      String orderKey, @Nullable ChannelSetup setup, String exchange, String routingKey,
      AMQP.BasicProperties properties, byte[] body) {
    publish(Math.floorMod(orderKey.hashCode(), publishers.length()), setup, exchange, routingKey, properties, body);
  }

  /**
   * Publishes in order with every other message of the same {@code orderKey}, after {@code setup}, without
   * waiting: the future completes when the broker confirmed, or fails with {@link UnroutableException} or an
   * {@link AmqpOperationException} (no retry; the caller decides).
   */
  public CompletableFuture<Void> publishOrderedAsync(
      String orderKey, @Nullable ChannelSetup setup, String exchange, String routingKey,
      AMQP.BasicProperties properties, byte[] body) {
    checkOpen();
    try {
      return publishAsync(Math.floorMod(orderKey.hashCode(), publishers.length()), setup, exchange, routingKey,
          properties, body, publishTimeout.toNanos());
    } catch (AmqpOperationException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private void publish(int channelIndex, @Nullable ChannelSetup setup, String exchange, String routingKey,
      AMQP.BasicProperties properties, byte[] body) {
    long deadline = System.nanoTime() + publishTimeout.toNanos();
    AmqpOperationException last = null;
    while (true) {
      checkOpen();
      long remaining = deadline - System.nanoTime();
      if (remaining <= 0) {
        throw new AmqpOperationException("no publisher confirm for a message to exchange '" + exchange
            + "' with routing key '" + routingKey + "' within " + publishTimeout
            + (last == null ? "" : " (last error: " + last.getMessage() + ")"), 0, true, last);
      }
      try {
        CompletableFuture<Void> confirmed =
            publishAsync(channelIndex, setup, exchange, routingKey, properties, body, remaining);
        confirmed.get(remaining, TimeUnit.NANOSECONDS);
        return;
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof UnroutableException u) {
          throw new UnroutableException(u.exchange(), u.routingKey());
        }
        last = AmqpOperationException.of("publish to exchange '" + exchange + "'", cause);
      } catch (AmqpOperationException e) {
        last = e;
      } catch (TimeoutException e) {
        throw new AmqpOperationException("no publisher confirm for a message to exchange '" + exchange
            + "' with routing key '" + routingKey + "' within " + publishTimeout, 0, true, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException("interrupted while publishing to exchange '" + exchange + "'", e);
      }
      if (!last.connectionLost() && last.replyCode() != 0) {
        throw last; // the broker refused it (a missing exchange, access refused): retrying cannot help
      }
      log.debug("Publishing to exchange '{}' failed ({}); retrying", exchange, last.getMessage());
    }
  }

  private CompletableFuture<Void> publishAsync(int channelIndex, @Nullable ChannelSetup setup,
      String exchange, String routingKey, AMQP.BasicProperties properties, byte[] body, long waitNanos) {
    int index = channelIndex >= 0 ? channelIndex : Math.floorMod(nextPublisher.getAndIncrement(), publishers.length());
    PublisherChannel pc = publisher(index, waitNanos);
    Pending pending = new Pending(exchange, routingKey, body);
    pc.lock.lock();
    try {
      if (setup != null) {
        try {
          setup.apply(pc.channel);
        } catch (IOException | ShutdownSignalException e) {
          throw AmqpOperationException.of("prepare a publish to exchange '" + exchange + "'", e);
        }
      }
      long sequence = pc.channel.getNextPublishSeqNo();
      pc.pending.put(sequence, pending);
      try {
        pc.channel.basicPublish(exchange, routingKey, true, false, properties, body);
      } catch (IOException | ShutdownSignalException e) {
        pc.pending.remove(sequence);
        throw AmqpOperationException.of("publish to exchange '" + exchange + "'", e);
      }
      if (pc.dead && pc.pending.remove(sequence) != null) {
        // the channel closed between our publish and its shutdown listener's sweep
        pending.future.completeExceptionally(
            new AmqpOperationException("the publishing channel closed before the confirm", 0, true, null));
      }
    } finally {
      pc.lock.unlock();
    }
    return pending.future;
  }

  private PublisherChannel publisher(int index, long waitNanos) {
    PublisherChannel pc = publishers.get(index);
    if (pc != null && !pc.dead && pc.channel.isOpen()) {
      return pc;
    }
    synchronized (publisherLocks[index]) {
      pc = publishers.get(index);
      if (pc != null && !pc.dead && pc.channel.isOpen()) {
        return pc;
      }
      Connection c = connection(Duration.ofNanos(Math.max(waitNanos, 1)));
      Channel channel;
      try {
        channel = c.createChannel();
        if (channel == null) {
          throw new AmqpOperationException("the AMQP connection has no channel left", 0, false, null);
        }
        channel.confirmSelect();
      } catch (IOException | ShutdownSignalException e) {
        throw AmqpOperationException.of("cannot open a publishing channel", e);
      }
      PublisherChannel fresh = new PublisherChannel(channel);
      publishers.set(index, fresh);
      return fresh;
    }
  }

  /** One message waiting for its confirm. */
  private static final class Pending {
    final String exchange;
    final String routingKey;
    final byte[] body;
    final CompletableFuture<Void> future = new CompletableFuture<>();
    volatile boolean returned;

    Pending(String exchange, String routingKey, byte[] body) {
      this.exchange = exchange;
      this.routingKey = routingKey;
      this.body = body;
    }

    void settle(boolean ack) {
      if (returned) {
        future.completeExceptionally(new UnroutableException(exchange, routingKey));
      } else if (ack) {
        future.complete(null);
      } else {
        future.completeExceptionally(new AmqpOperationException(
            "the broker refused (nacked) a message to exchange '" + exchange + "'", 0, true, null));
      }
    }
  }

  /** A channel in confirm mode and the messages it waits confirms for. */
  private static final class PublisherChannel implements ConfirmListener {
    final Channel channel;
    final ReentrantLock lock = new ReentrantLock();
    final ConcurrentSkipListMap<Long, Pending> pending = new ConcurrentSkipListMap<>();
    volatile boolean dead;

    PublisherChannel(Channel channel) {
      this.channel = channel;
      channel.addConfirmListener(this);
      channel.addReturnListener(r -> {
        for (Pending p : pending.values()) {
          if (!p.returned && p.exchange.equals(r.getExchange()) && p.routingKey.equals(r.getRoutingKey())
              && Arrays.equals(p.body, r.getBody())) {
            p.returned = true;
            break;
          }
        }
      });
      channel.addShutdownListener(signal -> {
        dead = true;
        AmqpOperationException lost = AmqpOperationException.of("the publishing channel closed before the confirm", signal);
        Map.Entry<Long, Pending> e;
        while ((e = pending.pollFirstEntry()) != null) {
          e.getValue().future.completeExceptionally(lost);
        }
      });
    }

    @Override
    public void handleAck(long tag, boolean multiple) {
      settle(tag, multiple, true);
    }

    @Override
    public void handleNack(long tag, boolean multiple) {
      settle(tag, multiple, false);
    }

    private void settle(long tag, boolean multiple, boolean ack) {
      if (multiple) {
        Map.Entry<Long, Pending> e;
        while ((e = pending.firstEntry()) != null && e.getKey() <= tag) {
          if (pending.remove(e.getKey(), e.getValue())) {
            e.getValue().settle(ack);
          }
        }
      } else {
        Pending p = pending.remove(tag);
        if (p != null) {
          p.settle(ack);
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  private void checkOpen() {
    if (closed) {
      throw new MachineryException("the AMQP client " + connectionName + " is closed");
    }
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  /** Closes the connection (and with it every channel); idempotent. */
  @Override
  public void close() {
    connectLock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      closedSignal.signalAll();
    } finally {
      connectLock.unlock();
    }
    Connection c = connection;
    connection = null;
    if (c != null) {
      try {
        c.close(AMQP.REPLY_SUCCESS, "closed by " + connectionName, 5_000);
      } catch (IOException | ShutdownSignalException e) {
        log.debug("Closing AMQP connection {}: {}", connectionName, e.toString());
      }
    }
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
    return "AmqpClient{" + connectionName + " " + urls + "}";
  }

  /** Builds an {@link AmqpClient}. Not thread-safe. */
  public static final class Builder {
    private final List<AmqpUrl> urls;
    private String connectionName = "machinery";
    private Duration publishTimeout = DEFAULT_PUBLISH_TIMEOUT;
    private int publisherChannels = DEFAULT_PUBLISHER_CHANNELS;
    private boolean tls;
    private @Nullable SSLContext sslContext;
    private @Nullable Consumer<ConnectionFactory> customizer;
    private boolean virtualThreadDispatch;

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

    /** How long a publish (reconnecting included) and a wait for a connection may take; default 30 s. */
    public Builder publishTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("publishTimeout must be positive, was " + value);
      }
      publishTimeout = value;
      return this;
    }

    /** How many confirm-mode channels publishers share; default {@value #DEFAULT_PUBLISHER_CHANNELS}. */
    public Builder publisherChannels(int value) {
      if (value < 1 || value > 64) {
        throw new IllegalArgumentException("publisherChannels must be between 1 and 64, was " + value);
      }
      publisherChannels = value;
      return this;
    }

    /** Use TLS even for {@code amqp://} URLs ({@code Config.tls()}). */
    public Builder tls(boolean value) {
      tls = value;
      return this;
    }

    /** The TLS context for {@code amqps://} (default: the JVM's default context, with hostname verification). */
    public Builder sslContext(SSLContext value) {
      sslContext = Objects.requireNonNull(value, "sslContext");
      return this;
    }

    /** Adjusts each connection factory last (credentials provider, metrics, NIO, timeouts). */
    public Builder connectionFactoryCustomizer(Consumer<ConnectionFactory> value) {
      customizer = Objects.requireNonNull(value, "customizer");
      return this;
    }

    /**
     * Runs the client library's consumer callbacks on virtual threads (one per channel at a time, in order)
     * instead of its small platform thread pool, so a callback may block (for example until the worker has a
     * free slot) without holding up other channels. The client shuts that executor down on close.
     */
    public Builder virtualThreadDispatch(boolean value) {
      virtualThreadDispatch = value;
      return this;
    }

    public AmqpClient build() {
      return new AmqpClient(this);
    }
  }
}
