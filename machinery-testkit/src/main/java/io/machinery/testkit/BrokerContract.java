package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link Broker} passes. Subclass it with one factory method:
 *
 * <pre>{@code
 * class RedisBrokerIT extends BrokerContract {
 *   protected Broker createBroker(Config config) { return RedisBroker.create(config.toBuilder().broker(TestEndpoints.redisUrl()).build()); }
 * }
 * }</pre>
 *
 * <p>Each test runs on its own default queue ({@code kit_<random>}); the broker under test is
 * closed after it.
 */
public abstract class BrokerContract {
  /** Upper bound for anything a test waits for. */
  protected static final Duration PATIENCE = Duration.ofSeconds(20);

  protected Config config;
  protected Broker broker;
  private final List<Consumption> consumers = new ArrayList<>();

  /**
   * Builds the broker under test for {@code config} (whose default queue is unique to the test).
   */
  protected abstract Broker createBroker(Config config);

  /** The configuration tests start from; override to point at a server. */
  protected Config baseConfig() {
    return Config.DEFAULT;
  }

  @BeforeEach
  void createBrokerUnderTest() {
    config = uniqueQueue(baseConfig(), "kit_");
    broker = createBroker(config);
  }

  @AfterEach
  void closeBrokerUnderTest() {
    for (Consumption consumer : consumers) {
      consumer.close();
    }
    broker.close();
  }

  /**
   * {@code base} with a fresh default queue named {@code prefix<random>}, also used as the AMQP
   * binding key so that tests on one exchange never see each other's messages.
   */
  public static Config uniqueQueue(Config base, String prefix) {
    String queue = prefix + UUID.randomUUID().toString().substring(0, 8);
    return base.toBuilder().defaultQueue(queue).amqp(base.amqp().withBindingKey(queue)).build();
  }

  protected Signature publishTask(String name, long value) {
    return publishTask(Signature.builder(name).args(Arg.of(value)).build());
  }

  protected Signature publishTask(Signature signature) {
    Signature routed =
        signature.routingKey().isEmpty()
            ? signature.toBuilder()
                .routingKey(broker.routingKeyFor(signature))
                .headers(java.util.Map.of())
                .build()
            : signature;
    broker.publish(routed, WireCodec.encode(routed));
    return routed;
  }

  protected Consumption consume(String queue, RecordingHandler handler) {
    Consumption consumer = broker.startConsuming("kit-" + consumers.size(), queue, handler);
    consumers.add(consumer);
    return consumer;
  }

  protected static Signature decode(Delivery delivery) {
    return WireCodec.decodeSignature(delivery.body());
  }

  private static Delivery take(RecordingHandler handler) throws InterruptedException {
    Delivery delivery = handler.next(PATIENCE.toSeconds());
    if (delivery == null) {
      throw new AssertionError("no delivery within " + PATIENCE);
    }
    return delivery;
  }

  @Test
  void routingKeyForASignatureWithoutOneIsNotEmpty() {
    assertThat(broker.routingKeyFor(Signature.create("add"))).isNotEmpty();
  }

