package io.machinery.broker.gcppubsub;

import com.google.api.gax.rpc.ApiException;
import com.google.api.gax.rpc.NotFoundException;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.ReceivedMessage;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.wire.BodyPreview;
import io.machinery.wire.WireCodec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link Inspector} of a {@link GcpPubSubBroker}: what Pub/Sub's API allows without taking
 * tasks away from workers for good.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>No sizes.</b> Pub/Sub's API has no message counts: production reads them from Cloud
 *       Monitoring ({@code subscription/num_undelivered_messages}, {@code
 *       oldest_unacked_message_age}), which the emulators lack. {@link #queue} and {@link #queues}
 *       throw {@link UnsupportedOperationException} rather than count by pulling everything.
 *   <li><b>Pending tasks</b> are read as {@link GcpPubSubBroker#pendingTasks} reads them: pulled
 *       without acknowledgement (at most {@value #MAX_READ} messages) and all handed back at once
 *       (ack deadline 0), then ordered by publish time and paged. Pub/Sub pulls in no particular
 *       order, so the whole subscription is read to page it; while it is read workers do not get
 *       those messages, and on a subscription with a dead-letter policy each read counts as a
 *       delivery attempt.
 *   <li><b>Delayed tasks</b> cannot be listed: the delay pumps of running brokers hold them leased
 *       until they are due (see {@link DelayPump}); {@link #delayed} throws {@link
 *       UnsupportedOperationException}.
 *   <li><b>Dead letters</b> of every queue share the broker's dead-letter subscription; an entry
 *       belongs to the queue named in its {@value GcpPubSubBroker#DEAD_LETTER_SOURCE_ATTRIBUTE}
 *       attribute. Its id is the Pub/Sub message id; {@code at} its publish time (when it was set
 *       aside). Listing reads them as pending tasks are read. A dead letter that keeps only a
 *       {@link BodyPreview} of an oversized message is never requeued (it would run a broken task).
 *       Requeueing publishes the data (Go's wire: no attributes) to the queue's topic and only then
 *       acknowledges the dead letter, so a process that dies in between duplicates a task, never
 *       loses it; deleting acknowledges. Each pulled message is leased for {@value
 *       #WALK_LEASE_SECONDS} s while a repair walks the subscription, and the unselected ones are
 *       handed back at the end.
 *   <li><b>Purge</b> pulls and acknowledges what the queue's subscription hands out: delayed tasks
 *       (on the delay subscription) and messages a worker holds stay, as the SPI asks. (Seek to a
 *       time would be one call but also drops the messages workers hold, and returns no count.)
 * </ul>
 *
 * <p>Thread-safe.
 */
final class PubSubInspector implements Inspector {
  private static final Logger log = LoggerFactory.getLogger(PubSubInspector.class);

  /** The most messages one listing reads from a subscription. */
  static final int MAX_READ = 10_000;

  static final int WALK_LEASE_SECONDS = 60;
  private static final int PULL_SIZE = 1_000;

  private final GcpPubSubBroker broker;
  private final PubSubClient client;

  PubSubInspector(GcpPubSubBroker broker) {
    this.broker = broker;
    this.client = broker.client();
  }

  private String topic(String queue) {
    return broker.topicOf(Objects.requireNonNull(queue, "queue"));
  }

  @Override
  public List<QueueStats> queues() {
    throw new UnsupportedOperationException(NO_COUNTS);
  }

  @Override
  public QueueStats queue(String queue) {
    throw new UnsupportedOperationException(NO_COUNTS);
  }

  @Override
  public boolean countsQueues() {
    return false;
  }

  private static final String NO_COUNTS =
      "Pub/Sub's API has no message counts; read subscription/"
          + "num_undelivered_messages from Cloud Monitoring (the emulators have none)";

  @Override
  public List<Signature> pending(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    List<Signature> out = new ArrayList<>();
    client.peek(broker.subscriptionFor(topic(queue)), MAX_READ).stream()
        .sorted(PubSubConsumer.MESSAGE_ORDER)
        .skip(offset)
        .limit(limit)
        .forEach(
            m -> {
              try {
                out.add(WireCodec.decodeSignature(m.getMessage().getData().toByteArray()));
              } catch (MalformedMessageException | StackOverflowError e) {
                // skipped: dead-lettered once a worker meets it
              }
            });
    return out;
  }

  @Override
  public List<Signature> delayed(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    throw new UnsupportedOperationException(
        "Pub/Sub cannot list delayed tasks: the delay pumps of running brokers"
            + " hold them leased until they are due");
  }

  @Override
  public List<DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    String topic = topic(queue);
    return client.peek(broker.deadLetterTopic(), MAX_READ).stream()
        .filter(m -> isFrom(m, topic))
        .sorted(PubSubConsumer.MESSAGE_ORDER)
        .skip(offset)
        .limit(limit)
        .map(m -> entry(topic, m))
        .toList();
  }

  /**
   * Whether a dead letter came from {@code topic} ({@code "topic T, subscription S"}, as the broker
   * writes it).
   */
  private static boolean isFrom(ReceivedMessage message, String topic) {
    String source =
        message
            .getMessage()
            .getAttributesOrDefault(GcpPubSubBroker.DEAD_LETTER_SOURCE_ATTRIBUTE, "");
    return source.startsWith("topic " + topic + ", ");
  }

  private static DeadLetterEntry entry(String topic, ReceivedMessage received) {
    var message = received.getMessage();
    Instant at =
        Instant.ofEpochSecond(
            message.getPublishTime().getSeconds(), message.getPublishTime().getNanos());
    return new DeadLetterEntry(
        message.getMessageId(),
        topic,
        message.getAttributesOrDefault(
            GcpPubSubBroker.DEAD_LETTER_REASON_ATTRIBUTE, "(no reason recorded)"),
        at,
        message.getData().toByteArray());
  }

  @Override
  public int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    Objects.requireNonNull(which, "which");
    String topic = topic(queue);
    return walk(
        broker.deadLetterTopic(),
        m -> isFrom(m, topic) && which.test(entry(topic, m)) && !previewOnly(m),
        m -> {
          broker.publishNow(topic, m.getMessage().getData().toByteArray());
        });
  }

  /** A dead letter that kept only a preview of an oversized message: never requeued. */
  private static boolean previewOnly(ReceivedMessage message) {
    if (!BodyPreview.isPreview(message.getMessage().getAttributesMap())) {
      return false;
    }
    log.warn(
        "Dead letter {} keeps only a preview of an oversized message; not requeued (delete it)",
        message.getMessage().getMessageId());
    return true;
  }

  @Override
  public int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    Objects.requireNonNull(which, "which");
    String topic = topic(queue);
    return walk(
        broker.deadLetterTopic(), m -> isFrom(m, topic) && which.test(entry(topic, m)), m -> {});
  }

  @Override
  public long purge(String queue) {
    return walk(broker.subscriptionFor(topic(queue)), m -> true, m -> {});
  }

  /** What a walk does to a selected message before acknowledging it. */
  private interface Action {
    void apply(ReceivedMessage message);
  }

  /**
   * Pulls {@code subscription} until it hands out nothing more, each message once; each selected
   * one gets {@code action} and is then acknowledged, the others are handed back at the end.
   */
  private int walk(String subscription, Predicate<ReceivedMessage> selected, Action action) {
    Map<String, String> unsettled = new LinkedHashMap<>(); // message id -> ack id
    Set<String> seen = new HashSet<>();
    int done = 0;
    try {
      while (true) {
        @SuppressWarnings(
            "deprecation") // still the way to ask for an immediate answer, honoured by both servers
        PullRequest request =
            PullRequest.newBuilder()
                .setSubscription(client.subscriptionName(subscription))
                .setMaxMessages(PULL_SIZE)
                .setReturnImmediately(true)
                .build();
        List<ReceivedMessage> page =
            client.subscriber().pullCallable().call(request).getReceivedMessagesList();
        List<ReceivedMessage> fresh =
            page.stream().filter(m -> seen.add(m.getMessage().getMessageId())).toList();
        if (fresh.isEmpty()) {
          page.forEach(m -> unsettled.put(m.getMessage().getMessageId(), m.getAckId()));
          return done;
        }
        page.forEach(m -> unsettled.put(m.getMessage().getMessageId(), m.getAckId()));
        client.modifyAckDeadline(
            subscription,
            fresh.stream().map(ReceivedMessage::getAckId).toList(),
            WALK_LEASE_SECONDS);
        for (ReceivedMessage message : fresh) {
          if (selected.test(message)) {
            action.apply(message);
            client.acknowledge(
                subscription, List.of(message.getAckId())); // after the action: never a loss
            unsettled.remove(message.getMessage().getMessageId());
            done++;
          }
        }
      }
    } catch (NotFoundException e) {
      return done;
    } catch (ApiException e) {
      throw new MachineryException(
          "Pub/Sub: could not read subscription "
              + subscription
              + " ("
              + done
              + " handled): "
              + e.getMessage(),
          e);
    } finally {
      if (!unsettled.isEmpty()) {
        client.modifyAckDeadline(subscription, List.copyOf(unsettled.values()), 0);
      }
    }
  }

  @Override
  public String toString() {
    return "PubSubInspector{" + broker + "}";
  }
}
