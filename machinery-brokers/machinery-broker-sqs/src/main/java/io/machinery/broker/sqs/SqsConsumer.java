package io.machinery.broker.sqs;

import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.spi.BrokerClosing;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.LeaseTimeline;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.BatchResultErrorEntry;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityBatchResponse;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityBatchResultEntry;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;
import software.amazon.awssdk.services.sqs.model.ReceiveMessageRequest;
import software.amazon.awssdk.services.sqs.model.SendMessageRequest;

/**
 * One worker's consumption of one queue.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Fetch only for free slots.</b> Each poller (a platform thread; one per 10 slots of the
 *       worker's concurrency, at most {@value #MAX_POLLERS}) reserves up to 10 free slots, then
 *       asks SQS for at most that many messages with a long poll, and gives back the slots it did
 *       not use. So the worker never holds a message it cannot start, unlike Go, which receives one
 *       message per free goroutine token but also buffers.
 *   <li><b>FIFO: one message per receive</b>, as Go ({@code MaxNumberOfMessages} 1), with one
 *       poller per slot up to {@value #MAX_POLLERS}. SQS hands out no message of a group while
 *       another of it is in flight, so a group's tasks run one at a time and in order whatever the
 *       concurrency, and a message held until its ETA holds its group back. A batch would bring
 *       several messages of one group at once, each to its own slot.
 *   <li><b>Visibility heartbeat.</b> Every message handed to the worker stays in {@link #inFlight}
 *       until it is settled; one scheduler extends all of them with {@code
 *       ChangeMessageVisibilityBatch} (10 per call) every third of the visibility timeout, at a
 *       fixed rate (a slow round trip does not push the next tick later), so a task longer than the
 *       timeout is not handed to another worker. Go does this only with {@code
 *       VisibilityHeartBeat}; here it is always on, because the message is deleted only after the
 *       final state is stored. A message settled by a delete (an acknowledgement, a requeue or dead
 *       letter once its copy is sent) leaves {@link #inFlight} only once SQS answered the delete
 *       (or the call failed, at the latest at the call timeout, see {@link SqsBroker}), so a slow
 *       delete cannot let it come back to run again; one settled by a visibility change of its own
 *       (a requeue's delay, a return to the queue) leaves before that change is sent, which waits
 *       for an extension of it already in flight (see {@link SqsDelivery}): SQS applying the
 *       extension after it would bring the message back at the heartbeat's time instead. When the
 *       process dies the heartbeat stops and the message comes back after the timeout. A tick
 *       survives anything thrown in it (an {@code Error} included: a scheduled task that throws is
 *       never run again), so one failed tick costs nothing while the next succeeds within the
 *       timeout.
 *   <li><b>Platform threads.</b> The pollers, the heartbeat and the delete batcher are named daemon
 *       platform threads, closed with the consumer: task bodies run on virtual threads, which a
 *       computing task never gives up, so a virtual heartbeat waits for a free carrier while the
 *       visibility timeout runs out and another worker receives the message and runs it again
 *       (issue 12, F5; {@code CpuBoundTasksKit} in the test kit).
 *   <li><b>Pollers never die of a failure</b>: whatever a receive throws (an {@code Error}
 *       included) is reported once to the worker and retried with back-off.
 *   <li><b>Acknowledgements</b> are deletes sent in batches ({@link DeleteBatcher}); {@link
 *       SqsDelivery#ack()} returns once its message is deleted, or after twice the call timeout
 *       (logged: its batch may wait behind one in flight); the message stays in the heartbeat until
 *       SQS answered its delete or the call failed, at the latest when the call timeout cut it (see
 *       {@link SqsBroker}).
 *   <li><b>ETA.</b> A message received before its ETA is held back (see {@link SqsBroker}) without
 *       using a slot. A message over {@code MaxMessageBytes} is not decoded to find its ETA: it
 *       goes to the worker at once, which dead-letters it by its size.
 *   <li><b>Stopping.</b> {@link #stopFetching} ends the pollers: one waiting for slots is
 *       interrupted, one in a long poll finishes it (at most {@code SQS_WAIT_TIME_SECONDS}) and
 *       makes what it received visible again at once; deliveries already handed over stay valid and
 *       keep their heartbeat. {@link #close()} also makes the unsettled ones visible again, and
 *       first waits for every receive in flight to end (up to the long-poll wait plus {@link
 *       #RECEIVE_MARGIN}): a receive cannot be called back, and SQS keeps a long poll open after
 *       its client went away (the broker closes the client it built right after), so a message
 *       arriving then would be handed to nobody and stay hidden for the whole visibility timeout.
 *       Go's SQS worker has exactly this hole: it returns from {@code StartConsuming} while its
 *       last receive is still open and drops what that receive brings.
 * </ul>
 *
 * <p>Size: one consumption on SQS, whose pollers, visibility heartbeat and batched deletes share
 * the table of messages in flight.
 */
