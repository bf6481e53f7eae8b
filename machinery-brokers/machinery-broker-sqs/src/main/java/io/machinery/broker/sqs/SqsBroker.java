package io.machinery.broker.sqs;

import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.FairShares;
import io.machinery.wire.BodyPreview;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;
import software.amazon.awssdk.services.sqs.model.SendMessageRequest;

/**
 * Go Machinery's SQS broker ({@code v2/brokers/sqs}), standard and FIFO queues, on AWS SDK v2.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Go's wire.</b> A queue's URL is the broker URL + "/" + the queue name; the message body
 *       is the task's JSON, nothing else (no message attributes), so Go and Java workers share
 *       queues either way. On a FIFO queue ({@code .fifo}) the deduplication id is the task UUID (a
 *       retry's: the UUID and its attempt, see {@link #deduplicationId}, or SQS would drop a retry
 *       sent within five minutes of the first send) and the group id is {@code
 *       BrokerMessageGroupId}, which is required.
 *   <li><b>Delivery.</b> A message is deleted only after the worker stored the task's final state
 *       (Go deletes after {@code Process} too). While a task runs, a heartbeat keeps its message
 *       invisible ({@link SqsConsumer}); when the worker dies the heartbeat stops and SQS hands the
 *       message out again after the visibility timeout: at-least-once.
 *   <li><b>ETA.</b> Standard queues delay a message by {@code DelaySeconds}, rounded up (Go
 *       truncates, which can deliver up to a second early), at most SQS's 15 minutes. A message
 *       received before its ETA is never handed to the worker: on a standard queue it is sent again
 *       with the remaining delay (up to 15 minutes per hop) and the received copy deleted; on a
 *       FIFO queue, where messages cannot be delayed one by one and a re-send would be dropped as a
 *       duplicate, it is kept invisible until its ETA (which holds back its message group, as FIFO
 *       order requires). So any ETA works and no task runs early, retries included. A Go worker on
 *       the same queue ignores ETAs (Go's SQS broker does) and runs such a task when SQS hands it
 *       over, after at most 15 minutes.
 *   <li><b>Bad input.</b> A message the worker cannot read is sent to the dead-letter queue {@code
 *       <queue>_dead_letters} (FIFO: {@code <name>_dead_letters.fifo}), created on first use, with
 *       the reason and source queue as message attributes, then deleted: it never blocks the queue.
 *       A message over {@code MaxMessageBytes} is dead-lettered as a {@link BodyPreview} (its first
 *       bytes, with its size and SHA-256 as attributes), never whole; one within the limit whole,
 *       so the inspector can requeue it (it never requeues a preview).
 *   <li><b>Size limit.</b> SQS hands out a message only with its body (there is no size to read
 *       first), so an oversized message is in memory before the worker can refuse it. SQS itself
 *       bounds that: a message is at most 1 MiB (256 KiB on older queues), far below the default
 *       {@code MaxMessageBytes}, and a receive brings at most ten.
 *   <li><b>Delivery counts</b> (the worker's poison limit, {@code maxDeliveries}) are SQS's {@code
 *       ApproximateReceiveCount}: kept by SQS, so they hold across workers and restarts, and a
 *       message that kills or stalls every worker is dead-lettered once it passes the limit. Every
 *       receive counts: a worker's death or shutdown with the message in flight, a requeue that
 *       only hides the message again, and, on a FIFO queue, each hold of up to 12 hours until an
 *       ETA (so a FIFO task due more than {@code maxDeliveries} such holds ahead, about ten days at
 *       the default 20, would be taken for poison). A message re-sent (a standard queue's ETA hop,
 *       a requeue with a replacement) is a new message whose count starts again; the worker counts
 *       its own requeues in a header instead. ElasticMQ keeps the same count.
 *   <li><b>Inspection.</b> SQS cannot list a queue without receiving (and so hiding and counting)
 *       its messages, so {@link #pendingTasks} and {@link #delayedTasks} throw {@link
 *       UnsupportedOperationException}, as Go's "Not implemented".
 *   <li><b>Every settling and inspecting call is bounded.</b> The calls that settle a message
 *       (deletes, a requeue's or dead letter's send, visibility changes) and the heartbeat's
 *       extensions are bounded by the client's own {@code apiCallTimeout} when it sets one, else
 *       each by {@link #DEFAULT_CALL_TIMEOUT} (the SDK's per-request {@code apiCallTimeout}, which
 *       also cuts a stall its socket timeout does not see: a response that trickles in, a request
 *       held before it is sent). A settlement whose call is cut fails as a failed call does: the
 *       message leaves the heartbeat and SQS hands it out again after its visibility timeout (the
 *       task may run again: at-least-once), the failure is logged with the task and message ids,
 *       and the worker's thread, slot and the consumer's bookkeeping are free. Without the bound a
 *       call that never answers kept its message hidden, by the heartbeat, for as long as the
 *       consumer lived. Receives are not bounded this way: a receive cut short loses what SQS
 *       already hid. The {@link SqsInspector}'s calls (counters, listings, dead-letter repairs,
 *       purge; its short receives included) are bounded by the same rule, so a call that never
 *       answers fails the dashboard's read or the command line with a {@link MachineryException} at
 *       the bound instead of holding it for as long as the call hangs.
 *   <li><b>Queues</b> are not created unless {@link Builder#createQueues(boolean)} asks for it (Go
 *       expects them to exist); only the dead-letter queues, this broker's own, are created when
 *       first needed.
 * </ul>
 *
 * <p>Thread-safe. Whoever builds a broker closes it; it closes the {@link SqsClient} only when it
 * built it. Closing waits for its consumers' receives in flight (at most the long-poll wait plus 5
 * s, see {@code SqsConsumer}): a receive cut short would still take messages at the server and hide
 * them for the visibility timeout.
 */
