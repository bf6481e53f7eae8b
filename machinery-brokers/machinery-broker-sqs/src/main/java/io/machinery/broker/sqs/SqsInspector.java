package io.machinery.broker.sqs;

import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.wire.BodyPreview;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchResponse;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;
import software.amazon.awssdk.services.sqs.model.QueueAttributeName;
import software.amazon.awssdk.services.sqs.model.QueueDoesNotExistException;
import software.amazon.awssdk.services.sqs.model.SendMessageRequest;

/**
 * The {@link Inspector} of an {@link SqsBroker}: what SQS can tell without taking tasks away from
 * workers.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Sizes</b> are SQS's own counters (GetQueueAttributes): pending is {@code
 *       ApproximateNumberOfMessages}, delayed {@code ApproximateNumberOfMessagesDelayed},
 *       dead-lettered the former of {@code <queue>_dead_letters}. SQS calls them approximate: on
 *       AWS they may lag by about a minute. A standard-queue ETA beyond SQS's 15 minutes travels in
 *       15-minute hops and counts as delayed only while a hop runs; a FIFO queue cannot delay
 *       messages, so its future tasks count as pending (and as in flight while a worker holds them
 *       until their ETA). There is no oldest age (only CloudWatch knows it).
 *   <li><b>No task listings.</b> SQS shows a message only by receiving it, which hides it from
 *       workers for the visibility timeout and raises its receive count toward the queue's redrive
 *       limit: {@link #pending} and {@link #delayed} throw {@link UnsupportedOperationException}
 *       (after checking their arguments).
 *   <li><b>Dead letters</b> can be read that way, since no worker consumes them: a listing receives
 *       up to {@code offset + limit} of them (long polling, hidden for {@value
 *       #WALK_VISIBILITY_SECONDS} s, each seen once), orders them by the time they were
 *       dead-lettered ({@code SentTimestamp}) and makes them visible again at once. SQS returns
 *       messages in best-effort order, so on AWS a page is the oldest of what one pass received,
 *       not necessarily the oldest of the queue. An entry's id is its SQS message id.
 *   <li><b>FIFO dead-letter queues</b> hand out nothing more of a message group while some of it is
 *       hidden, and a dead letter keeps the group of its task. So a listing shows at most one
 *       receive's worth (up to ten) of each group, the group's first; {@link #queue} counts them
 *       all. A requeue or delete goes past them only while it settles every dead letter of the
 *       group it receives: one it leaves holds back the rest of its group (the next call too, as
 *       SQS hands a group out in order). Getting further would mean deleting what is only read.
 *   <li><b>Repairs.</b> Requeueing sends the body (Go's wire: nothing else) to the tail of the
 *       queue and only then deletes the dead letter: a process that dies in between leaves both, so
 *       a task may be requeued twice but never lost (on a FIFO queue the deduplication id is the
 *       dead letter's id, so a repeat within SQS's five minutes is dropped). Deleting is
 *       DeleteMessage. A dead letter that keeps only a {@link BodyPreview} of an oversized message
 *       is never requeued (it would run a broken task). Unselected dead letters are made visible
 *       again at the end; if the process dies they return after the walk's visibility timeout.
 *   <li><b>Purge</b> receives and deletes the visible messages in batches of ten, so delayed
 *       messages and those a worker holds stay, as the SPI asks. SQS's PurgeQueue would delete
 *       those too (and is allowed once a minute).
 *   <li><b>Queues</b> are all the queues ListQueues gives for the broker's credentials, dead-letter
 *       queues folded into their sources: SQS has no notion of a Machinery queue.
 *   <li><b>Bounded.</b> Every call is bounded as the broker's settling calls are ({@link
 *       SqsBroker#callBound()}: the client's own {@code apiCallTimeout}, else {@link
 *       SqsBroker#DEFAULT_CALL_TIMEOUT}), its one-second receives included, so a call that never
 *       answers fails the caller (a dashboard's read, the command line) with a {@link
 *       MachineryException} at the bound. A walk's receive cut there hides what SQS already gave it
 *       for {@value #WALK_VISIBILITY_SECONDS} s at most, as a walk that dies does.
 * </ul>
 *
 * <p>Thread-safe.
 *
 * <p>Size: the {@code Inspector} SPI on SQS, one short method per operation, each saying what SQS
 * cannot do.
 */
