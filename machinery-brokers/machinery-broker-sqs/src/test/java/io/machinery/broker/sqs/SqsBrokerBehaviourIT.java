package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;
import software.amazon.awssdk.services.sqs.model.ReceiveMessageRequest;

/**
 * SQS specifics beyond the broker kit: FIFO rules, ETAs past SQS's 15 minutes, the heartbeat, dead
 * letters.
 */
class SqsBrokerBehaviourIT {
  @RegisterExtension static final SqsTestResources sqs = new SqsTestResources();

  private Config config;
  private SqsBroker broker;

  @BeforeEach
  void createBroker() {
    config = sqs.queue("sqs_it_");
    broker = sqs.closeLater(SqsTestQueues.broker(config));
    SqsQueues.create(SqsTestQueues.client(), config.defaultQueue());
  }

  private Signature routed(Signature s) {
    return s.routingKey().isEmpty() ? s.toBuilder().routingKey(config.defaultQueue()).build() : s;
  }

  private void publish(Signature s) {
    Signature r = routed(s);
    broker.publish(r, WireCodec.encode(r));
  }

  private void publishRawNow(String queue, Signature s) {
    SqsTestQueues.client()
        .sendMessage(
            r ->
                r.queueUrl(SqsTestQueues.url(queue))
                    .messageBody(new String(WireCodec.encode(routed(s)), StandardCharsets.UTF_8)));
  }