public final class SqsBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(SqsBroker.class);

  /** SQS's longest per-message delay. */
  static final Duration MAX_DELAY = Duration.ofMinutes(15);

  /** Message attribute holding why a message was dead-lettered. */
  public static final String DEAD_LETTER_REASON_ATTRIBUTE = "machinery_dead_letter_reason";

  /** Message attribute naming the queue a dead letter came from. */
  public static final String DEAD_LETTER_SOURCE_ATTRIBUTE = "machinery_source_queue";

  /**
   * The longest one bounded SQS call (one that settles a message or extends its visibility, or an
   * inspector's) may take when the client sets no {@code apiCallTimeout} of its own: well above a
   * call with the SDK's default retries and back-off, so it cuts a call that hangs, not a slow one.
   */
  static final Duration DEFAULT_CALL_TIMEOUT = Duration.ofMinutes(1);

  static final String FIFO_GROUP_ERROR =
      "please specify BrokerMessageGroupId attribute for task Signature when submitting a task to FIFO queue";

  private final Config config;
  private final SqsClient client;
  private final boolean ownsClient;
  private final Clock clock;
  private final boolean createQueues;
  private final boolean fairness;
  private final Set<String> createdQueues = ConcurrentHashMap.newKeySet();
  private final Set<SqsConsumer> consumers = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean closed = new AtomicBoolean();

  /** The bound of one bounded call: the client's {@code apiCallTimeout}, else the builder's. */
  private final Duration callTimeout;

  /** What bounds a bounded call when the client does not: null when it does. */
  private final @Nullable AwsRequestOverrideConfiguration callBound;

  private SqsBroker(Builder b, SqsClient client, boolean ownsClient) {
    this.config = b.config;
    this.client = client;
    this.ownsClient = ownsClient;
    this.clock = b.clock;
    this.createQueues = b.createQueues;
    this.fairness = b.fairness;
    Duration own = apiCallTimeoutOf(client);
    this.callTimeout = own != null ? own : b.callTimeout;
    this.callBound =
        own != null
            ? null
            : AwsRequestOverrideConfiguration.builder().apiCallTimeout(b.callTimeout).build();
  }

  /** The {@code apiCallTimeout} {@code client} applies to every call; null when none. */
  private static @Nullable Duration apiCallTimeoutOf(SqsClient client) {
    try {
      return client
          .serviceClientConfiguration()
          .overrideConfiguration()
          .apiCallTimeout()
          .orElse(null);
    } catch (RuntimeException e) {
      return null; // a client that cannot tell (a stand-in): bound the calls here
    }
  }

  /**
   * A broker with a client built from {@code config.broker()} (see {@link
   * AwsClients#forSqsBroker}).
   */
  public static SqsBroker create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  Config config() {
    return config;
  }

  SqsClient client() {
    return client;
  }

  Clock clock() {
    return clock;
  }

  /**
   * The longest one bounded call (settling a message, extending one, inspecting) may take (see the
   * class notes).
   */
  Duration callTimeout() {
    return callTimeout;
  }

  /**
   * The request override that bounds a call by {@link #callTimeout()}, for every call that settles
   * a message, extends one or inspects; null when the client's own {@code apiCallTimeout} does.
   */
  @Nullable AwsRequestOverrideConfiguration callBound() {
    return callBound;
  }

  /** Go's queue URL: the broker URL, a slash, the queue name. */
  String queueUrl(String queue) {
    String base = config.broker();
    return (base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + "/" + queue;
  }

  static boolean isFifo(String queue) {
    return queue.endsWith(".fifo");
  }

  static String deadLetterQueue(String queue) {
    return isFifo(queue)
        ? queue.substring(0, queue.length() - ".fifo".length()) + "_dead_letters.fifo"
        : queue + "_dead_letters";
  }

  @Override
  public String routingKeyFor(Signature signature) {
    return config.defaultQueue();
  }

  @Override
  public void publish(Signature signature, byte[] message) {
    if (closed.get()) {
      throw new MachineryException("this SQS broker is closed");
    }
    String queue =
        signature.routingKey().isEmpty() ? config.defaultQueue() : signature.routingKey();
    SendMessageRequest.Builder request =
        SendMessageRequest.builder()
            .queueUrl(queueUrl(queue))
            .messageBody(new String(message, StandardCharsets.UTF_8));
    if (isFifo(queue)) {
      if (signature.brokerMessageGroupId().isEmpty()) {
        throw new IllegalArgumentException(
            FIFO_GROUP_ERROR + " (task " + signature.name() + " " + signature.uuid() + ")");
      }
      // A FIFO queue cannot delay one message: the consumer holds it back until its ETA instead.
      request
          .messageDeduplicationId(deduplicationId(signature))
          .messageGroupId(signature.brokerMessageGroupId());
    } else {
      String fairKey = fairness ? FairShares.keyOf(signature) : null;
      if (fairKey != null) {
        request.messageGroupId(tenantId(fairKey));
      }
      if (signature.eta() != null) {
        int delay = delaySeconds(signature.eta().toInstant(), clock.instant());
        if (delay > 0) {
          request.delaySeconds(delay);
        }
      }
    }
    ensureQueue(queue);
    send(
        request.build(),
        "publish task " + signature.name() + " " + signature.uuid() + " to queue " + queue);
  }

  /**
   * The FIFO {@code MessageDeduplicationId} of a task: its UUID, as Go sends, so a producer's
   * resend of one message within SQS's five minutes is dropped; a retry (which keeps the UUID and
   * carries the worker's {@value io.machinery.Worker#ATTEMPT_HEADER} header, counted up per retry)
   * adds its attempt, so SQS does not drop the retry as a duplicate of the first send while two
   * copies of one attempt (a worker that died after publishing the retry, redelivered and retried
   * again) still count as one. An id SQS would refuse (over 128 characters) is replaced by its
   * SHA-256.
   */
  static String deduplicationId(Signature signature) {
    Object attempt = signature.headers().get(io.machinery.Worker.ATTEMPT_HEADER);
    if (attempt == null) {
      return signature.uuid();
    }
    String id = signature.uuid() + "-attempt-" + String.valueOf(attempt).trim();
    return id.length() <= 128 && id.chars().allMatch(c -> c >= 33 && c <= 126)
        ? id
        : BodyPreview.sha256Hex(id.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The {@code MessageGroupId} of a fairness key on a standard queue: the key itself when SQS takes
   * it (1-128 characters, ASCII letters, digits and punctuation), else {@code "key-"} and the first
   * 32 hex digits of its SHA-256, so every key maps to one tenant.
   */
  static String tenantId(String fairKey) {
    if (fairKey.length() <= 128 && fairKey.chars().allMatch(c -> c >= 33 && c <= 126)) {
      return fairKey;
    }
    return "key-"
        + BodyPreview.sha256Hex(fairKey.getBytes(StandardCharsets.UTF_8)).substring(0, 32);
  }

  /**
   * Seconds until {@code eta}, rounded up so a message is never early, capped at SQS's 15 minutes.
   */
  static int delaySeconds(Instant eta, Instant now) {
    long millis = Duration.between(now, eta).toMillis();
    if (millis <= 0) {
      return 0;
    }
    return (int) Math.min(MAX_DELAY.toSeconds(), (millis + 999) / 1000);
  }

  void send(SendMessageRequest request, String what) {
    try {
      client.sendMessage(request);
    } catch (SdkException e) {
      throw new MachineryException("SQS: could not " + what + ": " + e.getMessage(), e);
    }
  }

  /**
   * Sends {@code body} to the dead-letter queue of {@code queue} with the reason; creates that
   * queue if needed. A body over {@code MaxMessageBytes} is sent as a {@link BodyPreview} (its
   * first bytes, with its size and SHA-256 as the {@value BodyPreview#SIZE_KEY} and {@value
   * BodyPreview#SHA256_KEY} attributes); one within the limit is sent whole, so it can be requeued.
   * A whole body SQS refuses for its size (body and attributes over the dead-letter queue's {@code
   * MaximumMessageSize}, which would refuse it on every try) is sent as a preview instead.
   */
  void deadLetter(
      String queue, String body, String reason, @Nullable String groupId, String messageId) {
    String dlq = deadLetterQueue(queue);
    ensureDeadLetterQueue(dlq);
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    boolean preview = bytes.length > config.maxMessageBytes();
    try {
      sendDeadLetter(queue, dlq, body, reason, groupId, messageId, preview);
    } catch (MachineryException e) {
      if (preview || !refusedForSize(e)) {
        throw e;
      }
      log.warn(
          "SQS: {} refused dead letter of task {} (message {} of {}, {} bytes) for its size ({});"
              + " dead-lettering a preview of it instead",
          dlq,
          taskIdOf(body),
          messageId,
          queue,
          bytes.length,
          e.getMessage());
      sendDeadLetter(queue, dlq, body, reason, groupId, messageId, true);
    }
  }

  private void sendDeadLetter(
      String queue,
      String dlq,
      String body,
      String reason,
      @Nullable String groupId,
      String messageId,
      boolean asPreview) {
    String shortReason = reason.length() > 4000 ? reason.substring(0, 4000) + "..." : reason;
    Map<String, MessageAttributeValue> attributes = new LinkedHashMap<>();
    attributes.put(
        DEAD_LETTER_REASON_ATTRIBUTE,
        stringAttribute(shortReason.isEmpty() ? "(no reason given)" : shortReason));
    attributes.put(DEAD_LETTER_SOURCE_ATTRIBUTE, stringAttribute(queue));
    String kept = body;
    if (asPreview) {
      BodyPreview preview = BodyPreview.of(body.getBytes(StandardCharsets.UTF_8));
      kept = preview.previewText();
      attributes.put(
          BodyPreview.SIZE_KEY,
          MessageAttributeValue.builder()
              .dataType("Number")
              .stringValue(Long.toString(preview.size()))
              .build());
      attributes.put(BodyPreview.SHA256_KEY, stringAttribute(preview.sha256()));
    }
    SendMessageRequest.Builder request =
        SendMessageRequest.builder()
            .queueUrl(queueUrl(dlq))
            .messageBody(kept)
            .messageAttributes(attributes)
            .overrideConfiguration(callBound);
    if (isFifo(dlq)) {
      request
          .messageGroupId(groupId == null || groupId.isEmpty() ? "dead_letters" : groupId)
          .messageDeduplicationId(messageId);
    }
    send(request.build(), "dead-letter a message of queue " + queue + " to " + dlq);
  }

  /**
   * Whether SQS refused a send for the message's size: AWS answers {@code InvalidParameterValue}
   * "Message must be shorter than N bytes", older ElasticMQ {@code MessageTooLong}.
   */
  static boolean refusedForSize(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof AwsServiceException e && e.statusCode() == 400) {
        String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
        String text = String.valueOf(e.getMessage());
        return "MessageTooLong".equals(code)
            || text.contains("shorter than")
            || text.contains("MessageTooLong");
      }
    }
    return false;
  }

  /** The task UUID in a message body, for a log line; "?" when the body does not decode. */
  static String taskIdOf(String body) {
    try {
      return WireCodec.decodeSignature(body.getBytes(StandardCharsets.UTF_8)).uuid();
    } catch (RuntimeException e) {
      return "?";
    }
  }

  private static MessageAttributeValue stringAttribute(String value) {
    return MessageAttributeValue.builder().dataType("String").stringValue(value).build();
  }

  /**
   * Creates {@code queue} once when {@link Builder#createQueues} is on (CreateQueue is idempotent).
   */
  void ensureQueue(String queue) {
    ensureQueue(queue, null);
  }

  /** As {@link #ensureQueue(String)}, its call bounded by {@code bound} when not null. */
  void ensureQueue(String queue, @Nullable AwsRequestOverrideConfiguration bound) {
    if (createQueues && !createdQueues.contains(queue)) {
      SqsQueues.create(client, queue, bound);
      createdQueues.add(queue);
    }
  }

  /** Creates a dead-letter queue once; part of a settlement, so bounded as its calls are. */
  private void ensureDeadLetterQueue(String dlq) {
    if (!createdQueues.contains(dlq)) {
      SqsQueues.createDeadLetterQueue(client, dlq, callBound);
      createdQueues.add(dlq);
    }
  }

  @Override
  public Consumption startConsuming(String consumerTag, String queue, DeliveryHandler handler) {
    if (closed.get()) {
      throw new IllegalStateException("this SQS broker is closed");
    }
    String name = queue.isEmpty() ? config.defaultQueue() : queue;
    ensureQueue(name);
    SqsConsumer consumer = new SqsConsumer(this, consumerTag, name, handler);
    consumers.add(consumer);
    consumer.start();
    return consumer;
  }

  void forget(SqsConsumer consumer) {
    consumers.remove(consumer);
  }

  @Override
  public List<Signature> pendingTasks(String queue) {
    throw new UnsupportedOperationException(
        "SQS cannot list the messages of a queue without receiving them (which"
            + " hides them from workers and counts as a delivery); Go's SQS broker does not implement it either."
            + " ApproximateNumberOfMessages (GetQueueAttributes) gives the count.");
  }

  @Override
  public List<Signature> delayedTasks() {
    throw new UnsupportedOperationException(
        "SQS cannot list delayed messages (Go's SQS broker does not either)");
  }

  /**
   * Queue sizes from SQS's counters, dead letters (listed, requeued, deleted) and purge; no task
   * listings. See {@link SqsInspector} for what SQS allows.
   */
  @Override
  public java.util.Optional<io.machinery.spi.Inspector> inspector() {
    return java.util.Optional.of(new SqsInspector(this));
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (SqsConsumer consumer : List.copyOf(consumers)) {
      consumer.brokerClosed();
    }
    if (ownsClient) {
      client.close();
    }
  }

  @Override
  public String toString() {
    return "SqsBroker{" + config.broker() + "}";
  }

  /** Builds an {@link SqsBroker}. */
  public static final class Builder {
    private final Config config;
    private @Nullable SqsClient client;
    private @Nullable AwsClients aws;
    private Clock clock = Clock.systemUTC();
    private boolean createQueues;
    private boolean fairness;
    private Duration callTimeout = DEFAULT_CALL_TIMEOUT;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * A client to use instead of building one (Go's {@code cnf.SQS.Client}); the broker never
     * closes it. Queue URLs still come from {@code config.broker()}.
     */
    public Builder client(SqsClient value) {
      client = Objects.requireNonNull(value, "client");
      return this;
    }

    /**
     * How to build the client (region, credentials, endpoint); default {@link
     * AwsClients#forSqsBroker}.
     */
    public Builder aws(AwsClients value) {
      aws = Objects.requireNonNull(value, "aws");
      return this;
    }

    /** The clock for ETAs; default the system clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * Whether the broker creates the queues it publishes to and consumes (CreateQueue, with FIFO
     * attributes for {@code .fifo} names) instead of expecting them to exist, as Go does. Default
     * false.
     */
    public Builder createQueues(boolean value) {
      createQueues = value;
      return this;
    }

    /**
     * Sends a task's fairness key ({@link Signature.Builder#fairnessKey}) as the {@code
     * MessageGroupId} of its message on a standard queue, which is how SQS fair queues tell tenants
     * apart: when one tenant has a disproportionate share of the messages in flight, SQS hands out
     * the other tenants' messages first. The fairness is SQS's (documented by AWS, not emulated by
     * ElasticMQ), not this library's round-robin. A key SQS would refuse as a group id is sent as a
     * hash of it. Default false: Go sends no group id to a standard queue. FIFO queues keep {@code
     * BrokerMessageGroupId}; a message sent again (a requeue, an early ETA) keeps its group id.
     *
     * @param value true to send fairness keys as message group ids
     * @return this builder
     */
    public Builder fairness(boolean value) {
      fairness = value;
      return this;
    }

    /**
     * The bound of one bounded call (see the class notes) when the client sets no {@code
     * apiCallTimeout}; default {@link #DEFAULT_CALL_TIMEOUT}. Package-private: tests shorten it; a
     * user bounds the calls with the {@code apiCallTimeout} of the client they pass in.
     */
    Builder callTimeout(Duration value) {
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException("callTimeout must be positive, was " + value);
      }
      callTimeout = value;
      return this;
    }

    public SqsBroker build() {
      if (client != null) {
        return new SqsBroker(this, client, false);
      }
      AwsClients settings = aws != null ? aws : AwsClients.forSqsBroker(config.broker());
      return new SqsBroker(this, settings.build(SqsClient.builder()), true);
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
    return SqsBrokerProvider.INSTANCE;
  }
}
