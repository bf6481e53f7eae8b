package io.machinery.broker.gcppubsub;

import com.google.api.gax.core.CredentialsProvider;
import com.google.api.gax.rpc.ApiException;
import com.google.api.gax.rpc.StatusCode;
import com.google.api.gax.rpc.TransportChannelProvider;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.ReceivedMessage;
import com.google.pubsub.v1.Subscription;
import io.machinery.ConsumerRefusedException;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.internal.Causes;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import io.machinery.wire.BodyPreview;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go Machinery's GCP Pub/Sub broker (spec §3.5): broker URL {@code
 * gcppubsub://PROJECT/SUBSCRIPTION}, the topic is the task's routing key (default: {@code
 * DefaultQueue}), the message data is Go's JSON with no attributes, so Go and Java senders and
 * workers share topics and subscriptions.
 *
 * <pre>{@code
 * Config config = Config.builder().broker("gcppubsub://my-project/machinery_tasks").build();
 * try (GcpPubSubBroker broker = GcpPubSubBroker.create(config);     // PUBSUB_EMULATOR_HOST, else Google's endpoint
 *      Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
 *   server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)));
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Resources.</b> As in Go, the topic {@code DefaultQueue} and the URL's subscription must
 *       exist; so must the delay topic and subscription ({@value #DEFAULT_DELAY_TOPIC}) and the
 *       dead-letter topic and subscription ({@value #DEFAULT_DEAD_LETTER_TOPIC}). {@link
 *       Builder#build()} checks them and names every missing one with the command that creates it,
 *       or creates them with {@link Builder#createMissing}. A worker of a custom queue {@code Q}
 *       consumes the subscription named {@code Q} of topic {@code Q}.
 *   <li><b>Consuming</b> ({@link PubSubConsumer}): synchronous pull bounded by the worker's free
 *       slots, leases extended up to {@code GCPPubSub.MaxExtension}, acknowledged only when the
 *       worker settles the message (after the task's final state is stored), nacked when it must
 *       come back. Unlike Go, a malformed message is never both nacked and processed (spec §8): the
 *       worker dead-letters it to {@value #DEFAULT_DEAD_LETTER_TOPIC} with the reason in the
 *       {@value #DEAD_LETTER_REASON_ATTRIBUTE} attribute. A message over {@code MaxMessageBytes} is
 *       dead-lettered as a {@link BodyPreview} (its first bytes, with its size and SHA-256 as
 *       attributes), never whole; one within the limit whole, so the inspector can requeue it (it
 *       never requeues a preview).
 *   <li><b>Size limit.</b> A pull returns each message with its data (Pub/Sub gives no size to read
 *       first), so an oversized message is in memory before the worker can refuse it. Pub/Sub
 *       bounds that: a message is at most 10 MB, and a consumer holds at most {@code max(prefetch,
 *       concurrency)} messages.
 *   <li><b>Delivery counts</b> (the worker's poison limit, {@code maxDeliveries}). Pub/Sub counts
 *       delivery attempts only on a subscription with a dead-letter policy; there a message that
 *       kills or stalls every worker is dead-lettered after {@code maxDeliveries} across all
 *       workers and restarts. Without one, the broker counts the deliveries it sees itself ({@link
 *       LocalDeliveryCounts}): that bounds a message this process keeps getting back (nacked, a
 *       lapsed lease, a task that stalls), but not one that crashes the process each time, and each
 *       process counts on its own. Give production subscriptions a dead-letter policy (its {@code
 *       maxDeliveryAttempts} then also bounds them server-side).
 *   <li><b>Delays</b> ({@link DelayPump}): ETAs and retry delays really delay, durably, in Pub/Sub
 *       itself; Go's {@code DelayThreshold} only delayed the sending process's batch. Go workers
 *       never see a delayed task early: it reaches the task topic only when due, moved by any
 *       running Java broker that consumes or has sent a delayed task (so a deployment whose workers
 *       are all Go needs one Java broker running).
 *   <li><b>Client.</b> Two generated gRPC stubs (publisher, subscriber); against the emulator (or
 *       the pstest fake) a plaintext channel to {@code PUBSUB_EMULATOR_HOST} without credentials. A
 *       user can pass their own stubs (Go's {@code GCPPubSub.Client}), or a channel provider and
 *       credentials.
 * </ul>
 *
 * <p>Thread-safe. Whoever builds it closes it; stubs passed in by the user are left open.
 *
 * <p>Size: Go's broker interface on Pub/Sub around one set of stubs (publish, the existence checks,
 * the delay and dead-letter topics, the inspector's wiring, the builder); the consumer, the settler
 * and the delay pump are classes of their own.
 */
public final class GcpPubSubBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(GcpPubSubBroker.class);

  /** The URL scheme, as in Go's v1 factory. */
  public static final String SCHEME = "gcppubsub://";

  public static final String DEFAULT_DELAY_TOPIC = "machinery_delays";
  public static final String DEFAULT_DEAD_LETTER_TOPIC = "machinery_dead_letters";

  /** Attribute of a delayed message: when it is due, in epoch milliseconds. */
  public static final String ETA_ATTRIBUTE = "machinery_eta_ms";

  /** Attribute of a delayed message: the task topic it goes to when due. */
  public static final String TOPIC_ATTRIBUTE = "machinery_topic";

  /** Attribute of a dead letter: why it could not be handled. */
  public static final String DEAD_LETTER_REASON_ATTRIBUTE = "machinery_dead_letter_reason";

  /** Attribute of a dead letter: the topic and subscription it came from. */
  public static final String DEAD_LETTER_SOURCE_ATTRIBUTE = "machinery_dead_letter_source";

  /** Pub/Sub's limit for an attribute value, in bytes. */
  static final int MAX_ATTRIBUTE_BYTES = 1024;

  private final Config config;
  private final Clock clock;
  private final String subscription;
  private final PubSubClient client;
  private final boolean createMissing;
  private final int ackDeadlineSeconds;
  private final int prefetch;
  private final String delayTopic;
  private final String deadLetterTopic;
  private final Settler settler;
  private final LocalDeliveryCounts deliveryCounts = new LocalDeliveryCounts();

  /**
   * Lease extensions and timers: a platform thread, since task bodies run on virtual threads, which
   * a computing task never gives up, and a virtual scheduler would wait for a carrier while the ack
   * deadlines lapse (issue 12, F5). The consumers' pull loops, the settler and the delay pump are
   * platform threads for the same reason. Nothing on it waits for Pub/Sub: an extension tick only
   * sends its request (the answer is handled when it comes), and a held delayed task that falls due
   * is handed to {@link #due}, so neither a slow Pub/Sub nor many delayed tasks falling due at once
   * delay another consumer's extensions.
   */
  private final ScheduledExecutorService scheduler;

  /**
   * Runs due actions (held delayed tasks falling due, and the batched publishes that move them) off
   * {@link #scheduler}: one platform thread, since each action only starts asynchronous publishes,
   * waiting at most for a place in the delay pump's {@link PublishWindow}; the actions due
   * meanwhile queue here. A burst of any size thus costs neither a thread per task nor more
   * requests in flight than the window.
   */
  private final ExecutorService due;

  private final Set<PubSubConsumer> running = ConcurrentHashMap.newKeySet();
  private @Nullable DelayPump pump;
  private volatile boolean closed;

  private GcpPubSubBroker(Builder b, String project, String subscription) {
    this.config = b.config;
    this.clock = b.clock;
    this.subscription = subscription;
    this.createMissing = b.createMissing;
    this.ackDeadlineSeconds = (int) b.ackDeadline.toSeconds();
    this.prefetch = b.prefetch;
    this.delayTopic = b.delayTopic;
    this.deadLetterTopic = b.deadLetterTopic;
    this.client =
        b.publisher != null && b.subscriber != null
            ? new PubSubClient(project, b.publisher, b.subscriber, List.of())
            : PubSubClient.connect(
                project,
                b.emulatorHost,
                b.channelProvider,
                b.credentialsProvider,
                b.endpoint,
                b.publishTimeout);
    this.settler = new Settler(client);
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("machinery-pubsub-scheduler").factory());
    this.due =
        Executors.newSingleThreadExecutor(
            Thread.ofPlatform().daemon().name("machinery-pubsub-due").factory());
  }

  /**
   * A broker for {@code config}'s {@code gcppubsub://PROJECT/SUBSCRIPTION} URL, on the emulator
   * named by {@code PUBSUB_EMULATOR_HOST} when it is set and on Google's endpoint with Application
   * Default Credentials otherwise.
   *
   * @throws IllegalArgumentException when the URL is not a Pub/Sub URL
   * @throws MachineryException when a topic or subscription is missing (see {@link
   *     Builder#createMissing}) or Pub/Sub cannot be reached
   */
  public static GcpPubSubBroker create(Config config) {
    return builder(config).build();
  }

  /**
   * A builder for {@code config}'s {@code gcppubsub://PROJECT/SUBSCRIPTION} URL.
   *
   * @throws IllegalArgumentException when the URL is not a Pub/Sub URL
   */
  public static Builder builder(Config config) {
    return new Builder(config);
  }

  // ------------------------------------------------------------------------------------------
  // resources

  /**
   * Checks (or creates) every topic and subscription the broker needs; names all that are missing.
   */
  private void checkResources() {
    Map<String, String> needed = new LinkedHashMap<>(); // subscription -> its topic
    needed.put(subscription, config.defaultQueue());
    needed.put(delayTopic, delayTopic);
    needed.put(deadLetterTopic, deadLetterTopic);
    client.require(needed, createMissing, ackDeadlineSeconds);
  }

  /**
   * The subscription a worker of {@code queue} consumes: the URL's for the default queue, else the
   * queue's name.
   */
  String subscriptionFor(String queue) {
    return queue.isEmpty() || queue.equals(config.defaultQueue()) ? subscription : queue;
  }

  private static String topicFor(String queue, Config config) {
    return queue.isEmpty() ? config.defaultQueue() : queue;
  }

  // ------------------------------------------------------------------------------------------
  // publishing

  @Override
  public String routingKeyFor(Signature signature) {
    return signature.routingKey().isEmpty() ? config.defaultQueue() : signature.routingKey();
  }

  /** To topic {@code routingKey} now, or to the delay topic when the ETA is in the future. */
  @Override
  public void publish(Signature signature, byte[] message) {
    checkOpen();
    String topic = routingKeyFor(signature);
    OffsetDateTime eta = signature.eta();
    long due = eta == null ? 0 : eta.toInstant().toEpochMilli();
    if (due > clock.millis()) {
      publishDelayed(topic, message, due);
    } else {
      publishNow(topic, message);
    }
  }

  /**
   * Publishes Go's message (data only, no attributes) to a task topic, creating it (and its
   * subscription) first if allowed.
   */
  void publishNow(String topic, byte[] message) {
    if (createMissing && !client.knownTopic(topic)) {
      client.require(Map.of(subscriptionFor(topic), topic), true, ackDeadlineSeconds);
    }
    try {
      publishCreatingIfGone(topic, subscriptionFor(topic), message, Map.of());
    } catch (MachineryException e) {
      if (e.getCause() instanceof com.google.api.gax.rpc.NotFoundException) {
        throw new DelayPump.MissingTopicException(String.valueOf(e.getMessage()));
      }
      throw e;
    }
  }

  /**
   * Starts publishing Go's messages (data only, no attributes) to a task topic in one request
   * (creating the topic first, as {@link #publishNow} does, when allowed and not yet seen) and
   * returns without waiting for Pub/Sub: the future holds their IDs once it accepted them. A topic
   * that turns out to be gone is not created again here: the caller falls back to {@link
   * #publishNow}.
   */
  com.google.api.core.ApiFuture<List<String>> startPublishNow(
      String topic, List<PubsubMessage> messages) {
    if (createMissing && !client.knownTopic(topic)) {
      client.require(Map.of(subscriptionFor(topic), topic), true, ackDeadlineSeconds);
    }
    return client.publishAsync(topic, messages);
  }

  /** Publishes to the delay topic, due on {@code topic} at {@code dueMillis}. */
  void publishDelayed(String topic, byte[] message, long dueMillis) {
    publishCreatingIfGone(
        delayTopic,
        delayTopic,
        message,
        Map.of(ETA_ATTRIBUTE, Long.toString(dueMillis), TOPIC_ATTRIBUTE, topic));
    startDelayPump(); // a sender whose tasks only Go workers run moves its delayed tasks itself
  }

  /**
   * Publishes to {@code topic}; when Pub/Sub answers that the topic is not there, though this
   * broker had seen it, and the broker may create what is missing, creates it with {@code
   * subscription} (before publishing, so the message has somewhere to go) and publishes once more.
   */
  private void publishCreatingIfGone(
      String topic, String subscription, byte[] message, Map<String, String> attributes) {
    try {
      client.publish(topic, message, attributes);
    } catch (MachineryException e) {
      if (!createMissing || !(e.getCause() instanceof com.google.api.gax.rpc.NotFoundException)) {
        throw e;
      }
      client.forgetTopic(topic);
      client.require(Map.of(subscription, topic), true, ackDeadlineSeconds);
      client.publish(topic, message, attributes);
    }
  }

  /**
   * After Pub/Sub answered that {@code subscription} (of {@code topic}) is not there, though this
   * broker had it: creates both again when the broker may create what is missing (someone deleted
   * them, or a test server restarted empty), so a consumer or the delay pump pulling from it
   * recovers; else nothing. Never throws: the caller's next pull tells whether it worked.
   */
  void recreateIfGone(String subscription, String topic, Throwable failure) {
    if (!createMissing
        || closed
        || Causes.of(failure).stream()
            .noneMatch(c -> c instanceof com.google.api.gax.rpc.NotFoundException)) {
      return;
    }
    try {
      client.forgetTopic(topic);
      client.require(Map.of(subscription, topic), true, ackDeadlineSeconds);
    } catch (RuntimeException e) {
      log.debug("Could not create {} of topic {} again: {}", subscription, topic, e.toString());
    }
  }

  /** Starts this broker's delay pump once (on the first consumer or the first delayed publish). */
  private synchronized void startDelayPump() {
    if (pump == null && !closed) {
      pump = new DelayPump(this, delayTopic);
    }
  }

  /**
   * Sets a message aside on the dead-letter topic, with the reason and its origin as attributes. A
   * message over {@code MaxMessageBytes} is set aside as a {@link BodyPreview} (its first bytes,
   * with its size and SHA-256 as the {@value BodyPreview#SIZE_KEY} and {@value
   * BodyPreview#SHA256_KEY} attributes); one within the limit whole, so it can be requeued.
   */
  void publishDeadLetter(
      String topic, String fromSubscription, PubsubMessage original, String reason) {
    PubsubMessage letter = deadLetterOf(topic, fromSubscription, original, reason);
    publishCreatingIfGone(
        deadLetterTopic,
        deadLetterTopic,
        letter.getData().toByteArray(),
        letter.getAttributesMap());
  }

  /**
   * The message {@link #publishDeadLetter} sets aside for {@code original}: its data (or a {@link
   * BodyPreview} of it) with its attributes, the reason and its origin.
   */
  PubsubMessage deadLetterOf(
      String topic, String fromSubscription, PubsubMessage original, String reason) {
    Map<String, String> attributes = new LinkedHashMap<>(original.getAttributesMap());
    attributes.put(DEAD_LETTER_REASON_ATTRIBUTE, truncate(reason));
    attributes.put(
        DEAD_LETTER_SOURCE_ATTRIBUTE,
        truncate("topic " + topic + ", subscription " + fromSubscription));
    byte[] data = original.getData().toByteArray();
    if (data.length > config.maxMessageBytes()) {
      BodyPreview preview = BodyPreview.of(data);
      attributes.putAll(preview.attributes());
      data = preview.preview();
    }
    return PubsubMessage.newBuilder()
        .setData(com.google.protobuf.ByteString.copyFrom(data))
        .putAllAttributes(attributes)
        .build();
  }

  static String truncate(String value) {
    if (value.getBytes(StandardCharsets.UTF_8).length <= MAX_ATTRIBUTE_BYTES) {
      return value;
    }
    String cut = value.substring(0, Math.min(value.length(), MAX_ATTRIBUTE_BYTES - 4));
    while (cut.getBytes(StandardCharsets.UTF_8).length > MAX_ATTRIBUTE_BYTES - 4) {
      cut = cut.substring(0, cut.length() - 1);
    }
    return cut + "…";
  }

  // ------------------------------------------------------------------------------------------
  // consuming

  /**
   * Starts a pull loop on the subscription of {@code queue} (see {@link #subscriptionFor}) and,
   * once per broker, the delay pump.
   *
   * @throws MachineryException when a custom queue's subscription is missing and may not be created
   */
  @Override
  public Consumption startConsuming(String consumerTag, String queue, DeliveryHandler handler) {
    if (closed) {
      // not a MachineryException: a worker tries those again, and a closed broker never reopens
      throw new IllegalStateException("the Pub/Sub broker is closed");
    }
    String topic = topicFor(queue, config);
    String sub = subscriptionFor(topic);
    Subscription existing;
    try {
      existing = client.subscription(sub);
      if (existing == null) {
        try {
          client.require(Map.of(sub, topic), createMissing, ackDeadlineSeconds);
        } catch (PubSubClient.MissingResourcesException missing) {
          // named with the commands that create them: until someone does, trying again is in vain
          throw new ConsumerRefusedException(String.valueOf(missing.getMessage()), missing);
        } catch (MachineryException failed) {
          if (failed.getCause() instanceof ApiException e && refusedForGood(e)) {
            throw new ConsumerRefusedException("refused: " + failed.getMessage(), failed);
          }
          throw failed; // unreachable, say: the worker tries again
        }
        existing = Objects.requireNonNull(client.subscription(sub));
      }
    } catch (ApiException e) {
      String what = "Pub/Sub subscription " + sub + ": " + e.getMessage();
      throw refusedForGood(e)
          ? new ConsumerRefusedException("refused: " + what, e)
          : new MachineryException("could not read or create the " + what, e);
    }
    int deadline = existing.getAckDeadlineSeconds() > 0 ? existing.getAckDeadlineSeconds() : 10;
    PubSubConsumer consumer =
        new PubSubConsumer(
            this,
            consumerTag,
            topic,
            sub,
            handler,
            prefetch,
            deadline,
            config.gcpPubSub().maxExtension());
    running.add(consumer);
    consumer.start();
    startDelayPump();
    return consumer;
  }

  /**
   * Whether Pub/Sub refused for a reason that stays until someone changes the project: no
   * permission, or a name it does not take; unavailable, deadline exceeded and the rest may mend.
   */
  static boolean refusedForGood(ApiException e) {
    StatusCode.Code code = e.getStatusCode().getCode();
    return code == StatusCode.Code.PERMISSION_DENIED || code == StatusCode.Code.INVALID_ARGUMENT;
  }

  PubSubClient client() {
    return client;
  }

  Settler settler() {
    return settler;
  }

  LocalDeliveryCounts deliveryCounts() {
    return deliveryCounts;
  }

  Clock clock() {
    return clock;
  }

  String delayTopic() {
    return delayTopic;
  }

  /** The dead-letter topic, whose subscription has the same name. */
  String deadLetterTopic() {
    return deadLetterTopic;
  }

  /** The topic of {@code queue} (the default queue's when empty). */
  String topicOf(String queue) {
    return topicFor(queue, config);
  }

  void forget(PubSubConsumer consumer) {
    running.remove(consumer);
  }

  /**
   * Runs {@code action} after {@code delayMillis} on the due-thread ({@link #due}), so an action
   * that waits never holds back the scheduler (and with it the lease extensions).
   */
  void schedule(Runnable action, long delayMillis) {
    try {
      scheduler.schedule(
          () -> {
            try {
              due.execute(action);
            } catch (RejectedExecutionException e) {
              log.debug("Broker closed; not running {}", action);
            }
          },
          delayMillis,
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      log.debug("Broker closed; not scheduling {}", action);
    }
  }

  @Nullable ScheduledFuture<?> scheduleAtFixedRate(Runnable action, long periodMillis) {
    try {
      return scheduler.scheduleAtFixedRate(
          action, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      return null;
    }
  }

  // ------------------------------------------------------------------------------------------
  // inspection

  /**
   * The tasks waiting on the subscription of {@code queue}, oldest published first: pulled without
   * acknowledgement (up to 10,000) and all handed back at once, malformed ones included. While they
   * are read they are not delivered to workers; on a subscription with a dead-letter policy each
   * read counts as a delivery attempt.
   */
  @Override
  public List<Signature> pendingTasks(String queue) {
    checkOpen();
    String sub = subscriptionFor(topicFor(queue, config));
    List<ReceivedMessage> pulled = client.peek(sub, 10_000);
    List<Signature> tasks = new ArrayList<>(pulled.size());
    pulled.stream()
        .sorted(PubSubConsumer.MESSAGE_ORDER)
        .forEach(
            m -> {
              try {
                tasks.add(WireCodec.decodeSignature(m.getMessage().getData().toByteArray()));
              } catch (MalformedMessageException e) {
                log.debug("Pending message on {} is not a task: {}", sub, e.getMessage());
              }
            });
    return tasks;
  }

  /**
   * Pages of pending tasks and dead letters, dead-letter repair and purge; no sizes (Pub/Sub's API
   * has no counts) and no delayed tasks. See {@link PubSubInspector}.
   */
  @Override
  public java.util.Optional<io.machinery.spi.Inspector> inspector() {
    return java.util.Optional.of(new PubSubInspector(this));
  }

  /** Not supported: delayed messages are leased by the delay pumps, so they cannot be listed. */
  @Override
  public List<Signature> delayedTasks() {
    throw new UnsupportedOperationException(
        "the Pub/Sub broker cannot list delayed tasks (Go's GetDelayedTasks is"
            + " not implemented for Pub/Sub either)");
  }

  // ------------------------------------------------------------------------------------------
  // lifecycle

  private void checkOpen() {
    if (closed) {
      throw new MachineryException("the Pub/Sub broker is closed");
    }
  }

  /**
   * Stops every consumer and the delay pump (their leased messages go back to Pub/Sub), then the
   * client.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (PubSubConsumer consumer : running) {
      consumer.brokerClosed();
    }
    DelayPump p;
    synchronized (this) {
      p = pump;
    }
    if (p != null) {
      p.close();
    }
    settler.close();
    scheduler.shutdownNow();
    due.shutdownNow();
    client.close();
  }

  @Override
  public String toString() {
    return "GcpPubSubBroker{project=" + client.project() + ", subscription=" + subscription + "}";
  }

  /** Builds a {@link GcpPubSubBroker}. Not thread-safe. */
  public static final class Builder {
    public static final Duration DEFAULT_ACK_DEADLINE = Duration.ofSeconds(30);
    public static final int DEFAULT_PREFETCH = 3;

    /** Go's Pub/Sub client's publish timeout (its {@code DefaultPublishSettings.Timeout}). */
    public static final Duration DEFAULT_PUBLISH_TIMEOUT = Duration.ofSeconds(60);

    private final Config config;
    private final String project;
    private final String subscription;
    private Clock clock = Clock.systemUTC();
    private @Nullable PublisherStub publisher;
    private @Nullable SubscriberStub subscriber;
    private @Nullable TransportChannelProvider channelProvider;
    private @Nullable CredentialsProvider credentialsProvider;
    private @Nullable String endpoint;
    private @Nullable String emulatorHost = System.getenv("PUBSUB_EMULATOR_HOST");
    private boolean createMissing;
    private Duration ackDeadline = DEFAULT_ACK_DEADLINE;
    private Duration publishTimeout = DEFAULT_PUBLISH_TIMEOUT;
    private int prefetch = DEFAULT_PREFETCH;
    private String delayTopic = DEFAULT_DELAY_TOPIC;
    private String deadLetterTopic = DEFAULT_DEAD_LETTER_TOPIC;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
      String url = config.broker();
      if (!url.startsWith(SCHEME)) {
        throw new IllegalArgumentException(
            "a Pub/Sub broker URL looks like gcppubsub://PROJECT/SUBSCRIPTION, was '" + url + "'");
      }
      String rest = url.substring(SCHEME.length());
      int slash = rest.indexOf('/');
      if (slash <= 0 || slash == rest.length() - 1 || rest.indexOf('/', slash + 1) >= 0) {
        throw new IllegalArgumentException(
            "a Pub/Sub broker URL looks like gcppubsub://PROJECT/SUBSCRIPTION, was '" + url + "'");
      }
      this.project = rest.substring(0, slash);
      this.subscription = rest.substring(slash + 1);
    }

    /** The clock ETAs are compared with; default UTC system clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * Ready-made stubs (Go's {@code GCPPubSub.Client}): the broker uses them as they are and leaves
     * them open on close.
     */
    public Builder client(PublisherStub publisherStub, SubscriberStub subscriberStub) {
      publisher = Objects.requireNonNull(publisherStub, "publisherStub");
      subscriber = Objects.requireNonNull(subscriberStub, "subscriberStub");
      return this;
    }

    /**
     * The gRPC channel to use (instead of one to {@code PUBSUB_EMULATOR_HOST} or Google's
     * endpoint).
     */
    public Builder channelProvider(TransportChannelProvider value) {
      channelProvider = Objects.requireNonNull(value, "channelProvider");
      return this;
    }

    /** The credentials (default: Application Default Credentials, none against an emulator). */
    public Builder credentialsProvider(CredentialsProvider value) {
      credentialsProvider = Objects.requireNonNull(value, "credentialsProvider");
      return this;
    }

    /** Another endpoint than {@code pubsub.googleapis.com:443} (a regional one, say). */
    public Builder endpoint(String value) {
      endpoint = Objects.requireNonNull(value, "endpoint");
      return this;
    }

    /**
     * The emulator's {@code host:port}, reached in plaintext without credentials; default the
     * {@code PUBSUB_EMULATOR_HOST} environment variable, as Google's clients do. An empty value
     * means Google's endpoint.
     */
    public Builder emulatorHost(String value) {
      emulatorHost = Objects.requireNonNull(value, "emulatorHost");
      return this;
    }

    /**
     * Whether missing topics and subscriptions are created (at build, when a worker of a custom
     * queue starts, and when a task is sent to a new routing key) instead of being an error;
     * default false, as in Go.
     */
    public Builder createMissing(boolean value) {
      createMissing = value;
      return this;
    }

    /**
     * The ack deadline of subscriptions this broker creates; default 30 s (Pub/Sub allows 10 s to
     * 600 s).
     */
    public Builder ackDeadline(Duration value) {
      if (value.toSeconds() < 10 || value.toSeconds() > 600) {
        throw new IllegalArgumentException(
            "ackDeadline must be between 10 s and 600 s, was " + value);
      }
      ackDeadline = value;
      return this;
    }

    /**
     * How long a publish (a sent task, a delayed task's hand-over, a dead letter) may take, retries
     * included, before it fails; default {@link #DEFAULT_PUBLISH_TIMEOUT}, as in Go (Google's Java
     * library alone retries for up to 10 minutes). Stubs passed to {@link #client} keep their own
     * settings.
     */
    public Builder publishTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("publishTimeout must be positive, was " + value);
      }
      publishTimeout = value;
      return this;
    }

    /**
     * How many messages a consumer may hold leased at once when its worker has fewer slots: it
     * holds {@code max(prefetch, concurrency)}; default {@value #DEFAULT_PREFETCH} (Go's AMQP
     * default).
     */
    public Builder prefetch(int value) {
      if (value < 1 || value > PubSubConsumer.MAX_PULL) {
        throw new IllegalArgumentException(
            "prefetch must be between 1 and " + PubSubConsumer.MAX_PULL + ", was " + value);
      }
      prefetch = value;
      return this;
    }

    /**
     * The topic (and subscription, same name) delayed messages wait on; default {@value
     * #DEFAULT_DELAY_TOPIC}.
     */
    public Builder delayTopic(String value) {
      delayTopic = requireName(value, "delayTopic");
      return this;
    }

    /**
     * The topic (and subscription, same name, so dead letters are kept) malformed messages go to;
     * default {@value #DEFAULT_DEAD_LETTER_TOPIC}.
     */
    public Builder deadLetterTopic(String value) {
      deadLetterTopic = requireName(value, "deadLetterTopic");
      return this;
    }

    private static String requireName(String value, String what) {
      if (Objects.requireNonNull(value, what).isEmpty()) {
        throw new IllegalArgumentException(what + " must not be empty");
      }
      return value;
    }

    /**
     * Connects and checks that every topic and subscription exists (or creates them, see {@link
     * #createMissing}).
     *
     * @throws MachineryException when one is missing (the message lists them all) or Pub/Sub cannot
     *     be reached
     */
    public GcpPubSubBroker build() {
      if (delayTopic.equals(deadLetterTopic)
          || delayTopic.equals(subscription)
          || deadLetterTopic.equals(subscription)) {
        throw new IllegalArgumentException(
            "the task subscription ("
                + subscription
                + "), delayTopic ("
                + delayTopic
                + ") and deadLetterTopic ("
                + deadLetterTopic
                + ") must be three different names");
      }
      GcpPubSubBroker broker = new GcpPubSubBroker(this, project, subscription);
      try {
        broker.checkResources();
      } catch (RuntimeException e) {
        broker.close();
        throw e;
      }
      return broker;
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
    return GcpPubSubBrokerProvider.INSTANCE;
  }
}