final class SqsInspector implements Inspector {
  private static final Logger log = LoggerFactory.getLogger(SqsInspector.class);

  /**
   * How long a walk over dead letters hides each one (longer than any walk; they are shown again at
   * the end).
   */
  static final int WALK_VISIBILITY_SECONDS = 120;

  private static final int BATCH = 10;

  private final SqsBroker broker;
  private final SqsClient client;

  /** Bounds each call (see the class notes); null: the client's own {@code apiCallTimeout} does. */
  private final @Nullable AwsRequestOverrideConfiguration bound;

  SqsInspector(SqsBroker broker) {
    this.broker = broker;
    this.client = broker.client();
    this.bound = broker.callBound();
  }

  private String name(String queue) {
    return Objects.requireNonNull(queue, "queue").isEmpty()
        ? broker.config().defaultQueue()
        : queue;
  }

  // ------------------------------------------------------------------------------------------
  // sizes

  @Override
  public List<QueueStats> queues() {
    Set<String> names = new TreeSet<>();
    try {
      client
          .listQueuesPaginator(r -> r.maxResults(1000).overrideConfiguration(bound))
          .queueUrls()
          .forEach(
              url -> {
                String name = url.substring(url.lastIndexOf('/') + 1);
                names.add(sourceOf(name));
              });
    } catch (SdkException e) {
      throw new MachineryException("SQS: could not list queues: " + e.getMessage(), e);
    }
    List<QueueStats> out = new ArrayList<>(names.size());
    for (String name : names) {
      out.add(queue(name));
    }
    return out;
  }

  /**
   * The queue a dead-letter queue belongs to (by {@link SqsBroker#deadLetterQueue}'s naming), else
   * itself.
   */
  static String sourceOf(String name) {
    if (name.endsWith("_dead_letters.fifo")) {
      return name.substring(0, name.length() - "_dead_letters.fifo".length()) + ".fifo";
    }
    if (name.endsWith("_dead_letters")) {
      return name.substring(0, name.length() - "_dead_letters".length());
    }
    return name;
  }

  @Override
  public QueueStats queue(String queue) {
    String name = name(queue);
    Map<String, String> main = attributes(name);
    Map<String, String> dead = attributes(SqsBroker.deadLetterQueue(name));
    return new QueueStats(
        name,
        count(main, QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES),
        count(main, QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED),
        count(dead, QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES),
        null);
  }

  /** One GetQueueAttributes call: the queue's {@code ApproximateNumberOfMessages}. */
  @Override
  public long pendingCount(String queue) {
    return count(attributes(name(queue)), QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES);
  }

  /** The queue's counters; empty for a queue that does not exist. */
  private Map<String, String> attributes(String queue) {
    try {
      return client
          .getQueueAttributes(
              r ->
                  r.queueUrl(broker.queueUrl(queue))
                      .attributeNames(
                          QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES,
                          QueueAttributeName.APPROXIMATE_NUMBER_OF_MESSAGES_DELAYED)
                      .overrideConfiguration(bound))
          .attributesAsStrings();
    } catch (QueueDoesNotExistException e) {
      return Map.of();
    } catch (SdkException e) {
      throw new MachineryException(
          "SQS: could not read the attributes of queue " + queue + ": " + e.getMessage(), e);
    }
  }

