package io.machinery.client.amqp;

import com.rabbitmq.client.ConnectionFactory;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * How AMQP connections are made, apart from where to (the {@link AmqpUrl}): TLS, the publish
 * timeout and a last adjustment of the client library's {@link ConnectionFactory}. The one place a
 * {@code ConnectionFactory} is set up: {@link AmqpClient}, the AMQP broker and backend builders,
 * and tests all go through {@link #connectionFactory(AmqpUrl)}.
 *
 * <pre>{@code
 * AmqpConnectionOptions options = AmqpConnectionOptions.builder().publishTimeout(Duration.ofSeconds(10)).build();
 * AmqpBroker broker = AmqpBroker.builder(config).options(options).build();
 * }</pre>
 *
 * <p>Immutable; validated when built.
 */
public final class AmqpConnectionOptions {
  /**
   * No TLS unless the URL says {@code amqps}, the JVM's TLS context, 30 s publish timeout, no
   * customizer.
   */
  public static final AmqpConnectionOptions DEFAULT = builder().build();

  private final boolean tls;
  private final @Nullable SSLContext sslContext;
  private final @Nullable Consumer<ConnectionFactory> customizer;
  private final Duration publishTimeout;

  private AmqpConnectionOptions(Builder b) {
    this.tls = b.tls;
    this.sslContext = b.sslContext;
    this.customizer = b.customizer;
    this.publishTimeout = b.publishTimeout;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.tls = tls;
    b.sslContext = sslContext;
    b.customizer = customizer;
    b.publishTimeout = publishTimeout;
    return b;
  }

  /** TLS even for {@code amqp://} URLs ({@code Config.tls()}). */
  public boolean tls() {
    return tls;
  }

  /**
   * How long a publish (reconnecting included), a wait for a connection and any channel RPC (a
   * declaration, basic.get, channel.open) may take.
   */
  public Duration publishTimeout() {
    return publishTimeout;
  }

  /**
   * A new, unconnected factory for {@code url}: Go's heartbeat and dial timeout unless the URL says
   * otherwise, a body limit of {@link AmqpClient#MAX_INBOUND_BODY_BYTES}, the publish timeout as
   * the channel RPC timeout, the client library's automatic recovery off (see {@link AmqpClient}),
   * TLS with hostname verification for {@code amqps} (or {@link #tls()}), then the customizer.
   */
  public ConnectionFactory connectionFactory(AmqpUrl url) {
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
    f.setMaxInboundMessageBodySize(AmqpClient.MAX_INBOUND_BODY_BYTES);
    // every RPC of a channel (declarations, basic.get, channel.open, qos, consume) waits at most
    // the publish timeout, not the client library's 10 minutes (RabbitMQ reads nothing from a
    // connection it blocked for an alarm, so a query sent on it gets no answer until it clears)
    f.setChannelRpcTimeout((int) Math.min(Integer.MAX_VALUE, publishTimeout.toMillis()));
    f.setAutomaticRecoveryEnabled(false);
    f.setTopologyRecoveryEnabled(false);
    if (url.tls() || tls) {
      try {
        f.useSslProtocol(sslContext != null ? sslContext : SSLContext.getDefault());
        f.enableHostnameVerification();
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("no default TLS context in this JVM", e);
      }
    }
    if (customizer != null) {
      customizer.accept(f);
    }
    return f;
  }

  @Override
  public String toString() {
    return "AmqpConnectionOptions{tls="
        + tls
        + ", publishTimeout="
        + publishTimeout
        + (sslContext != null ? ", own TLS context" : "")
        + (customizer != null ? ", customized" : "")
        + "}";
  }

  /** Builds {@link AmqpConnectionOptions}. Not thread-safe. */
  public static final class Builder {
    private boolean tls;
    private @Nullable SSLContext sslContext;
    private @Nullable Consumer<ConnectionFactory> customizer;
    private Duration publishTimeout = AmqpClient.DEFAULT_PUBLISH_TIMEOUT;

    private Builder() {}

    /** Use TLS even for {@code amqp://} URLs ({@code Config.tls()}). */
    public Builder tls(boolean value) {
      tls = value;
      return this;
    }

    /**
     * The TLS context for {@code amqps://} (default: the JVM's default context, with hostname
     * verification).
     */
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
     * How long a publish (reconnecting included) and a wait for a connection may take; default 30
     * s.
     */
    public Builder publishTimeout(Duration value) {
      Objects.requireNonNull(value, "publishTimeout");
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("publishTimeout must be positive, was " + value);
      }
      publishTimeout = value;
      return this;
    }

    public AmqpConnectionOptions build() {
      return new AmqpConnectionOptions(this);
    }
  }
}
