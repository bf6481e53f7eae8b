package io.machinery.broker.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.machinery.ConsumerRefusedException;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpConnectionOptions;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.client.amqp.RabbitManagement;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go Machinery's AMQP broker (spec §3.3) on RabbitMQ: the same exchange, queues, routing, delay
 * queues and message properties as Go, so Go and Java senders and workers share a deployment.
 *
 * <pre>{@code
 * Config config = Config.builder().broker("amqp://guest:guest@127.0.0.1:5672/").build();
 * try (AmqpBroker broker = AmqpBroker.create(config);
 *      Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
 *   server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)));
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Topology.</b> A durable exchange of the configured type; the worker's durable queue
 *       bound with the binding key and declared with {@code AMQP.QueueDeclareArgs} ({@code
 *       x-max-priority} for priorities); routing as Go's {@code AdjustRoutingKey}. Messages are
 *       persistent JSON ({@code application/json}) with the signature's headers as a table of
 *       strings and its priority. Unlike Go, a publisher does not create the never-consumed {@code
 *       machinery_task} queue; it publishes with {@code mandatory} and waits for the publisher
 *       confirm, so an unroutable message is an error to the sender (see {@link Topology}).
 *   <li><b>Delays.</b> A task whose ETA is in the future goes to Go's {@code
 *       delay.<ms>.<exchange>.<routingKey>} queue (message TTL, dead-lettered to the task
 *       exchange), or to the single {@code AMQP.DelayedQueue} with a per-message expiration. Unlike
 *       Go the priority is kept (Go issue #824). A delivered message that a worker puts back with a
 *       delay goes through a per-delay queue on the default exchange, so it comes back to exactly
 *       its queue. Delays under {@value Publishing#MIN_DELAY_MILLIS} ms are raised to it (a task
 *       never runs before its ETA, at most that much later): a per-delay queue expires {@code 2 ×
 *       delay} after its declaration, and for a few milliseconds a confirmed publish could land in
 *       a queue that RabbitMQ deletes, with the message, before the message's TTL fires (F20).
 *       RabbitMQ holds a delay of at most {@value Publishing#MAX_DELAY_MILLIS} ms (24 days 20 h): a
 *       task due later is refused with an {@link IllegalArgumentException} before anything is
 *       declared (Go's broker fails on RabbitMQ's {@code value_too_large} instead; a retry that far
 *       ahead ends the task in FAILURE with the reason). A worker's requeue that far ahead is kept
 *       at that longest delay instead (it comes back early and is judged again).
 *   <li><b>Size.</b> The sender refuses a task over {@code Config.maxMessageBytes}; one under it
 *       but over RabbitMQ's {@code max_message_size} (which closes the publishing channel with 406)
 *       fails with an {@link IllegalArgumentException} naming the task, and is not sent again.
 *   <li><b>{@code AMQP.DelayedQueue} caveat.</b> That mode relies on per-message TTL, which
 *       RabbitMQ applies only at the head of a queue: a task with an ETA in 24 h published first
 *       holds back every task behind it, even one due in a minute (Go PR #796 has the same flaw).
 *       Use the per-delay queues (the default) unless every delay is the same.
 *   <li><b>Consuming.</b> One channel per consumer with QoS = the worker's concurrency, whatever
 *       {@code AMQP.PrefetchCount} says (a prefetched message waiting behind long tasks would hit
 *       RabbitMQ's consumer_timeout, see below); each message is handed to the worker only after it
 *       reserved a slot, and acknowledged only when the worker settles it, after the result is
 *       stored. A worker that dies leaves its messages unacknowledged, and RabbitMQ delivers them
 *       again: at-least-once. {@link io.machinery.spi.Delivery#deliveryCount()} is RabbitMQ's
 *       {@code x-delivery-count} + 1 on quorum queues ({@code AMQP.QueueDeclareArgs: {x-queue-type:
 *       quorum}}) and 0 on classic queues, which do not count (the worker then bounds requeues with
 *       the count it keeps in the message).
 *   <li><b>Long tasks.</b> A message stays unacknowledged while its task runs, and RabbitMQ
 *       (3.8.15+) closes the channel of a delivery unacknowledged longer than {@code
 *       consumer_timeout} (default 30 min): every task running on it is requeued and runs again.
 *       The consumer logs this case as an error that names consumer_timeout. Set {@code
 *       consumer_timeout} in rabbitmq.conf above the longest task; RabbitMQ 3.10 (the test server
 *       here) has only that global setting; from 3.11.15 a queue can also carry its own ({@code
 *       consumer-timeout} policy, or {@code x-consumer-timeout} in {@code AMQP.QueueDeclareArgs}).
 *       RabbitMQ 4.3+ cancels the consumer (basic.cancel) instead of closing the channel by
 *       default; the consumer then subscribes again, and the message is redelivered all the same.
 *       Malformed messages go to {@code machinery_dead_letters} / {@code <queue>.dead_letters} with
 *       the reason in the {@code x-machinery-dead-letter-reason} header (and the queue in {@code
 *       x-machinery-dead-letter-queue}).
 *   <li><b>Connections.</b> Two, opened on first use: one for publishing and one for consuming
 *       (RabbitMQ's advice: flow control on a busy publishing connection must not hold back the
 *       acknowledgements of the consumers). Several broker URLs ({@code MultipleBrokerSeparator})
 *       fail over in order. A lost connection is reopened with back-off; consumers resubscribe by
 *       themselves and report the failure through {@link DeliveryHandler#brokerError}; a publish in
 *       flight is sent again after reconnecting (at-least-once).
 *   <li><b>Inspection.</b> {@link #pendingTasks} reads a queue with basic.get and puts every
 *       message back (malformed and foreign ones included) in its place; {@link #delayedTasks} is
 *       not supported, as in Go. {@link #inspector()} adds sizes, pages of delayed tasks and dead
 *       letters, repairs and purge (see {@link AmqpInspector}; it reads RabbitMQ's management API
 *       to find delay queues).
 * </ul>
 *
 * <p>Thread-safe. Whoever builds it closes it.
 *
 * <p>Size: Go's broker interface on AMQP with its builder (Go's topology, publishing with confirms,
 * delay queues, the inspector's and control plane's wiring); the consumer is {@code AmqpConsumer}.
 */
public final class AmqpBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(AmqpBroker.class);

  private final Config config;
  private final Clock clock;
  private final Topology topology;
  private final AmqpClient publisher;

  /**
   * Whether this broker built {@link #publisher} (and so closes it); false for a client the caller
   * shares.
   */
  private final boolean ownsPublisher;

  private final AmqpClient consumers;
  private final Set<AmqpConsumer> running = ConcurrentHashMap.newKeySet();
  private final Publishing publishing;
  private final ScheduledExecutorService scheduler;
  private final AmqpInspector inspector;
  private volatile boolean closed;

  private AmqpBroker(Builder b) {
    this.config = b.config;
    this.clock = b.clock;
    this.topology = new Topology(config);
    List<AmqpUrl> urls = AmqpUrl.parseAll(config.broker(), config.multipleBrokerSeparator());
    AmqpConnectionOptions options = b.options();
    this.ownsPublisher = b.client == null;
    this.publisher =
        b.client != null
            ? b.client
            : AmqpClient.builder(urls)
                .connectionName("machinery-broker-publisher")
                .options(options)
                .build();
    // consumers never share a connection with publishers (RabbitMQ's flow control; see the class
    // notes)
    this.consumers =
        AmqpClient.builder(urls)
            .connectionName("machinery-broker-consumer")
            .options(options)
            .directDispatch(true) // the consumer never blocks in a callback (AmqpConsumer)
            .build();
    this.publishing = new Publishing(config, clock, topology, publisher);
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("machinery-amqp-broker-scheduler").factory());
    this.inspector =
        new AmqpInspector(
            config,
            clock,
            topology,
            publisher,
            RabbitManagement.forUrl(urls.get(0), b.managementUrl));
  }

  /**
   * A broker for {@code config}'s broker URL(s) and AMQP settings. Nothing is connected until first
   * use.
   *
   * @throws IllegalArgumentException when the URL or the AMQP settings are unusable
   */
  public static AmqpBroker create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  @Override
  public String routingKeyFor(Signature signature) {
    return topology.routingKeyFor(signature);
  }

  /** The queue the publisher declares for {@code routingKey} (Go's rule, see {@link Topology}). */
  @Override
  public String queueFor(String routingKey) {
    return topology.publishTarget(routingKey).queue();
  }

  // ------------------------------------------------------------------------------------------
  // publishing

  @Override
  public void publish(Signature signature, byte[] message) {
    checkOpen();
    publishing.publish(signature, message);
  }

  /**
   * {@link #publish} without waiting: the confirm completes the future, so one thread keeps many
   * messages in flight and RabbitMQ confirms them in batches (the default {@code publishAllAsync}
   * thus batches confirms too).
   */
  @Override
  public java.util.concurrent.CompletableFuture<Void> publishAsync(
      Signature signature, byte[] message) {
    try {
      checkOpen();
      return publishing.publishAsync(signature, message);
    } catch (RuntimeException e) { // the answer goes into the future, as Broker#publishAsync's
      return java.util.concurrent.CompletableFuture.failedFuture(e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // consuming

  @Override
  public Consumption startConsuming(String consumerTag, String queue, DeliveryHandler handler) {
    if (closed) {
      // not a MachineryException: a worker tries those again, and a closed broker never reopens
      throw new IllegalStateException("the AMQP broker is closed");
    }
    AmqpConsumer consumer =
        new AmqpConsumer(
            this, consumerTag, topology.workerQueue(queue), handler, config.amqp().prefetchCount());
    try {
      consumer.start();
    } catch (AmqpOperationException e) {
      throw refusedForGood(e) ? new ConsumerRefusedException(String.valueOf(e.getMessage()), e) : e;
    }
    running.add(consumer);
    return consumer;
  }

  /**
   * Whether RabbitMQ refused the queue's declaration for a reason that stays until someone changes
   * the queue or the user: declared before with other arguments ({@code PRECONDITION_FAILED}), or
   * no permission ({@code ACCESS_REFUSED}); a lost connection or anything else may mend.
   */
  static boolean refusedForGood(AmqpOperationException e) {
    return !e.connectionLost()
        && (e.replyCode() == AmqpOperationException.PRECONDITION_FAILED
            || e.replyCode() == AmqpOperationException.ACCESS_REFUSED);
  }

  AmqpClient consumerClient() {
    return consumers;
  }

  Topology topology() {
    return topology;
  }

  void forget(AmqpConsumer consumer) {
    running.remove(consumer);
  }

  /**
   * Puts {@code body} back into {@code queue} after {@code delay}; see {@link
   * Publishing#requeueLater}.
   */
  void requeueLater(String queue, AMQP.BasicProperties original, byte[] body, Duration delay) {
    checkOpen();
    publishing.requeueLater(queue, original, body, delay);
  }

  /** Sets a message aside in {@code <queue>.dead_letters}; see {@link Publishing#deadLetter}. */
  void deadLetter(String queue, AMQP.BasicProperties original, byte[] body, String reason) {
    checkOpen();
    publishing.deadLetter(queue, original, body, reason);
  }

  /**
   * Runs {@code action} after {@code delay} on the broker's scheduler (dropped once the broker is
   * closed).
   */
  void schedule(Runnable action, Duration delay) {
    try {
      scheduler.schedule(action, delay.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      log.debug("Broker closed; not scheduling {}", action);
    }
  }

  // ------------------------------------------------------------------------------------------
  // inspection

  /**
   * The tasks ready in {@code queue} (the default queue when empty), oldest first, as Go's {@code
   * GetPendingTasks}: each message is read with basic.get without acknowledgement and all are put
   * back at once, malformed and foreign ones included, so nothing is dropped. While they are read
   * they are not delivered to workers; a missing queue has no tasks.
   */
  @Override
  public List<Signature> pendingTasks(String queue) {
    checkOpen();
    String name = queue.isEmpty() ? config.defaultQueue() : queue;
    Channel channel = publisher.openChannel();
    try {
      int count;
      try {
        count = channel.queueDeclarePassive(name).getMessageCount();
      } catch (IOException e) {
        AmqpOperationException error = AmqpOperationException.of("inspect queue '" + name + "'", e);
        if (error.replyCode() == AmqpOperationException.NOT_FOUND) {
          return List.of();
        }
        throw error;
      }
      List<Signature> tasks = new ArrayList<>(count);
      long lastTag = 0;
      try {
        for (int i = 0; i < count; i++) {
          GetResponse response = channel.basicGet(name, false);
          if (response == null) {
            break;
          }
          lastTag = response.getEnvelope().getDeliveryTag();
          try {
            tasks.add(WireCodec.decodeSignature(response.getBody()));
          } catch (MalformedMessageException e) {
            log.debug("Pending message in '{}' is not a task: {}", name, e.getMessage());
          }
        }
        if (lastTag > 0) {
          channel.basicNack(lastTag, true, true);
        }
      } catch (IOException e) {
        throw AmqpOperationException.of("read queue '" + name + "'", e);
      }
      return tasks;
    } finally {
      AmqpClient.closeQuietly(channel); // also returns anything still unacknowledged
    }
  }

  /**
   * Sizes, pages of pending, delayed and dead-lettered tasks, dead-letter repair and purge; see
   * {@link AmqpInspector} for what RabbitMQ allows and at what cost. Delay queues are found through
   * RabbitMQ's management API ({@link Builder#managementUrl}).
   */
  @Override
  public java.util.Optional<io.machinery.spi.Inspector> inspector() {
    return java.util.Optional.of(inspector);
  }

  /**
   * Not supported: RabbitMQ cannot list the messages waiting in delay queues (Go does not either).
   */
  @Override
  public List<Signature> delayedTasks() {
    throw new UnsupportedOperationException(
        "the AMQP broker cannot list delayed tasks (Go's GetDelayedTasks is not implemented for AMQP either)");
  }

  // ------------------------------------------------------------------------------------------
  // lifecycle

  private void checkOpen() {
    if (closed) {
      throw new MachineryException("the AMQP broker is closed");
    }
  }

  /**
   * Stops every consumer (their unsettled messages return to RabbitMQ) and closes both connections.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (AmqpConsumer consumer : running) {
      consumer.brokerClosed();
    }
    scheduler.shutdownNow();
    inspector.close();
    consumers.close();
    if (ownsPublisher) {
      publisher.close();
    }
  }

  @Override
  public String toString() {
    return "AmqpBroker{" + publisher.urls() + ", exchange=" + config.amqp().exchange() + "}";
  }

  /** Builds an {@link AmqpBroker}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Clock clock = Clock.systemUTC();
    private AmqpConnectionOptions.Builder options = AmqpConnectionOptions.builder();
    private @Nullable AmqpClient client;
    private @Nullable String managementUrl;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
      // AmqpConfig itself refuses an empty exchange or exchange type
      if (config.defaultQueue().isEmpty()) {
        throw new IllegalArgumentException("default_queue must not be empty");
      }
      AmqpUrl.parseAll(config.broker(), config.multipleBrokerSeparator());
      if (config.maxMessageBytes() > AmqpClient.MAX_INBOUND_BODY_BYTES) {
        throw new IllegalArgumentException(
            "max_message_bytes of "
                + config.maxMessageBytes()
                + " is above "
                + AmqpClient.MAX_INBOUND_BODY_BYTES
                + ", the largest message RabbitMQ can carry");
      }
      options.tls(config.tls());
    }

    /** The clock ETAs are compared with; default UTC system clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * How connections are made (TLS, publish timeout, factory customizer), at once; {@code
     * Config.tls()} still switches TLS on.
     */
    public Builder options(AmqpConnectionOptions value) {
      options =
          Objects.requireNonNull(value, "options").toBuilder().tls(value.tls() || config.tls());
      return this;
    }

    /**
     * Publishes (and declares) through {@code value}, for example the client an {@code AmqpBackend}
     * uses too, so one connection carries both. The caller owns it and closes it after the broker.
     * Consumers still get a connection of their own, made with the client's options.
     */
    public Builder client(AmqpClient value) {
      client = Objects.requireNonNull(value, "client");
      return options(value.options());
    }

    /**
     * How long a publish may take, waiting for a lost connection to come back included; default 30
     * s.
     */
    public Builder publishTimeout(Duration value) {
      options.publishTimeout(value);
      return this;
    }

    /**
     * The TLS context for {@code amqps://} URLs (default: the JVM's, with hostname verification).
     */
    public Builder sslContext(SSLContext value) {
      options.sslContext(value);
      return this;
    }

    /**
     * Adjusts the client library's connection factories last (credentials provider, metrics, NIO).
     */
    public Builder connectionFactoryCustomizer(Consumer<ConnectionFactory> value) {
      options.connectionFactoryCustomizer(value);
      return this;
    }

    /**
     * RabbitMQ's HTTP management API, which the {@linkplain AmqpBroker#inspector() inspector} reads
     * to find delay and dead-letter queues ({@code http://host:15672}; user info in the URL
     * replaces the AMQP credentials). Default: the first broker URL's host on port 15672 ({@code
     * https} and 15671 for {@code amqps}) with its credentials and vhost.
     *
     * @throws IllegalArgumentException when it is not an http(s) URL with a host
     */
    public Builder managementUrl(String value) {
      RabbitManagement.forUrl(
          AmqpUrl.parse("amqp://localhost"), Objects.requireNonNull(value, "managementUrl"));
      managementUrl = value;
      return this;
    }

    AmqpConnectionOptions options() {
      return options.build();
    }

    public AmqpBroker build() {
      return new AmqpBroker(this);
    }
  }

  /**
   * The provider that lets {@link io.machinery.Machinery#connect(io.machinery.config.Config,
   * io.machinery.spi.ComponentProvider...)} build this component from a config's URL (schemes
   * chosen by URL only, never by a class name).
   *
   * @return the provider, stateless and shared
   */
  public static io.machinery.spi.ComponentProvider provider() {
    return AmqpBrokerProvider.INSTANCE;
  }
}