  private static long count(Map<String, String> attributes, QueueAttributeName name) {
    String value = attributes.get(name.toString());
    try {
      return value == null ? 0 : Math.max(0, Long.parseLong(value));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  // ------------------------------------------------------------------------------------------
  // listings

  @Override
  public List<Signature> pending(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    throw new UnsupportedOperationException(
        "SQS cannot list the messages of a queue without receiving them, which"
            + " hides them from workers and counts toward the redrive limit; queue(...) gives the counts");
  }

  @Override
  public List<Signature> delayed(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    throw new UnsupportedOperationException(
        "SQS cannot list delayed messages (they cannot be received before their"
            + " delay ends); queue(...) gives their count");
  }

  @Override
  public List<DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
    Inspector.checkPage(offset, limit);
    String name = name(queue);
    List<Message> read = new ArrayList<>();
    walk(
        SqsBroker.deadLetterQueue(name),
        offset + limit,
        message -> {
          read.add(message);
          return false; // leave it
        });
    return read.stream()
        .sorted(Comparator.comparing(SqsInspector::sentAt))
        .skip(offset)
        .limit(limit)
        .map(m -> entry(name, m))
        .toList();
  }

  private static Instant sentAt(Message message) {
    String millis = message.attributes().get(MessageSystemAttributeName.SENT_TIMESTAMP);
    try {
      return millis == null ? Instant.EPOCH : Instant.ofEpochMilli(Long.parseLong(millis));
    } catch (NumberFormatException e) {
      return Instant.EPOCH;
    }
  }

  private static DeadLetterEntry entry(String queue, Message message) {
    Map<String, MessageAttributeValue> attributes = message.messageAttributes();
    MessageAttributeValue reason = attributes.get(SqsBroker.DEAD_LETTER_REASON_ATTRIBUTE);
    MessageAttributeValue source = attributes.get(SqsBroker.DEAD_LETTER_SOURCE_ATTRIBUTE);
    return new DeadLetterEntry(
        message.messageId(),
        source == null ? queue : source.stringValue(),
        reason == null
            ? "(no reason recorded: moved by the queue's redrive policy?)"
            : reason.stringValue(),
        sentAt(message),
        message.body().getBytes(StandardCharsets.UTF_8));
  }

  /** What a walk does with one message: true when it settled (deleted) it, false to leave it. */
  private interface Visitor {
    boolean visit(Message message);
  }

  /**
   * Receives the messages of {@code queue} once each (hidden for {@value #WALK_VISIBILITY_SECONDS}
   * s) until {@code max} were visited or none is left, then makes the unsettled ones visible again.
   */
  private void walk(String queue, int max, Visitor visitor) {
    String url = broker.queueUrl(queue);
    Set<String> seen = new HashSet<>();
    Map<String, String> unsettled = new LinkedHashMap<>(); // message id -> receipt handle
    int visited = 0;
    try {
      while (visited < max) {
        List<Message> batch;
        try {
          batch =
              client
                  .receiveMessage(
                      r ->
                          r.queueUrl(url)
                              .maxNumberOfMessages(BATCH)
                              .waitTimeSeconds(1)
                              .visibilityTimeout(WALK_VISIBILITY_SECONDS)
                              .messageAttributeNames("All")
                              .messageSystemAttributeNames(
                                  MessageSystemAttributeName.SENT_TIMESTAMP,
                                  MessageSystemAttributeName.MESSAGE_GROUP_ID)
                              .overrideConfiguration(bound))
                  .messages();
        } catch (QueueDoesNotExistException e) {
          return;
        }
        if (batch.isEmpty()) {
          return;
        }
        List<Message> fresh = new ArrayList<>();
        for (Message message : batch) {
          // the whole batch first: a visitor that throws must not leave the rest hidden (the newest
          // handle counts)
          unsettled.put(message.messageId(), message.receiptHandle());
          if (seen.add(message.messageId())) {
            fresh.add(message);
          }
        }
        for (Message message : fresh) {
          if (visited++ < max && visitor.visit(message)) {
            unsettled.remove(message.messageId());
          }
        }
      }
    } catch (SdkException e) {
      throw new MachineryException(
          "SQS: could not read the messages of queue " + queue + ": " + e.getMessage(), e);
    } finally {
      release(url, unsettled);
    }
  }

  /**
   * Makes received messages visible again at once (best effort: otherwise they return after the
   * walk's timeout).
   */
  private void release(String url, Map<String, String> receipts) {
    List<String> handles = new ArrayList<>(receipts.values());
    for (int from = 0; from < handles.size(); from += BATCH) {
      List<ChangeMessageVisibilityBatchRequestEntry> entries = new ArrayList<>();
      for (int i = from; i < Math.min(handles.size(), from + BATCH); i++) {
        entries.add(
            ChangeMessageVisibilityBatchRequestEntry.builder()
                .id(Integer.toString(i))
                .receiptHandle(handles.get(i))
                .visibilityTimeout(0)
                .build());
      }
      try {
        client.changeMessageVisibilityBatch(
            r -> r.queueUrl(url).entries(entries).overrideConfiguration(bound));
      } catch (SdkException e) {
        log.warn(
            "SQS: could not show {} dead letters again at once ({}); they return within {} s",
            entries.size(),
            e.getMessage(),
            WALK_VISIBILITY_SECONDS);
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // repairs

  @Override
  public int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(name(queue), Objects.requireNonNull(which, "which"), true);
  }

  @Override
  public int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return repair(name(queue), Objects.requireNonNull(which, "which"), false);
  }

  /** Walks the dead letters once, requeueing (send, then delete) or deleting each selected one. */
  private int repair(String name, Predicate<DeadLetterEntry> which, boolean requeue) {
    String dlq = SqsBroker.deadLetterQueue(name);
    int[] done = {0};
    walk(
        dlq,
        Integer.MAX_VALUE,
        message -> {
          if (!which.test(entry(name, message))) {
            return false;
          }
          if (requeue && BodyPreview.isPreview(message.messageAttributes())) {
            log.warn(
                "Dead letter {} of queue {} keeps only a preview of an oversized message; not requeued"
                    + " (delete it)",
                message.messageId(),
                name);
            return false;
          }
          if (requeue) {
            SendMessageRequest.Builder request =
                SendMessageRequest.builder()
                    .queueUrl(broker.queueUrl(name))
                    .messageBody(message.body())
                    .overrideConfiguration(bound);
            if (SqsBroker.isFifo(name)) {
              String group = message.attributes().get(MessageSystemAttributeName.MESSAGE_GROUP_ID);
              request
                  .messageGroupId(group == null ? "requeued" : group)
                  .messageDeduplicationId(message.messageId());
            }
            broker.ensureQueue(name, bound);
            broker.send(
                request.build(),
                "requeue dead letter " + message.messageId() + " to queue " + name);
          }
          delete(
              dlq,
              message); // after SQS accepted the copy: a crash in between duplicates, never loses
          done[0]++;
          return true;
        });
    return done[0];
  }

  private void delete(String queue, Message message) {
    try {
      client.deleteMessage(
          r ->
              r.queueUrl(broker.queueUrl(queue))
                  .receiptHandle(message.receiptHandle())
                  .overrideConfiguration(bound));
    } catch (SdkException e) {
      throw new MachineryException(
          "SQS: could not delete message "
              + message.messageId()
              + " of queue "
              + queue
              + ": "
              + e.getMessage(),
          e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // purge

  @Override
  public long purge(String queue) {
    String url = broker.queueUrl(name(queue));
    long purged = 0;
    try {
      while (true) {
        List<Message> batch =
            client
                .receiveMessage(
                    r ->
                        r.queueUrl(url)
                            .maxNumberOfMessages(BATCH)
                            .waitTimeSeconds(1)
                            .visibilityTimeout(WALK_VISIBILITY_SECONDS)
                            .overrideConfiguration(bound))
                .messages();
        if (batch.isEmpty()) {
          return purged;
        }
        List<DeleteMessageBatchRequestEntry> entries = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
          entries.add(
              DeleteMessageBatchRequestEntry.builder()
                  .id(Integer.toString(i))
                  .receiptHandle(batch.get(i).receiptHandle())
                  .build());
        }
        DeleteMessageBatchResponse response =
            client.deleteMessageBatch(
                r -> r.queueUrl(url).entries(entries).overrideConfiguration(bound));
        purged += response.successful().size();
      }
    } catch (QueueDoesNotExistException e) {
      return purged;
    } catch (SdkException e) {
      throw new MachineryException(
          "SQS: could not purge queue "
              + name(queue)
              + " ("
              + purged
              + " removed): "
              + e.getMessage(),
          e);
    }
  }

  @Override
  public String toString() {
    return "SqsInspector{" + broker.config().broker() + "}";
  }
}
