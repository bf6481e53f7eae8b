package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.RetryTaskLaterException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityBatchRequest;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityRequest;
import software.amazon.awssdk.services.sqs.model.CreateQueueRequest;
import software.amazon.awssdk.services.sqs.model.MessageAttributeValue;
import software.amazon.awssdk.services.sqs.model.QueueAttributeName;
import software.amazon.awssdk.services.sqs.model.QueueNameExistsException;
import software.amazon.awssdk.services.sqs.model.ReceiveMessageRequest;
import software.amazon.awssdk.services.sqs.model.SendMessageRequest;
import software.amazon.awssdk.services.sqs.model.SqsException;

/**
 * Edge cases of the SQS broker where a task could be lost, run out of order, run early or hang a
 * worker, and where bad input must still land where a person finds it:
 *
 * <ul>
 *   <li>a FIFO retry is deduplicated by its UUID and attempt, not by the UUID alone, so SQS does
 *       not drop it within five minutes of the first send;
 *   <li>a FIFO consumer receives one message per call, so a message group has at most one message
 *       in flight whatever the concurrency (Go's {@code MaxNumberOfMessages} 1);
 *   <li>a standard-queue requeue longer than SQS's 15-minute delay carries its due time as the
 *       task's ETA, so it hops instead of running early;
 *   <li>a FIFO dead-letter listing shows at most ten of one message group (SQS hides the rest while
 *       those are in flight), while the counts and a delete reach them all;
 *   <li>an acknowledgement returns when a delete batch threw anything, and later ones still work;
 *   <li>a dead letter SQS refuses for its size is kept as a preview; the dead-letter queues the
 *       broker creates keep messages 14 days, and one that exists already is used as it is;
 *   <li>a receive names the visibility timeout the heartbeat assumes;
 *   <li>a heartbeat tick in flight does not overwrite a requeue's visibility.
 * </ul>
 *
 * <p>Against ElasticMQ; where ElasticMQ does not behave as AWS does (it takes messages of any size
 * and any queue attributes), the client is wrapped to answer as AWS does.
 */
class SqsBrokerEdgeCasesIT {
  @RegisterExtension static final SqsTestResources sqs = new SqsTestResources();