  @Test
  void publishedTasksAreDeliveredInOrderWithTheirBytesIntact() throws Exception {
    List<Signature> sent = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      sent.add(publishTask("add", i));
    }
    RecordingHandler handler = new RecordingHandler(10);
    consume("", handler);
    java.util.Map<String, Signature> byUuid = new java.util.HashMap<>();
    sent.forEach(s -> byUuid.put(s.uuid(), s));
    List<String> received = new ArrayList<>();
    for (int i = 0; i < sent.size(); i++) {
      Delivery delivery = take(handler);
      String uuid = decode(delivery).uuid();
      received.add(uuid);
      assertThat(byUuid).containsKey(uuid);
      assertThat(delivery.body())
          .isEqualTo(WireCodec.encode(java.util.Objects.requireNonNull(byUuid.get(uuid))));
      handler.ack(delivery);
    }
    List<String> expected = sent.stream().map(Signature::uuid).toList();
    if (deliversInPublishOrder()) {
      assertThat(received).containsExactlyElementsOf(expected);
    } else {
      assertThat(received).containsExactlyInAnyOrderElementsOf(expected);
    }
  }

  /**
   * Whether a queue hands out messages in publish order (an SQS standard queue only tries:
   * best-effort order).
   */
  protected boolean deliversInPublishOrder() {
    return true;
  }

  @Test
  void neverHandsOverMoreMessagesThanSlotsReserved() throws Exception {
    for (int i = 0; i < 6; i++) {
      publishTask("add", i);
    }
    RecordingHandler handler = new RecordingHandler(2);
    consume("", handler);
    await().atMost(PATIENCE).until(() -> handler.handedOver() == 2);
    await().during(Duration.ofMillis(300)).atMost(PATIENCE).until(() -> handler.handedOver() == 2);
    handler.ack(take(handler));
    await().atMost(PATIENCE).until(() -> handler.handedOver() == 3);
    assertThat(handler.handedOver()).isEqualTo(3);
  }

  @Test
  void aTaskWithAFutureEtaWaitsForIt() throws Exception {
    Instant eta = Instant.now().plusMillis(800);
    Signature delayed = publishTask(Signature.builder("delay_test").eta(eta).build());
    if (supportsDelayedTaskInspection()) {
      assertThat(broker.delayedTasks()).extracting(Signature::uuid).contains(delayed.uuid());
    } else {
      assertThatThrownBy(broker::delayedTasks).isInstanceOf(UnsupportedOperationException.class);
    }
    RecordingHandler handler = new RecordingHandler(1);
    consume("", handler);
    Delivery delivery = take(handler);
    Instant deliveredAt = Instant.now();
    assertThat(decode(delivery).uuid()).isEqualTo(delayed.uuid());
    assertThat(deliveredAt)
        .as("delivered no earlier than its ETA")
        .isAfterOrEqualTo(eta.minusMillis(50));
    handler.ack(delivery);
  }

  @Test
  void pendingTasksListsWaitingTasksWithoutTakingThem() throws Exception {
    if (!supportsPendingTaskInspection()) {
      // The SPI's contract for a broker that cannot list a queue (SQS): a clear refusal, never a
      // wrong list.
      assertThatThrownBy(() -> broker.pendingTasks(config.defaultQueue()))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    Signature a = publishTask("add", 1);
    Signature b = publishTask("add", 2);
    Signature c = publishTask("add", 3);
    await().atMost(PATIENCE).until(() -> broker.pendingTasks(config.defaultQueue()).size() == 3);
    assertThat(broker.pendingTasks(config.defaultQueue()))
        .extracting(Signature::uuid)
        .containsExactly(a.uuid(), b.uuid(), c.uuid());
    RecordingHandler handler = new RecordingHandler(3);
    consume("", handler);
    for (int i = 0; i < 3; i++) {
      handler.ack(take(handler));
    }
    await().atMost(PATIENCE).until(() -> broker.pendingTasks(config.defaultQueue()).isEmpty());
  }

  @Test
  void aRequeuedMessageComesBackNowOrAfterItsDelay() throws Exception {
    Signature sent = publishTask("unknown_here", 7);
    RecordingHandler handler = new RecordingHandler(1);
    consume("", handler);
    Delivery first = take(handler);
    handler.requeue(first, Duration.ZERO);
    Delivery second = take(handler);
    assertThat(decode(second).uuid()).isEqualTo(sent.uuid());
    Instant requeuedAt = Instant.now();
    handler.requeue(second, Duration.ofMillis(600));
    Delivery third = take(handler);
    assertThat(decode(third).uuid()).isEqualTo(sent.uuid());
    assertThat(Instant.now()).isAfterOrEqualTo(requeuedAt.plusMillis(550));
    handler.ack(third);
  }

  @Test
  void aDeadLetteredMessageIsNeverDeliveredAgain() throws Exception {
    publishRaw("this is not a task".getBytes(StandardCharsets.UTF_8));
    Signature good = publishTask("add", 1);
    RecordingHandler handler = new RecordingHandler(1);
    consume("", handler);
    Delivery bad = take(handler);
    assertThat(new String(bad.body(), StandardCharsets.UTF_8)).isEqualTo("this is not a task");
    handler.deadLetter(bad, "not JSON");
    Delivery next = take(handler);
    assertThat(decode(next).uuid()).isEqualTo(good.uuid());
    handler.ack(next);
    await().during(Duration.ofMillis(300)).atMost(PATIENCE).until(() -> handler.waiting() == 0);
  }

  /** Publishes bytes that are not a task message, as a misbehaving producer would. */
  protected void publishRaw(byte[] message) {
    Signature carrier = Signature.builder("raw").routingKey(config.defaultQueue()).build();
    broker.publish(carrier, message);
  }

  @Test
  void unsettledDeliveriesComeBackWhenTheirConsumerCloses() throws Exception {
    Signature sent = publishTask("add", 5);
    RecordingHandler first = new RecordingHandler(1);
    Consumption consumer = consume("", first);
    Delivery unsettled = take(first);
    assertThat(decode(unsettled).uuid()).isEqualTo(sent.uuid());
    consumer.close();
    RecordingHandler second = new RecordingHandler(1);
    consume("", second);
    Delivery again = take(second);
    assertThat(decode(again).uuid()).isEqualTo(sent.uuid());
    second.ack(again);
  }

  @Test
  void closingTheBrokerUnderARunningConsumerTellsItsHandler() {
    RecordingHandler running = new RecordingHandler(1);
    consume("", running);
    RecordingHandler closedByItsOwner = new RecordingHandler(1);
    consume("", closedByItsOwner).close();
    broker.close();
    await().atMost(PATIENCE).until(() -> !running.endings().isEmpty());
    assertThat(running.endings())
        .as("the consumer its broker closed says so, once")
        .singleElement()
        .isInstanceOf(IllegalStateException.class);
    assertThat(closedByItsOwner.endings()).as("a consumer its owner closed").isEmpty();
    assertThatThrownBy(() -> broker.startConsuming("kit-late", "", new RecordingHandler(1)))
        .as("a closed broker refuses a new consumer for good (a worker does not retry it)")
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void stopFetchingLeavesTheRestInTheQueue() throws Exception {
    for (int i = 0; i < 3; i++) {
      publishTask("add", i);
    }
    RecordingHandler handler = new RecordingHandler(1);
    Consumption consumer = consume("", handler);
    Delivery first = take(handler);
    consumer.stopFetching(PATIENCE);
    handler.ack(first);
    await().during(Duration.ofMillis(300)).atMost(PATIENCE).until(() -> handler.handedOver() == 1);
    if (supportsPendingTaskInspection()) {
      await().atMost(PATIENCE).until(() -> broker.pendingTasks(config.defaultQueue()).size() == 2);
    } else {
      RecordingHandler rest = new RecordingHandler(5);
      consume("", rest);
      rest.ack(take(rest));
      rest.ack(take(rest));
    }
  }

  @Test
  void aConsumerOfACustomQueueGetsOnlyThatQueue() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        customQueuesAreIsolated(),
        "this broker binds custom queues like the default one (Go's AMQP does)");
    String custom = config.defaultQueue() + "_custom";
    publishTask("add", 1);
    Signature mine =
        publishTask(Signature.builder("add").routingKey(custom).args(Arg.of(2L)).build());
    RecordingHandler handler = new RecordingHandler(5);
    consume(custom, handler);
    Delivery delivery = take(handler);
    assertThat(decode(delivery).uuid()).isEqualTo(mine.uuid());
    handler.ack(delivery);
    await().during(Duration.ofMillis(300)).atMost(PATIENCE).until(() -> handler.handedOver() == 1);
  }

  /**
   * Whether a custom queue receives only tasks routed to it; Go's AMQP broker binds a custom queue
   * with the default binding key, so it also gets default-routed tasks.
   */
  protected boolean customQueuesAreIsolated() {
    return true;
  }

  /**
   * Whether {@link Broker#pendingTasks} is supported (SQS cannot list a queue without receiving
   * from it).
   */
  protected boolean supportsPendingTaskInspection() {
    return true;
  }

  /** Whether {@link Broker#delayedTasks()} is supported (AMQP cannot list delayed tasks). */
  protected boolean supportsDelayedTaskInspection() {
    return true;
  }
}
