package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.GetResponse;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * How a worker's settlements reach RabbitMQ: requeue with a replacement body, the delivery count of
 * quorum queues, and messages too large for the worker (F7).
 */
class AmqpSettlementIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  @RegisterExtension static final AmqpTestResources rabbit = new AmqpTestResources();

  private Config config;
  private RabbitAdmin admin;

  @BeforeEach
  void setUp() throws Exception {
    config = rabbit.queue("amqp_settle_");
    admin = rabbit.admin();
  }

  private Signature publish(AmqpBroker b, Signature signature) {
    Signature routed = signature.toBuilder().routingKey(b.routingKeyFor(signature)).build();
    b.publish(routed, WireCodec.encode(routed));
    return routed;
  }

  @Test
  void aRequeueWithAReplacementBringsBackTheReplacementAndAcknowledgesTheOriginal()
      throws Exception {
    AmqpBroker broker = rabbit.broker(config);
    Signature sent = publish(broker, Signature.create("add"));
    RecordingHandler handler = new RecordingHandler(1);
    broker.startConsuming("it", "", handler);
    Delivery first = handler.next(20);
    assertThat(WireCodec.decodeSignature(first.body()).uuid()).isEqualTo(sent.uuid());
    byte[] counted = WireCodec.encode(sent.toBuilder().headers(Map.of("attempt", "1")).build());
    first.requeue(Duration.ZERO, counted);
    handler.release(1); // RecordingHandler frees a slot only for its own settle methods
    Delivery second = handler.next(20);
    assertThat(second.body()).isEqualTo(counted);

    byte[] again = WireCodec.encode(sent.toBuilder().headers(Map.of("attempt", "2")).build());
    second.requeue(Duration.ofMillis(5), again);
    handler.release(1);
    String requeueQueue = "delay.5.." + config.defaultQueue();
    RabbitAdmin.track(requeueQueue);
    // F20: a 5 ms requeue queue must not expire (2 x 5 ms, Go's rule) before the message's TTL
    // fires
    assertThat(((Map<?, ?>) RabbitAdmin.queueInfo(requeueQueue).get("arguments")).get("x-expires"))
        .isEqualTo(5 + (int) Topology.REQUEUE_QUEUE_SPARE_MILLIS);
    Delivery third = handler.next(20);
    assertThat(third.body()).isEqualTo(again);
    handler.ack(third);
    await().atMost(PATIENCE).until(() -> admin.messageCount(config.defaultQueue()) == 0);
    assertThat(handler.next(1)).as("the originals were acknowledged, not put back").isNull();
  }

  @Test
  void aQuorumQueueCountsDeliveriesAndAClassicQueueDoesNot() throws Exception {
    Config quorum =
        config.toBuilder()
            .amqp(config.amqp().withQueueDeclareArgs(Map.of("x-queue-type", "quorum")))
            .build();
    AmqpBroker broker = rabbit.broker(quorum);
    publish(broker, Signature.create("add"));
    RecordingHandler handler = new RecordingHandler(1);
    broker.startConsuming("it", "", handler);
    Delivery first = handler.next(20);
    assertThat(first.deliveryCount()).isEqualTo(1);
    handler.requeue(first, Duration.ZERO); // nack with requeue: RabbitMQ counts it
    Delivery second = handler.next(20);
    assertThat(second.deliveryCount()).isEqualTo(2);
    handler.ack(second);
    broker.close();

    AmqpBroker classicBroker =
        rabbit.broker(config.toBuilder().defaultQueue(config.defaultQueue() + "_classic").build());
    RabbitAdmin.track(config.defaultQueue() + "_classic");
    publish(classicBroker, Signature.create("add"));
    RecordingHandler classic = new RecordingHandler(1);
    classicBroker.startConsuming("it", "", classic);
    Delivery d = classic.next(20);
    assertThat(d.deliveryCount()).as("classic queues keep no count").isZero();
    classic.ack(d);
  }

  /**
   * F7: a message over the client library's default 64 MiB used to end the consumer connection on
   * every delivery. It reaches the worker, which dead-letters it by size; the dead letter keeps a
   * preview.
   */
  @Test
  void aMessageOverSixtyFourMebibytesReachesTheWorkerAndIsDeadLetteredAsAPreview()
      throws Exception {
    AmqpBroker broker = rabbit.broker(config);
    RecordingHandler handler = new RecordingHandler(1);
    broker.startConsuming("it", "", handler);
    byte[] huge = new byte[65 * 1024 * 1024 + 1];
    java.util.Arrays.fill(huge, (byte) 'x');
    admin.with(
        ch -> {
          ch.basicPublish(
              "",
              config.defaultQueue(),
              new AMQP.BasicProperties.Builder().deliveryMode(1).build(),
              huge);
          return null;
        });
    Delivery big = handler.next(60);
    assertThat(big).as("delivered, not a dead connection").isNotNull();
    assertThat(big.body()).hasSize(huge.length);
    handler.deadLetter(big, "message of " + huge.length + " bytes is over the limit");
    String deadLetters = config.defaultQueue() + Topology.DEAD_LETTER_SUFFIX;
    await().atMost(PATIENCE).until(() -> admin.messageCount(deadLetters) == 1);
    GetResponse letter = admin.get(deadLetters);
    assertThat(letter.getBody()).hasSize(Publishing.DEAD_LETTER_PREVIEW_BYTES);
    assertThat(letter.getProps().getHeaders().get(Topology.DEAD_LETTER_SIZE_HEADER))
        .isEqualTo((long) huge.length);
    assertThat(
            String.valueOf(letter.getProps().getHeaders().get(Topology.DEAD_LETTER_SHA256_HEADER)))
        .hasSize(64);

    Signature after = publish(broker, Signature.create("add"));
    Delivery next = handler.next(20);
    assertThat(new String(next.body(), StandardCharsets.UTF_8)).contains(after.uuid());
    handler.ack(next);
    assertThat(handler.brokerErrors()).as("the consumer connection survived").isEmpty();
  }
}