  /** Messages waiting in the test's queue, with their group ids (taken: invisible afterwards). */
  private List<Message> receiveWithGroupIds(int count) {
    List<Message> got = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              got.addAll(
                  SqsTestQueues.client()
                      .receiveMessage(
                          ReceiveMessageRequest.builder()
                              .queueUrl(SqsTestQueues.url(config.defaultQueue()))
                              .messageSystemAttributeNames(
                                  MessageSystemAttributeName.MESSAGE_GROUP_ID)
                              .maxNumberOfMessages(10)
                              .waitTimeSeconds(1)
                              .build())
                      .messages());
              return got.size() >= count;
            });
    return got;
  }

  private static String groupId(Message m) {
    return m.attributes().get(MessageSystemAttributeName.MESSAGE_GROUP_ID);
  }

  @Test
  void withFairnessAKeyedTaskCarriesItsKeyAsTheMessageGroupIdOfAFairQueue() {
    try (SqsBroker fair = SqsBroker.builder(config).createQueues(true).fairness(true).build()) {
      Signature keyed =
          routed(Signature.builder("t").args(Arg.of("k")).fairnessKey("tenant-7").build());
      fair.publish(keyed, WireCodec.encode(keyed));
      Signature spaced =
          routed(Signature.builder("t").args(Arg.of("s")).fairnessKey("tenant 8 ü").build());
      fair.publish(spaced, WireCodec.encode(spaced));
      Signature plain = routed(Signature.builder("t").args(Arg.of("p")).build());
      fair.publish(plain, WireCodec.encode(plain));
    }
    List<Message> got = receiveWithGroupIds(3);
    java.util.Map<String, String> groups = new java.util.HashMap<>();
    for (Message m : got) {
      Signature s = WireCodec.decodeSignature(m.body().getBytes(StandardCharsets.UTF_8));
      groups.put(String.valueOf(s.args().get(0).value()), String.valueOf(groupId(m)));
    }
    assertThat(groups.get("k")).isEqualTo("tenant-7");
    assertThat(groups.get("s")) // SQS takes no spaces or non-ASCII: a hash of the key
        .isEqualTo(SqsBroker.tenantId("tenant 8 ü"))
        .matches("key-[0-9a-f]{32}");
    assertThat(groups.get("p")).isEqualTo("null");
  }

  @Test
  void withoutFairnessAKeyedTaskIsSentAsGoSendsIt() {
    publish(Signature.builder("t").args(Arg.of("k")).fairnessKey("tenant-7").build());
    assertThat(groupId(receiveWithGroupIds(1).get(0))).isNull();
  }

  @Test
  void aConsumerWhosePollerFailsTellsItsHandlerItEnded() {
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("it", config.defaultQueue(), handler));
    handler.failWith(new IllegalStateException("a handler with a bug"));
    publish(Signature.create("add")); // ends the poller's long poll: it reserves again
    await().atMost(Duration.ofSeconds(30)).until(() -> !handler.endings().isEmpty());
    assertThat(handler.endings())
        .as("the worker must start a new consumer (which stops the other pollers)")
        .allSatisfy(e -> assertThat(e).hasMessage("a handler with a bug"));
  }

  @Test
  void aRequeuedMessageKeepsItsTenant() throws Exception {
    try (SqsBroker fair = SqsBroker.builder(config).createQueues(true).fairness(true).build()) {
      Signature keyed =
          routed(Signature.builder("t").args(Arg.of("k")).fairnessKey("tenant-7").build());
      fair.publish(keyed, WireCodec.encode(keyed));
      RecordingHandler handler = new RecordingHandler(1);
      io.machinery.spi.Consumption consumption =
          fair.startConsuming("fair", config.defaultQueue(), handler);
      Delivery delivery = handler.next(20);
      assertThat(delivery).isNotNull();
      delivery.requeue(Duration.ZERO, delivery.body()); // sent again, this copy deleted
      consumption.close();
    }
    assertThat(groupId(receiveWithGroupIds(1).get(0))).isEqualTo("tenant-7");
  }

  @Test
  void theBodyIsGosJsonAndNothingElse() {
    Signature add = routed(Signature.create("add", Arg.of(1L), Arg.of(2L)));
    broker.publish(add, WireCodec.encode(add));
    Message message = SqsTestQueues.receive(config.defaultQueue(), 5, 30).getFirst();
    assertThat(message.body()).isEqualTo(new String(WireCodec.encode(add), StandardCharsets.UTF_8));
    assertThat(message.messageAttributes()).isEmpty();
  }

  @Test
  void aFifoTaskNeedsAGroupIdAndIsDeduplicatedByItsUuid() throws Exception {
    String fifo = config.defaultQueue() + ".fifo";
    SqsTestQueues.track(fifo);
    assertThatThrownBy(() -> publish(Signature.builder("add").routingKey(fifo).build()))
        .hasMessageContaining(
            "please specify BrokerMessageGroupId attribute for task Signature when submitting a task to FIFO queue");
    List<Signature> sent = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Signature s =
          routed(
              Signature.builder("add")
                  .routingKey(fifo)
                  .brokerMessageGroupId("g1")
                  .args(Arg.of((long) i))
                  .build());
      publish(s);
      sent.add(s);
    }
    publish(sent.get(1)); // the same UUID again: SQS drops it (deduplication id = UUID)
    RecordingHandler handler = new RecordingHandler(10);
    sqs.closeLater(broker.startConsuming("fifo", fifo, handler));
    List<String> got = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Delivery d = handler.next(20);
      assertThat(d).isNotNull();
      got.add(WireCodec.decodeSignature(d.body()).uuid());
      handler.ack(d);
    }
    assertThat(got).containsExactlyElementsOf(sent.stream().map(Signature::uuid).toList());
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(10))
        .until(() -> handler.waiting() == 0);
  }

  /**
   * A FIFO queue cannot delay one message, yet a limited or parked task is handed back with a delay
   * and a replacement body: it must not come back before the delay.
   */
  @Test
  void aFifoRequeueWithAReplacementWaitsForItsDelay() throws Exception {
    String fifo = config.defaultQueue() + ".fifo";
    SqsTestQueues.track(fifo);
    Signature task =
        routed(Signature.builder("add").routingKey(fifo).brokerMessageGroupId("g1").build());
    publish(task);
    RecordingHandler handler = new RecordingHandler(10);
    sqs.closeLater(broker.startConsuming("fifo-requeue", fifo, handler));
    Delivery first = handler.next(20);
    assertThat(first).isNotNull();
    long handedBackAt = System.nanoTime();
    first.requeue(
        Duration.ofSeconds(3),
        WireCodec.encode(task.toBuilder().header("machinery_limited", "1").build()));
    Delivery again = handler.next(30);
    assertThat(again).isNotNull();
    assertThat(Duration.ofNanos(System.nanoTime() - handedBackAt))
        .isGreaterThanOrEqualTo(Duration.ofMillis(2900));
    assertThat(WireCodec.decodeSignature(again.body()).headers())
        .containsEntry("machinery_limited", "1");
    handler.ack(again);
  }

  @Test
  void anEtaBeyondFifteenMinutesIsAcceptedAndNeverDeliveredEarly() throws Exception {
    publish(
        Signature.builder("later")
            .eta(Instant.now().plus(Duration.ofMinutes(40)))
            .build()); // Go refuses this
    // Received early (as a Go producer's truncated delay or a hop makes it): sent again with a
    // delay, not run.
    publishRawNow(
        config.defaultQueue(),
        Signature.builder("later2").eta(Instant.now().plus(Duration.ofMinutes(20))).build());
    RecordingHandler handler = new RecordingHandler(5);
    sqs.closeLater(broker.startConsuming("eta", "", handler));
    await().atMost(Duration.ofSeconds(20)).until(() -> delayedCount() == 2);
    assertThat(handler.handedOver()).isZero();
  }

  private int delayedCount() {
    return Integer.parseInt(
        SqsTestQueues.client()
            .getQueueAttributes(
                r ->
                    r.queueUrl(SqsTestQueues.url(config.defaultQueue()))
                        .attributeNamesWithStrings("ApproximateNumberOfMessagesDelayed"))
            .attributesAsStrings()
            .get("ApproximateNumberOfMessagesDelayed"));
  }

  @Test
  void aTaskReceivedBeforeItsEtaIsHeldUntilIt() throws Exception {
    Instant eta = Instant.now().plusMillis(2_500);
    publishRawNow(config.defaultQueue(), Signature.builder("soon").eta(eta).build());
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("hold", "", handler));
    Delivery d = handler.next(20);
    assertThat(d).isNotNull();
    assertThat(Instant.now()).isAfterOrEqualTo(eta);
    handler.ack(d);
  }

  @Test
  void aTaskLongerThanTheVisibilityTimeoutRunsOnceAcrossTwoWorkers() throws Exception {
    // 2 s: the heartbeat extends every third of it, so only a stall of 1.3 s (of this JVM or of
    // ElasticMQ, on a loaded host) could let the message out; 1 s left 0.7 s
    Config twoSeconds = config.toBuilder().sqs(new SqsConfig(1, 2, false)).build();
    SqsBroker b = SqsBroker.builder(twoSeconds).createQueues(true).build();
    MemoryBackend backend = MemoryBackend.create(twoSeconds, Clock.systemUTC());
    Server server = Server.builder().config(twoSeconds).broker(b).backend(backend).build();
    sqs.closeLater(b);
    sqs.closeLater(backend);
    sqs.closeLater(server);
    AtomicInteger runs = new AtomicInteger();
    server.registerTask(
        "slow",
        TaskFunction.of(
            Long.class,
            ms -> {
              runs.incrementAndGet();
              try {
                Thread.sleep(ms); // the task's own work, 2.5 visibility timeouts long
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return ms;
            }));
    server.newWorker("w1", 2).launchAsync();
    server.newWorker("w2", 2).launchAsync();
    long started = System.nanoTime();
    AsyncResult result = server.sendTask(Signature.create("slow", Arg.of(5_000L)));
    assertThat(result.get(Duration.ofSeconds(30))).containsExactly(5_000L);
    System.out.printf(
        "[sqs-heartbeat] a 5 s task with a 2 s visibility timeout ran %d time(s) in %d ms%n",
        runs.get(), (System.nanoTime() - started) / 1_000_000);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(() -> runs.get() == 1);
  }

  /**
   * Go's {@code StopTaskDeletionOnError}: a failed task's message is not deleted, so it returns
   * after the visibility timeout (for the queue's redrive policy); without the flag a failed task's
   * message is deleted.
   */
  @Test
  void stopTaskDeletionOnErrorKeepsAFailedTasksMessageAndOnlyThen() throws Exception {
    Config short1s = config.toBuilder().sqs(new SqsConfig(1, 1, false)).build();
    SqsBroker b = SqsBroker.builder(short1s).createQueues(true).build();
    MemoryBackend backend = MemoryBackend.create(short1s, Clock.systemUTC());
    Server server = Server.builder().config(short1s).broker(b).backend(backend).build();
    sqs.closeLater(b);
    sqs.closeLater(backend);
    sqs.closeLater(server);
    AtomicInteger keptRuns = new AtomicInteger();
    AtomicInteger deletedRuns = new AtomicInteger();
    server.registerTask(
        "fails_kept",
        TaskFunction.of(
            () -> {
              keptRuns.incrementAndGet();
              throw new IllegalStateException("boom");
            }));
    server.registerTask(
        "fails_deleted",
        TaskFunction.of(
            () -> {
              deletedRuns.incrementAndGet();
              throw new IllegalStateException("boom");
            }));
    server.newWorker("w", 2).launchAsync();
    AsyncResult kept =
        server.sendTask(Signature.builder("fails_kept").stopTaskDeletionOnError(true).build());
    AsyncResult deleted = server.sendTask(Signature.create("fails_deleted"));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> kept.state() == State.FAILURE && deleted.state() == State.FAILURE);
    await("the kept message comes back after the visibility timeout")
        .atMost(Duration.ofSeconds(20))
        .until(() -> keptRuns.get() >= 2);
    await()
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(5))
        .until(() -> deletedRuns.get() == 1);
  }

  @Test
  void aDeadLetterCarriesItsReasonAndSourceQueue() throws Exception {
    SqsTestQueues.client()
        .sendMessage(
            r -> r.queueUrl(SqsTestQueues.url(config.defaultQueue())).messageBody("{not json"));
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("dlq", "", handler));
    Delivery bad = handler.next(20);
    assertThat(bad).isNotNull();
    handler.deadLetter(bad, "malformed JSON at offset 1");
    String dlq = SqsBroker.deadLetterQueue(config.defaultQueue());
    List<Message> dead = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> dead.addAll(SqsTestQueues.receive(dlq, 1, 30)));
    assertThat(dead.getFirst().body()).isEqualTo("{not json");
    assertThat(
            dead.getFirst()
                .messageAttributes()
                .get(SqsBroker.DEAD_LETTER_REASON_ATTRIBUTE)
                .stringValue())
        .isEqualTo("malformed JSON at offset 1");
    assertThat(
            dead.getFirst()
                .messageAttributes()
                .get(SqsBroker.DEAD_LETTER_SOURCE_ATTRIBUTE)
                .stringValue())
        .isEqualTo(config.defaultQueue());
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
  }

  @Test
  void theDeliveryCountIsSqsReceiveCount() throws Exception {
    publish(Signature.create("unknown"));
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("count", "", handler));
    Delivery first = handler.next(20);
    assertThat(first.deliveryCount()).isEqualTo(1);
    handler.requeue(first, Duration.ZERO);
    Delivery second = handler.next(20);
    assertThat(second.deliveryCount()).isEqualTo(2);
    assertThat(second.redelivered()).isTrue();
    handler.ack(second);
  }

  @Test
  void aRequeueWithAReplacementDeliversTheReplacement() throws Exception {
    Signature original = routed(Signature.create("unknown"));
    publish(original);
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("replace", "", handler));
    Delivery first = handler.next(20);
    Signature counted = original.toBuilder().header("machinery_attempt", "2").build();
    first.requeue(Duration.ofSeconds(1), WireCodec.encode(counted));
    handler.release(1);
    Delivery second = handler.next(20);
    assertThat(WireCodec.decodeSignature(second.body()).headers())
        .containsEntry("machinery_attempt", "2");
    handler.ack(second);
  }

  @Test
  void stoppingDuringALongPollLosesNoMessage() throws Exception {
    Config longPoll = config.toBuilder().sqs(new SqsConfig(5, 30, false)).build();
    LongPolls polls = new LongPolls();
    SqsClient client = polls.client();
    sqs.closeLater(client);
    SqsBroker b = SqsBroker.builder(longPoll).client(client).build();
    sqs.closeLater(b);
    RecordingHandler first = new RecordingHandler(1);
    var consumer = b.startConsuming("long", "", first);
    // Once the poller is in its 5 s receive, a message arrives and the consumer stops at once.
    polls.awaitFirst();
    publish(Signature.create("add", Arg.of(1L)));
    consumer.stopFetching(Duration.ofSeconds(10));
    RecordingHandler second = new RecordingHandler(1);
    if (first.waiting() == 0) {
      sqs.closeLater(broker.startConsuming("after", "", second));
      Delivery d = second.next(5);
      assertThat(d)
          .as("the message is back at once, not after the 30 s visibility timeout")
          .isNotNull();
      second.ack(d);
    } else {
      first.ack(first.next(1));
    }
    consumer.close();
  }

  /**
   * A receive cannot be called back: SQS (and ElasticMQ) keep a long poll open after its client
   * went away, and a message arriving then is handed to nobody and stays hidden for the whole
   * visibility timeout. So closing the broker, which closes the client it built, must wait for its
   * pollers' receives to end (before the fix, close gave up after 5 s and cut an 8 s long poll
   * short: the next message vanished for 30 s).
   */
  @Test
  void closingTheBrokerDuringALongPollLeavesNoReceiveBehind() throws Exception {
    Config longPoll = config.toBuilder().sqs(new SqsConfig(8, 30, false)).build();
    LongPolls polls = new LongPolls();
    SqsClient client = polls.client();
    SqsBroker b = SqsBroker.builder(longPoll).client(client).build();
    RecordingHandler handler = new RecordingHandler(1);
    b.startConsuming("closing", "", handler);
    // Once the poller is in its 8 s receive on the empty queue, close the broker, then its client
    // (as a broker that built its client does: a receive still open then is abandoned)
    polls.awaitFirst();
    b.close();
    client.close();
    publishRawNow(config.defaultQueue(), Signature.create("add", Arg.of(1L)));
    List<Message> got = SqsTestQueues.receive(config.defaultQueue(), 3, 30);
    assertThat(got)
        .as("the message sent after close is there at once, not hidden by an abandoned receive")
        .hasSize(1);
    assertThat(handler.handedOver()).isZero();
  }

  /**
   * A client for the test's broker that reports its long polls: each ReceiveMessage with a wait is
   * counted as it leaves for the server, so a test can act while a poller is in its receive.
   */
  private static final class LongPolls implements ExecutionInterceptor {
    private final CountDownLatch sent = new CountDownLatch(1);

    SqsClient client() {
      return AwsClients.forSqsBroker(TestEndpoints.sqsUrl())
          .build(SqsClient.builder().overrideConfiguration(o -> o.addExecutionInterceptor(this)));
    }

    @Override
    public void beforeTransmission(
        Context.BeforeTransmission context, ExecutionAttributes executionAttributes) {
      if (context.request() instanceof ReceiveMessageRequest r
          && r.waitTimeSeconds() != null
          && r.waitTimeSeconds() > 0) {
        sent.countDown();
      }
    }

    void awaitFirst() throws InterruptedException {
      assertThat(sent.await(30, TimeUnit.SECONDS)).as("the poller sent a long poll").isTrue();
    }
  }

  /**
   * A retry whose back-off passes SQS's 15 minutes (RetryTimeout 1,000 s: Go's Fibonacci step makes
   * it 1,597 s) is published, not refused (Go's SQS broker fails "Max AWS SQS delay exceeded" and
   * the retry is lost), waits as a delayed message, and does not run early.
   */
  @Test
  void aRetryBeyondFifteenMinutesWaitsAndDoesNotRunEarly() throws Exception {
    MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
    Server server = Server.builder().config(config).broker(broker).backend(backend).build();
    sqs.closeLater(backend);
    sqs.closeLater(server);
    AtomicInteger runs = new AtomicInteger();
    server.registerTask(
        "fails_once",
        TaskFunction.of(
            () -> {
              runs.incrementAndGet();
              throw new IllegalStateException("boom");
            }));
    server.newWorker("retry", 2).launchAsync();
    AsyncResult result =
        server.sendTask(Signature.builder("fails_once").retryCount(1).retryTimeout(1_000).build());
    // the retry's send stores PENDING, as Go's SendTask does
    await().atMost(Duration.ofSeconds(20)).until(() -> runs.get() == 1 && delayedCount() == 1);
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(() -> runs.get() == 1 && result.state() == State.PENDING && delayedCount() == 1);
  }

  /** Fetch only for free slots: SQS hides only as many messages as the consumer has free slots. */
  @Test
  void aConsumerReceivesOnlyForItsFreeSlots() throws Exception {
    for (int i = 0; i < 12; i++) {
      publish(Signature.create("add", Arg.of((long) i)));
    }
    RecordingHandler handler = new RecordingHandler(3);
    sqs.closeLater(broker.startConsuming("slots", "", handler));
    await().atMost(Duration.ofSeconds(20)).until(() -> handler.handedOver() == 3);
    await()
        .during(Duration.ofSeconds(2))
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                handler.handedOver() == 3
                    && queueCount("ApproximateNumberOfMessagesNotVisible") == 3
                    && queueCount("ApproximateNumberOfMessages") == 9);
    handler.ack(handler.next(1));
    await().atMost(Duration.ofSeconds(20)).until(() -> handler.handedOver() == 4);
    await()
        .during(Duration.ofSeconds(1))
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                queueCount("ApproximateNumberOfMessagesNotVisible") == 3
                    && queueCount("ApproximateNumberOfMessages") == 8);
  }

  private int queueCount(String attribute) {
    return Integer.parseInt(
        SqsTestQueues.client()
            .getQueueAttributes(
                r ->
                    r.queueUrl(SqsTestQueues.url(config.defaultQueue()))
                        .attributeNamesWithStrings(attribute))
            .attributesAsStrings()
            .get(attribute));
  }
}