final class SqsConsumer implements Consumption {
  private static final Logger log = LoggerFactory.getLogger(SqsConsumer.class);
  static final int MAX_BATCH = 10;
  static final int MAX_POLLERS = 4;

  /** SQS's longest visibility timeout is 12 hours; holds stay a little below it. */
  static final int MAX_VISIBILITY_SECONDS = 43_000;

  /** Go's 0 means short polling, a busy loop on an idle queue; this long poll replaces it. */
  static final int DEFAULT_WAIT_SECONDS = 1;

  /**
   * How much longer than the long-poll wait {@link #close()} waits for a receive in flight to
   * return.
   */
  static final Duration RECEIVE_MARGIN = Duration.ofSeconds(5);

  private final SqsBroker broker;
  private final SqsClient client;
  private final String tag;
  private final String queue;
  private final String queueUrl;
  private final DeliveryHandler handler;
  private final boolean fifo;
  private final Set<SqsDelivery> inFlight = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean fetching = new AtomicBoolean(true);
  private final AtomicBoolean closed = new AtomicBoolean();
  private final List<Thread> pollers = new ArrayList<>();

  /**
   * Pollers waiting for free slots; {@link #stopFetching} interrupts only these. A poller inside a
   * receive is left to finish it (at most the long-poll wait): an aborted receive would lose its
   * messages for a visibility timeout, since SQS hid them already.
   */
  private final Set<Thread> reserving = ConcurrentHashMap.newKeySet();

  private final ScheduledExecutorService heartbeat;
  private final DeleteBatcher deletes;

  /**
   * Bounds each call that settles a message or extends one (see {@link SqsBroker}); null: the
   * client does.
   */
  private final @Nullable AwsRequestOverrideConfiguration bound;

  private int visibilitySeconds;

  /** Whether the last heartbeat tick failed; only the heartbeat thread reads and writes it. */
  private boolean heartbeatFailing;

  /** The heartbeat's period, and when its last tick began; only the heartbeat thread uses them. */
  private long heartbeatPeriodNanos;

  private long lastTickNanos;

  /** How many extensions SQS refused in the last tick; only the heartbeat thread uses it. */
  private int lastRefused;

  private final int waitSeconds;