  /**
   * A task on a FIFO queue that asks to be retried (or fails with retries left) is published again
   * with the same UUID. The FIFO deduplication id is the UUID, so SQS silently drops the retry when
   * it comes within five minutes of the first send: the task stays at RETRY for ever, nothing in
   * flight.
   */
  @Test
  void aFifoRetryWithinFiveMinutesIsNotDeduplicatedAway() throws Exception {
    Config config = sqs.fifoQueue("audit_fretry_");
    SqsBroker broker = sqs.closeLater(SqsTestQueues.broker(config));
    MemoryBackend backend = sqs.closeLater(MemoryBackend.create(config, Clock.systemUTC()));
    Server server =
        sqs.closeLater(Server.builder().config(config).broker(broker).backend(backend).build());
    AtomicInteger runs = new AtomicInteger();
    server.registerTask(
        "retry_once",
        TaskFunction.of(
            () -> {
              if (runs.incrementAndGet() == 1) {
                throw new RetryTaskLaterException("later", Duration.ofSeconds(1));
              }
              return "done";
            }));
    server.newWorker("fifo-retry", 2).launchAsync();
    AsyncResult result =
        server.sendTask(Signature.builder("retry_once").brokerMessageGroupId("g1").build());
    await("the FIFO retry runs and the task succeeds")
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(runs.get())
                  .as(
                      "runs of the task (state %s, messages left in the queue %d)",
                      result.state(), SqsTestQueues.approximateCount(config.defaultQueue()))
                  .isGreaterThanOrEqualTo(2);
              assertThat(result.state()).isEqualTo(State.SUCCESS);
            });
  }

  /**
   * Go's SQS consumer receives one message per free slot (MaxNumberOfMessages 1), so SQS never
   * hands out a second message of a FIFO group while the first is in flight: a group's tasks run
   * one after the other, in order, whatever the concurrency. A consumer must not have two messages
   * of one group in flight at once.
   */
  @Test
  void aFifoGroupHasAtMostOneMessageInFlight() throws Exception {
    Config config = sqs.fifoQueue("audit_fgroup_");
    SqsBroker broker = sqs.closeLater(SqsTestQueues.broker(config));
    for (int i = 0; i < 3; i++) {
      Signature s =
          Signature.builder("ordered")
              .routingKey(config.defaultQueue())
              .brokerMessageGroupId("g1")
              .args(Arg.of((long) i))
              .build();
      broker.publish(s, WireCodec.encode(s));
    }
    RecordingHandler handler = new RecordingHandler(10);
    sqs.closeLater(broker.startConsuming("fifo-group", config.defaultQueue(), handler));
    await().atMost(Duration.ofSeconds(20)).until(() -> handler.handedOver() >= 1);
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(handler.handedOver())
                    .as("messages of FIFO group g1 handed to the worker at once (none settled)")
                    .isEqualTo(1));
  }

  /**
   * {@link Delivery#requeue(Duration, byte[])} promises the replacement comes back after the delay.
   * On a standard queue a delay over SQS's 15 minutes is cut to 15 minutes, and the replacement
   * carries no ETA (only FIFO requeues get one), so the consumer hands it over after 15 minutes.
   * The request is recorded and the replacement checked for a due time no earlier than the delay.
   */
  @Test
  void aStandardRequeueLongerThanFifteenMinutesDoesNotComeBackEarly() throws Exception {
    Config config = sqs.queue("audit_long_");
    List<SendMessageRequest> sends = new CopyOnWriteArrayList<>();
    SqsBroker broker =
        sqs.broker(
            config,
            sqs.intercepting(
                request -> {
                  if (request instanceof SendMessageRequest s) {
                    sends.add(s);
                  }
                }));
    Signature task = Signature.builder("limited").routingKey(config.defaultQueue()).build();
    broker.publish(task, WireCodec.encode(task));
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("long", "", handler));
    Delivery d = handler.next(20);
    assertThat(d).isNotNull();
    sends.clear();
    Instant requeuedAt = Instant.now();
    d.requeue(
        Duration.ofMinutes(40), WireCodec.encode(task.toBuilder().header("limited", "1").build()));
    assertThat(sends).hasSize(1);
    SendMessageRequest sent = sends.getFirst();
    Signature replacement =
        WireCodec.decodeSignature(sent.messageBody().getBytes(StandardCharsets.UTF_8));
    assertThat(sent.delaySeconds()).isEqualTo(900);
    assertThat(replacement.eta())
        .as(
            "the replacement is delivered after %s s and must not run before the 40 minute delay",
            sent.delaySeconds())
        .isNotNull();
    assertThat(replacement.eta().toInstant()).isAfter(requeuedAt.plus(Duration.ofMinutes(39)));
  }

  /**
   * Dead letters of a FIFO queue: a listing receives batches while leaving what it read hidden, and
   * SQS hands out nothing more of a message group while some of it is in flight. So a listing of a
   * FIFO dead-letter queue with more than ten dead letters in one group shows the first ten (the
   * documented limit); the counts show all of them, and a delete, which settles what it receives,
   * reaches all of them.
   */
  @Test
  void aFifoDeadLetterListingShowsTheFirstTenOfOneGroupAndTheCountsAndDeletesReachAll() {
    Config config = sqs.fifoQueue("audit_fdlq_");
    String dlq = SqsBroker.deadLetterQueue(config.defaultQueue());
    SqsQueues.create(SqsTestQueues.client(), config.defaultQueue());
    SqsQueues.create(SqsTestQueues.client(), dlq);
    for (int i = 0; i < 15; i++) {
      int n = i;
      SqsTestQueues.client()
          .sendMessage(
              r ->
                  r.queueUrl(SqsTestQueues.url(dlq))
                      .messageBody("{not json " + n)
                      .messageGroupId("g1")
                      .messageDeduplicationId("d" + n)
                      .messageAttributes(
                          Map.of(
                              SqsBroker.DEAD_LETTER_REASON_ATTRIBUTE,
                              MessageAttributeValue.builder()
                                  .dataType("String")
                                  .stringValue("bad " + n)
                                  .build())));
    }
    SqsBroker broker = sqs.closeLater(SqsTestQueues.broker(config));
    Inspector inspector = broker.inspector().orElseThrow();
    List<DeadLetterEntry> listed = inspector.deadLetters(config.defaultQueue(), 0, 50);
    assertThat(listed)
        .as("dead letters listed: the first ten of group g1")
        .extracting(DeadLetterEntry::reason)
        .containsExactly(
            "bad 0", "bad 1", "bad 2", "bad 3", "bad 4", "bad 5", "bad 6", "bad 7", "bad 8",
            "bad 9");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(inspector.queue(config.defaultQueue()).deadLettered())
                    .as("dead letters counted")
                    .isEqualTo(15));
    assertThat(inspector.deleteDeadLetters(config.defaultQueue(), e -> true))
        .as("dead letters deleted")
        .isEqualTo(15);
  }

  /**
   * The delete batcher's thread sends every acknowledgement. If one DeleteMessageBatch throws
   * anything but an SdkException (an Error, or a RuntimeException from a wrapped client), the
   * thread dies: that ack and every later one wait on a future nobody completes, and {@code
   * Delivery.ack()} joins it without a timeout, so the worker's task threads hang for ever.
   */
  @Test
  void anAckReturnsEvenAfterADeleteBatchThrewSomethingUnexpected() throws Exception {
    Config config = sqs.queue("audit_ack_");
    SqsBroker broker =
        sqs.broker(
            config,
            sqs.failing(
                "deleteMessageBatch",
                new AtomicInteger(),
                // what a closed SqsClient throws (not an SdkException): "Connection pool shut down"
                n -> n == 1 ? new IllegalStateException("Connection pool shut down") : null));
    for (int i = 0; i < 2; i++) {
      Signature s = Signature.builder("t").routingKey(config.defaultQueue()).build();
      broker.publish(s, WireCodec.encode(s));
    }
    RecordingHandler handler = new RecordingHandler(2);
    sqs.closeLater(broker.startConsuming("ack", "", handler));
    Delivery first = handler.next(20);
    Delivery second = handler.next(20);
    assertThat(first).isNotNull();
    assertThat(second).isNotNull();
    CompletableFuture<Void> firstAck = CompletableFuture.runAsync(first::ack);
    // the first may fail (logged, the message comes back): it must return
    try {
      firstAck.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      // acceptable
    } catch (java.util.concurrent.TimeoutException e) {
      // report below with the second ack, which has no failure injected
    }
    CompletableFuture<Void> secondAck = CompletableFuture.runAsync(second::ack);
    boolean secondReturned;
    try {
      secondAck.get(10, TimeUnit.SECONDS);
      secondReturned = true;
    } catch (java.util.concurrent.TimeoutException e) {
      secondReturned = false;
    }
    assertThat(firstAck.isDone()).as("the ack whose delete batch threw returned").isTrue();
    assertThat(secondReturned).as("a later ack, with SQS healthy again, returned").isTrue();
  }

  /**
   * AWS refuses a message whose body and attributes exceed the queue's {@code MaximumMessageSize}
   * (ElasticMQ takes any size, so the client answers as AWS does for dead letters over 200 KB). A
   * dead letter within {@code MaxMessageBytes} is sent whole, so it would be refused on every try
   * and come back every 30 s for ever; it is kept as a preview instead.
   */
  @Test
  void aDeadLetterRefusedForItsSizeIsKeptAsAPreview() throws Exception {
    Config config = sqs.queue("edge_dlsize_");
    String dlq = SqsBroker.deadLetterQueue(config.defaultQueue());
    SqsClient client =
        sqs.intercepting(
            request -> {
              if (request instanceof SendMessageRequest s
                  && s.queueUrl().endsWith("/" + dlq)
                  && s.messageBody().length() > 200_000) {
                throw SqsException.builder()
                    .statusCode(400)
                    .message(
                        "One or more parameters are invalid. Reason: Message must be shorter than"
                            + " 262144 bytes.")
                    .awsErrorDetails(
                        AwsErrorDetails.builder()
                            .errorCode("InvalidParameterValue")
                            .errorMessage("Message must be shorter than 262144 bytes.")
                            .build())
                    .build();
              }
            });
    SqsBroker broker = sqs.broker(config, client);
    Signature big =
        Signature.builder("big")
            .routingKey(config.defaultQueue())
            .args(Arg.of("x".repeat(250_000)))
            .build();
    broker.publish(big, WireCodec.encode(big));
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("dlsize", "", handler));
    Delivery d = handler.next(20);
    assertThat(d).isNotNull();
    d.deadLetter("refused by the worker");
    List<DeadLetterEntry> dead =
        broker.inspector().orElseThrow().deadLetters(config.defaultQueue(), 0, 10);
    assertThat(dead).as("the dead letter, kept as a preview").hasSize(1);
    assertThat(dead.getFirst().reason()).isEqualTo("refused by the worker");
    assertThat(dead.getFirst().message().length).isLessThan(200_000);
    await("the original deleted")
        .atMost(Duration.ofSeconds(10))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
  }

  /**
   * SQS keeps a message 4 days by default, too short to find bad input after a long weekend: the
   * dead-letter queues the broker creates keep theirs 14 days. A dead-letter queue that exists with
   * other attributes makes AWS refuse CreateQueue ({@code QueueNameExists}; ElasticMQ does not
   * compare attributes, so the client answers as AWS does): the broker uses it as it is. And a
   * receive names the visibility timeout the heartbeat assumes (the queue's, read at start).
   */
  @Test
  void deadLetterQueuesKeepFourteenDaysAndAnExistingOneIsUsedAsItIs() throws Exception {
    Config config = sqs.queue("edge_dlq_");
    String dlq = SqsBroker.deadLetterQueue(config.defaultQueue());
    List<CreateQueueRequest> creates = new CopyOnWriteArrayList<>();
    List<ReceiveMessageRequest> receives = new CopyOnWriteArrayList<>();
    SqsClient client =
        sqs.intercepting(
            request -> {
              if (request instanceof CreateQueueRequest c) {
                creates.add(c);
                if (c.queueName().equals(dlq) && creates.size() > 2) {
                  throw QueueNameExistsException.builder()
                      .statusCode(400)
                      .message("A queue already exists with the same name and a different value")
                      .build();
                }
              } else if (request instanceof ReceiveMessageRequest r) {
                receives.add(r);
              }
            });
    SqsBroker broker = sqs.broker(config, client);
    for (int i = 0; i < 2; i++) {
      Signature s = Signature.builder("bad").routingKey(config.defaultQueue()).build();
      broker.publish(s, WireCodec.encode(s));
    }
    RecordingHandler handler = new RecordingHandler(2);
    sqs.closeLater(broker.startConsuming("dlq", "", handler));
    Delivery first = handler.next(20);
    assertThat(first).isNotNull();
    first.deadLetter("bad");
    assertThat(creates)
        .filteredOn(c -> c.queueName().equals(dlq))
        .singleElement()
        .satisfies(
            c ->
                assertThat(c.attributes())
                    .containsEntry(QueueAttributeName.MESSAGE_RETENTION_PERIOD, "1209600"));
    assertThat(receives)
        .isNotEmpty()
        .allSatisfy(r -> assertThat(r.visibilityTimeout()).isEqualTo(30));

    // a second broker finds the dead-letter queue there, with other attributes
    SqsBroker again = sqs.closeLater(SqsBroker.builder(config).client(client).build());
    Delivery second = handler.next(20);
    assertThat(second).isNotNull();
    again.deadLetter(
        config.defaultQueue(),
        new String(second.body(), StandardCharsets.UTF_8),
        "bad again",
        null,
        "m2");
    second.ack();
    assertThat(broker.inspector().orElseThrow().deadLetters(config.defaultQueue(), 0, 10))
        .extracting(DeadLetterEntry::reason)
        .containsExactlyInAnyOrder("bad", "bad again");
  }

  /**
   * The heartbeat extends every message in flight to the visibility timeout; a requeue sets its
   * message's visibility to the delay. A tick that took the message in before the requeue but
   * reached SQS after the requeue's change set the visibility back to the heartbeat's: a message
   * requeued to run at once came back only after the whole timeout (one requeued for longer than
   * the timeout, too early). The client holds one tick's ChangeMessageVisibilityBatch before it
   * leaves for ElasticMQ until the requeue has had its own change answered, or waits for the tick,
   * then lets it go.
   */
  @Test
  void aRequeueDuringAHeartbeatTickIsNotOverwrittenByIt() throws Exception {
    Config config =
        sqs.queue(SqsTestQueues.config().sqs(new SqsConfig(1, 10, false)), "edge_tick_");
    HeldRequest tick = new HeldRequest(r -> r instanceof ChangeMessageVisibilityBatchRequest);
    SqsBroker broker = sqs.broker(config, sqs.client(tick));
    Signature task = Signature.builder("t").routingKey(config.defaultQueue()).build();
    broker.publish(task, WireCodec.encode(task));
    RecordingHandler handler = new RecordingHandler(1);
    Consumption consumption = sqs.closeLater(broker.startConsuming("tick", "", handler));
    Delivery delivery = handler.next(20);
    assertThat(delivery).isNotNull();
    // no receive may take the requeued message; the heartbeat goes on for what was handed over
    consumption.stopFetching(Duration.ofSeconds(10));
    tick.holdNext();
    tick.awaitHeld(); // the next tick (within a third of the 10 s) has the message in its batch
    Thread requeue =
        Thread.ofPlatform().name("edge-tick-requeue").start(() -> delivery.requeue(Duration.ZERO));
    await("the requeue's change answered by SQS, or the requeue waiting for the tick")
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                tick.answered(ChangeMessageVisibilityRequest.class) > 0
                    || waitsInSqsDelivery(requeue));
    tick.release();
    requeue.join(Duration.ofSeconds(30));
    assertThat(requeue.isAlive()).as("the requeue returned").isFalse();
    tick.awaitHeldAnswered();
    assertThat(SqsTestQueues.receive(config.defaultQueue(), 2, 30))
        .as(
            "the message requeued without a delay, visible at once (not after the heartbeat's 10 s)")
        .hasSize(1);
  }

  /**
   * Whether {@code thread} is parked in {@link SqsDelivery} itself (its lock), not in an SQS call
   * it made: the innermost frame of this library's code is there.
   */
  private static boolean waitsInSqsDelivery(Thread thread) {
    if (thread.getState() != Thread.State.WAITING) {
      return false;
    }
    for (StackTraceElement frame : thread.getStackTrace()) {
      if (frame.getClassName().startsWith("io.machinery.")) {
        return frame.getClassName().equals(SqsDelivery.class.getName());
      }
    }
    return false;
  }
}