  SqsConsumer(SqsBroker broker, String tag, String queue, DeliveryHandler handler) {
    this.broker = broker;
    this.client = broker.client();
    this.tag = tag;
    this.queue = queue;
    this.queueUrl = broker.queueUrl(queue);
    this.handler = handler;
    this.fifo = SqsBroker.isFifo(queue);
    int configured = broker.config().sqs().waitTimeSeconds();
    this.waitSeconds = configured > 0 ? Math.min(configured, 20) : DEFAULT_WAIT_SECONDS;
    this.bound = broker.callBound();
    this.deletes = new DeleteBatcher(client, queueUrl, bound, "machinery-sqs-deletes-" + tag);
    this.heartbeat =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("machinery-sqs-heartbeat-" + tag).factory());
  }

  String queue() {
    return queue;
  }

  SqsBroker broker() {
    return broker;
  }

  void start() {
    Integer configured = broker.config().sqs().visibilityTimeout();
    visibilitySeconds =
        configured != null ? configured : SqsQueues.visibilityTimeout(client, queueUrl);
    if (visibilitySeconds > 0) {
      long period = Math.max(200, visibilitySeconds * 1000L / 3);
      heartbeatPeriodNanos = TimeUnit.MILLISECONDS.toNanos(period);
      lastTickNanos = System.nanoTime();
      // at a fixed rate: a slow round trip must not lengthen the time between extensions (the
      // ticks a stall made the executor run late back to back are skipped in extendInFlight)
      heartbeat.scheduleAtFixedRate(this::extendInFlight, period, period, TimeUnit.MILLISECONDS);
    }
    int capacity = handler.capacity();
    int count =
        capacity == Integer.MAX_VALUE
            ? 1
            : Math.max(
                1, Math.min(MAX_POLLERS, fifo ? capacity : (capacity + MAX_BATCH - 1) / MAX_BATCH));
    for (int i = 0; i < count; i++) {
      pollers.add(
          Thread.ofPlatform()
              .daemon()
              .name("machinery-sqs-poller-" + tag + "-" + i)
              .start(this::poll));
    }
  }

  // ------------------------------------------------------------------------------------------
  // fetching

  /**
   * One poller's loop. A failure it does not expect (a bug; a failed receive is retried inside)
   * ends the whole consumption: the worker is told and starts a new consumer, which stops the other
   * pollers too, rather than keep a consumer whose pollers may all have died.
   */
  private void poll() {
    try {
      pollUntilStopped();
    } catch (RuntimeException | Error e) {
      log.error("SQS consumer {} of {}: a poller stopped: {}", tag, queue, e.toString(), e);
      if (fetching.get()) {
        handler.consumptionEnded(e);
      } else {
        handler.brokerError(e);
      }
    }
  }

  private void pollUntilStopped() {
    int failures = 0;
    int perReceive = fifo ? 1 : MAX_BATCH;
    Thread self = Thread.currentThread();
    while (fetching.get()) {
      int reserved;
      reserving.add(self);
      try {
        if (!fetching.get()) {
          return;
        }
        reserved = handler.reserve(perReceive);
      } catch (InterruptedException e) {
        return;
      } finally {
        reserving.remove(self);
        Thread.interrupted(); // a stop's interrupt is for the wait only: it must not abort the
        // receive below
      }
      if (!fetching.get()) {
        handler.release(reserved);
        return;
      }
      List<Message> messages;
      long receiveSent = System.nanoTime();
      long receiveConfirmed;
      try {
        messages = receive(reserved);
        receiveConfirmed = System.nanoTime();
        failures = 0;
      } catch (RuntimeException | Error e) { // not only SdkException: a poller that dies stops
        // the consumption for good while the worker thinks it runs
        handler.release(reserved);
        if (!fetching.get()) {
          return;
        }
        if (failures++ == 0) {
          log.warn(
              "SQS consumer {} cannot receive from {}: {}; retrying with back-off",
              tag,
              queue,
              e.toString());
          handler.brokerError(e);
        }
        if (!pause(Math.min(5_000, 100L << Math.min(failures, 6)))) {
          return;
        }
        continue;
      }
      handOver(messages, reserved, receiveSent, receiveConfirmed);
    }
  }

  /**
   * Hands the messages of one receive (sent and answered at these times) to the worker (those
   * before their ETA held back instead), then gives back the slots not used. Should the handler
   * throw, the message it threw on counts as not handed over, as a broker error (the Redis broker
   * treats it alike): it is made visible again at once, settled so that nothing the handler may
   * still do with it reaches SQS, and its slot goes back with the unused ones. SQS counts its next
   * receive, so the worker that gets it sees one more delivery toward its poison limit ({@code
   * maxDeliveries}) and the queue's redrive policy one more receive. Before, it stayed hidden by
   * the heartbeat until this consumer closed, which a retired consumer does only once its running
   * tasks end, and its slot stayed taken. The messages after it are made visible again at once too.
   * The throw then ends this poller, and the worker starts a new consumer.
   */
  private void handOver(
      List<Message> messages, int reserved, long receiveSent, long receiveConfirmed) {
    int used = 0;
    try {
      for (int i = 0; i < messages.size(); i++) {
        Message message = messages.get(i);
        if (!fetching.get()) {
          makeVisible(
              message.receiptHandle()); // arrived after stopFetching: back to the queue at once
          continue;
        }
        boolean held;
        try {
          held = holdUntilEta(message);
        } catch (RuntimeException | Error e) {
          log.warn(
              "SQS consumer {}: could not check the ETA of a message of {} ({}); handing it over",
              tag,
              queue,
              e.toString());
          held = false;
        }
        if (held) {
          continue;
        }
        SqsDelivery delivery =
            new SqsDelivery(this, message, holdOf(receiveSent, receiveConfirmed), receiveSent);
        inFlight.add(delivery);
        try {
          handler.handle(delivery);
        } catch (RuntimeException | Error e) {
          handBack(delivery, e);
          messages.subList(i + 1, messages.size()).forEach(m -> makeVisible(m.receiptHandle()));
          throw e;
        }
        used++;
      }
    } finally {
      handler.release(reserved - used);
    }
  }

  /** The handler threw on {@code delivery}: see {@link #handOver}. */
  private void handBack(SqsDelivery delivery, Throwable thrown) {
    log.warn(
        "SQS consumer {}: the worker's handler threw on message {} of {} (task {}): {}; made it"
            + " visible again at once, and its next delivery counts toward the poison limit",
        tag,
        delivery.messageId(),
        queue,
        delivery.taskId(),
        thrown.toString());
    delivery.returnToQueue();
  }

  /**
   * The visibility timeline of a message received by a request sent and answered at these times;
   * null when messages are not hidden (a visibility timeout of 0).
   */
  private @Nullable LeaseTimeline holdOf(long sent, long confirmed) {
    if (visibilitySeconds <= 0) {
      return null;
    }
    LeaseTimeline hold = LeaseTimeline.of(Duration.ofSeconds(visibilitySeconds));
    hold.renewed(sent, confirmed);
    return hold;
  }

  private List<Message> receive(int max) {
    ReceiveMessageRequest.Builder request =
        ReceiveMessageRequest.builder()
            .queueUrl(queueUrl)
            .maxNumberOfMessages(Math.min(MAX_BATCH, max))
            .waitTimeSeconds(waitSeconds)
            .messageSystemAttributeNames(
                MessageSystemAttributeName.APPROXIMATE_RECEIVE_COUNT,
                MessageSystemAttributeName.SENT_TIMESTAMP,
                MessageSystemAttributeName.MESSAGE_GROUP_ID)
            .messageAttributeNames("All")
            // the timeout the heartbeat and the hold's timeline assume, even where the queue's
            // could not be read (then SQS's default)
            .visibilityTimeout(visibilitySeconds);
    return client.receiveMessage(request.build()).messages();
  }

  private static boolean pause(long millis) {
    try {
      Thread.sleep(millis); // back-off between failed receives, not a wait for an outcome
      return true;
    } catch (InterruptedException e) {
      return false;
    }
  }

  /**
   * Holds back a message whose ETA is still ahead; true when it did. Standard queue: re-sent with
   * the remaining delay (at most 15 minutes a hop), then this copy deleted. FIFO: kept invisible
   * until the ETA.
   */
  private boolean holdUntilEta(Message message) {
    if (io.machinery.wire.Utf8.encodedLength(message.body()) > broker.config().maxMessageBytes()) {
      return false; // never decoded here: the worker dead-letters it by its size at once
    }
    Instant eta = etaOf(message.body());
    Instant now = broker.clock().instant();
    if (eta == null || !eta.isAfter(now)) {
      return false;
    }
    long remainingSeconds = (Duration.between(now, eta).toMillis() + 999) / 1000;
    if (!fifo) {
      try {
        SendMessageRequest.Builder resent =
            SendMessageRequest.builder()
                .queueUrl(queueUrl)
                .messageBody(message.body())
                .delaySeconds(SqsBroker.delaySeconds(eta, now))
                .overrideConfiguration(bound);
        String tenant = message.attributes().get(MessageSystemAttributeName.MESSAGE_GROUP_ID);
        if (tenant != null && !tenant.isEmpty()) {
          resent.messageGroupId(tenant); // a fair queue's tenant (SqsBroker.Builder.fairness)
        }
        broker.send(resent.build(), "re-send a task before its ETA");
      } catch (RuntimeException e) {
        log.warn(
            "SQS consumer {}: could not re-send a task held until its ETA ({}); hiding it instead",
            tag,
            e.getMessage());
        changeVisibility(
            message.receiptHandle(), (int) Math.min(MAX_VISIBILITY_SECONDS, remainingSeconds));
        return true;
      }
      // its own try: the copy is sent, so a failed delete is no failed re-send (which hid the
      // original until its ETA too); the original comes back after its visibility timeout
      try {
        delete(message.receiptHandle());
      } catch (RuntimeException e) {
        log.warn(
            "SQS consumer {}: a task of {} not due for {} s was sent again with a delay, but the"
                + " received copy (message {}) could not be deleted ({}); the task may run twice",
            tag,
            queue,
            remainingSeconds,
            message.messageId(),
            e.getMessage());
        return true;
      }
      log.debug(
          "SQS consumer {}: task not due for {} s sent again with a delay", tag, remainingSeconds);
      return true;
    }
    changeVisibility(
        message.receiptHandle(), (int) Math.min(MAX_VISIBILITY_SECONDS, remainingSeconds));
    return true;
  }

  /**
   * {@code body} with its ETA moved to {@code due} when earlier; as it is when it does not decode.
   */
  private static String dueNoEarlierThan(String body, Instant due) {
    try {
      Signature signature = WireCodec.decodeSignature(body.getBytes(StandardCharsets.UTF_8));
      if (signature.eta() != null && !signature.eta().toInstant().isBefore(due)) {
        return body;
      }
      return new String(
          WireCodec.encode(signature.toBuilder().eta(due).build()), StandardCharsets.UTF_8);
    } catch (RuntimeException e) {
      return body; // the worker dead-letters it
    }
  }

  private static @Nullable Instant etaOf(String body) {
    try {
      Signature signature = WireCodec.decodeSignature(body.getBytes(StandardCharsets.UTF_8));
      return signature.eta() == null ? null : signature.eta().toInstant();
    } catch (MalformedMessageException e) {
      return null; // the worker dead-letters it
    }
  }

  // ------------------------------------------------------------------------------------------
  // settling

  /** {@code delivery} needs no more extensions (see {@link SqsDelivery}). */
  void leftHeartbeat(SqsDelivery delivery) {
    inFlight.remove(delivery);
  }

  void delete(String receiptHandle) {
    client.deleteMessage(
        r -> r.queueUrl(queueUrl).receiptHandle(receiptHandle).overrideConfiguration(bound));
  }

  /**
   * Deletes a handled message through the batcher (one call per up to ten acknowledgements when
   * busy).
   */
  java.util.concurrent.CompletableFuture<Void> deleteHandled(String receiptHandle) {
    return deletes.delete(receiptHandle);
  }

  void changeVisibility(String receiptHandle, int seconds) {
    try {
      client.changeMessageVisibility(
          r ->
              r.queueUrl(queueUrl)
                  .receiptHandle(receiptHandle)
                  .visibilityTimeout(Math.max(0, Math.min(MAX_VISIBILITY_SECONDS, seconds)))
                  .overrideConfiguration(bound));
    } catch (SdkException e) {
      log.warn(
          "SQS consumer {}: could not change the visibility of a message of {} ({}); it comes back after its"
              + " visibility timeout",
          tag,
          queue,
          e.getMessage());
    }
  }

  private void makeVisible(String receiptHandle) {
    changeVisibility(receiptHandle, 0);
  }

  /**
   * Re-sends {@code body} to this queue after {@code delaySeconds} (FIFO: in the original message
   * group). A FIFO queue cannot delay one message, so there the delay becomes the task's ETA (when
   * later than its own), which the consumer holds the message invisible until: without it a
   * limited, parked or failing task would come straight back, a requeue loop. A standard queue
   * delays a message at most 15 minutes, so a longer delay becomes the ETA there too, and the
   * message hops until it (see {@link #holdUntilEta}) instead of running after 15 minutes.
   */
  void resend(String body, int delaySeconds, @Nullable String groupId, String deduplicationId) {
    boolean needsEta = fifo ? delaySeconds > 0 : delaySeconds > SqsBroker.MAX_DELAY.toSeconds();
    String sent =
        needsEta
            ? dueNoEarlierThan(body, broker.clock().instant().plusSeconds(delaySeconds))
            : body;
    SendMessageRequest.Builder request =
        SendMessageRequest.builder()
            .queueUrl(queueUrl)
            .messageBody(sent)
            .overrideConfiguration(bound);
    if (fifo) {
      request
          .messageGroupId(groupId == null || groupId.isEmpty() ? "machinery" : groupId)
          .messageDeduplicationId(deduplicationId);
    } else {
      if (groupId != null && !groupId.isEmpty()) {
        request.messageGroupId(groupId); // a fair queue's tenant (SqsBroker.Builder.fairness)
      }
      if (delaySeconds > 0) {
        request.delaySeconds(Math.min(delaySeconds, (int) SqsBroker.MAX_DELAY.toSeconds()));
      }
    }
    broker.send(request.build(), "requeue a message of queue " + queue);
  }

  /**
   * One heartbeat tick. Nothing may escape it: a scheduled task that throws is never run again, and
   * every message in flight would then come back after its visibility timeout while its task still
   * runs. A failing batch does not stop the others; a failure is logged once (with what failed)
   * until a tick succeeds again.
   */
  private void extendInFlight() {
    long now = System.nanoTime();
    if (now - lastTickNanos < heartbeatPeriodNanos / 2) {
      return; // a missed tick run late right after the one before: that one extended them all
    }
    lastTickNanos = now;
    Throwable failure = null;
    int failed = 0;
    int refused = 0;
    String refusal = "";
    try {
      List<SqsDelivery> all = new ArrayList<>(inFlight);
      for (int from = 0; from < all.size(); from += MAX_BATCH) {
        List<SqsDelivery> batch = new ArrayList<>(MAX_BATCH);
        try {
          // each taken into the extension until SQS answered: a settlement that changes the
          // visibility itself meanwhile waits, so its change is not overwritten by this one; one
          // that left the heartbeat since the snapshot is left out (one whose delete is still in
          // flight is extended: it must stay hidden until SQS confirmed the delete)
          for (SqsDelivery delivery : all.subList(from, Math.min(all.size(), from + MAX_BATCH))) {
            if (delivery.beginExtension()) {
              batch.add(delivery);
            }
          }
          if (batch.isEmpty()) {
            continue;
          }
          List<BatchResultErrorEntry> notExtended = extend(batch);
          if (!notExtended.isEmpty()) {
            refused += notExtended.size();
            refusal = notExtended.getFirst().code() + ": " + notExtended.getFirst().message();
          }
        } catch (Throwable t) { // an Error too: the next tick must still run
          failure = failure == null ? t : failure;
          failed += batch.size();
        } finally {
          batch.forEach(SqsDelivery::extensionEnded);
        }
      }
    } catch (Throwable t) {
      failure = failure == null ? t : failure;
    }
    reportRefused(refused, refusal);
    if (failure == null) {
      if (heartbeatFailing) {
        heartbeatFailing = false;
        log.info("SQS consumer {}: the visibility heartbeat of {} works again", tag, queue);
      }
      return;
    }
    if (!heartbeatFailing) {
      heartbeatFailing = true;
      log.warn(
          "SQS consumer {}: the visibility heartbeat of {} failed for {} message(s) in flight ({}); they"
              + " come back after their visibility timeout ({} s) unless a later tick succeeds;"
              + " retrying every tick, logged again only once it works",
          tag,
          queue,
          failed,
          failure.toString(),
          visibilitySeconds,
          failure);
    } else {
      log.debug("SQS consumer {}: visibility heartbeat still failing: {}", tag, failure.toString());
    }
  }

  /**
   * Logs the extensions SQS refused in one tick (an expired or stale receipt handle: that message
   * may come back while its task runs) as a warning when their number changed since the last tick,
   * else at debug: a message refused on every tick logs one warning, not one per tick.
   */
  private void reportRefused(int refused, String refusal) {
    if (refused == lastRefused) {
      if (refused > 0) {
        log.debug("SQS consumer {}: SQS still refuses {} extension(s)", tag, refused);
      }
      return;
    }
    lastRefused = refused;
    if (refused > 0) {
      log.warn(
          "SQS consumer {}: SQS refused to extend the visibility of {} message(s) in flight of {}"
              + " (first: {}); they may come back while their tasks run, and run again",
          tag,
          refused,
          queue,
          refusal);
    }
  }

  /**
   * Extends one batch; returns the entries SQS refused, but for messages being settled (whose
   * delete may have landed first).
   */
  private List<BatchResultErrorEntry> extend(List<SqsDelivery> batch) {
    List<ChangeMessageVisibilityBatchRequestEntry> entries = new ArrayList<>();
    for (int i = 0; i < batch.size(); i++) {
      entries.add(
          ChangeMessageVisibilityBatchRequestEntry.builder()
              .id(Integer.toString(i))
              .receiptHandle(batch.get(i).receiptHandle())
              .visibilityTimeout(visibilitySeconds)
              .build());
    }
    long sent = System.nanoTime();
    ChangeMessageVisibilityBatchResponse response =
        client.changeMessageVisibilityBatch(
            r -> r.queueUrl(queueUrl).entries(entries).overrideConfiguration(bound));
    long confirmed = System.nanoTime();
    int late = 0;
    for (ChangeMessageVisibilityBatchResultEntry extended : response.successful()) {
      if (batch.get(Integer.parseInt(extended.id())).extendedAfterALapse(sent, confirmed)) {
        late++;
      }
    }
    List<BatchResultErrorEntry> refused = new ArrayList<>();
    for (BatchResultErrorEntry error : response.failed()) {
      // a message being settled may have been deleted before this extension reached SQS
      if (!batch.get(Integer.parseInt(error.id())).settling()) {
        refused.add(error);
      }
    }
    if (late > 0) {
      log.warn(
          "SQS consumer {}: the visibility heartbeat of {} came too late for {} message(s) (the"
              + " request took {} ms; the visibility timeout is {} s): SQS may have handed them to"
              + " another worker, which runs them again (this process or SQS stalled: the heartbeat ticks"
              + " every third of the timeout)",
          tag,
          queue,
          late,
          (confirmed - sent) / 1_000_000,
          visibilitySeconds);
    }
    return refused;
  }

  // ------------------------------------------------------------------------------------------
  // stopping

  @Override
  public void stopFetching(Duration timeout) {
    if (fetching.compareAndSet(true, false)) {
      reserving.forEach(Thread::interrupt);
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Thread poller : pollers) {
      if (poller == Thread.currentThread()) {
        continue; // a poller that failed, closing its consumer: it cannot wait for itself
      }
      try {
        long left = deadline - System.nanoTime();
        if (left > 0) {
          poller.join(Duration.ofNanos(left));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** The broker closes: see {@link BrokerClosing}. */
  void brokerClosed() {
    BrokerClosing.close(this, fetching.get(), handler, "SQS", tag, queue);
  }

  @Override
  public void close() {
    stopFetching(Duration.ofSeconds(waitSeconds).plus(RECEIVE_MARGIN));
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (Thread poller : pollers) {
      if (poller.isAlive()) {
        log.warn(
            "SQS consumer {}: a receive on {} did not return within {} s of the long-poll wait; messages it"
                + " brings stay hidden until their visibility timeout",
            tag,
            queue,
            waitSeconds + RECEIVE_MARGIN.toSeconds());
      }
    }
    heartbeat.shutdownNow();
    for (SqsDelivery delivery : List.copyOf(inFlight)) {
      delivery.returnToQueue();
    }
    deletes.close();
    broker.forget(this);
  }

  @Override
  public String toString() {
    return "SqsConsumer{" + tag + " " + queue + "}";
  }
}
