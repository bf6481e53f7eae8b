package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Edge cases of publishing and settling: messages over RabbitMQ's size limit, requeues whose
 * republish RabbitMQ refuses or whose delay is beyond what RabbitMQ holds, and a closed broker's
 * async publish.
 */
class AmqpBrokerEdgeCasesIT {
  private static final Duration PATIENCE = Duration.ofSeconds(30);

  /** RabbitMQ 3.x's default {@code max_message_size} (128 MiB). */
  private static final int RABBIT_3_MAX_MESSAGE_SIZE = 128 * 1024 * 1024;

  @RegisterExtension static final AmqpTestResources rabbit = new AmqpTestResources();

  private Config config;
  private RabbitAdmin admin;

  @BeforeEach
  void setUp() throws Exception {
    config = rabbit.queue("amqp_edge_");
    admin = rabbit.admin();
    String queue = config.defaultQueue();
    rabbit.closeLater(() -> RabbitAdmin.deleteDelayQueuesOf(queue));
  }

  private Signature routed(AmqpBroker b, Signature signature) {
    return signature.toBuilder().routingKey(b.routingKeyFor(signature)).build();
  }

  @Test
  void aMessageOverRabbitMqsMaxMessageSizeIsRefusedClearlyAndThePublisherStaysUsable()
      throws Exception {
    AmqpBroker broker =
        rabbit.broker(config.toBuilder().maxMessageBytes(RABBIT_3_MAX_MESSAGE_SIZE * 2).build());
    Signature sig = routed(broker, Signature.create("add"));
    byte[] tooBigForRabbit = new byte[RABBIT_3_MAX_MESSAGE_SIZE + 1];
    assertThatThrownBy(() -> broker.publish(sig, tooBigForRabbit))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(sig.uuid())
        .hasMessageContaining("max_message_size");
    Signature small = routed(broker, Signature.create("add"));
    broker.publish(small, WireCodec.encode(small));
    await().atMost(PATIENCE).until(() -> admin.messageCount(config.defaultQueue()) == 1);
  }

  @Test
  void publishesInFlightBesideAMessageRabbitMqRefusesForItsSizeAreStillSent() throws Exception {
    AmqpBroker broker =
        rabbit.broker(config.toBuilder().maxMessageBytes(RABBIT_3_MAX_MESSAGE_SIZE * 2).build());
    Signature big = routed(broker, Signature.create("add"));
    CompletableFuture<Void> refused =
        broker.publishAsync(big, new byte[RABBIT_3_MAX_MESSAGE_SIZE + 1]);
    List<CompletableFuture<Void>> small = new ArrayList<>();
    for (int i = 0; i < 4 * AmqpClient.DEFAULT_PUBLISHER_CHANNELS; i++) {
      Signature sig = routed(broker, Signature.create("add"));
      small.add(broker.publishAsync(sig, WireCodec.encode(sig)));
    }
    assertThatThrownBy(refused::get)
        .hasCauseInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(big.uuid());
    for (CompletableFuture<Void> f : small) {
      f.get(); // the channel RabbitMQ closed for the big one failed them: sent again, not refused
    }
    await().atMost(PATIENCE).until(() -> admin.messageCount(config.defaultQueue()) >= small.size());
  }

  /**
   * The broker leaves the resend of a message that only shared a closed channel to its client: a
   * blocking task publish written right behind a message RabbitMQ refuses for its size is failed
   * with that 406 by the client library, and sent again on a fresh channel.
   */
  @Test
  void taskPublishesWrittenBehindAMessageRabbitMqRefusesForItsSizeAreSentAgain() throws Exception {
    AmqpClient client =
        rabbit.closeLater(
            AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl())))
                .connectionName("edge-it-" + config.defaultQueue())
                .publisherChannels(1) // the tasks share the channel RabbitMQ closes
                .build());
    AmqpBroker broker = rabbit.closeLater(AmqpBroker.builder(config).client(client).build());
    Signature first = routed(broker, Signature.create("add"));
    broker.publish(first, WireCodec.encode(first)); // declares the exchange and the queue
    CountDownLatch bigWriting = new CountDownLatch(1);
    List<CompletableFuture<Void>> tasks = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      Signature sig = routed(broker, Signature.create("add"));
      tasks.add(
          CompletableFuture.runAsync(
              () -> {
                try {
                  bigWriting.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  throw new IllegalStateException(e);
                }
                broker.publish(sig, WireCodec.encode(sig));
              },
              command -> Thread.ofVirtual().start(command)));
    }
    // the setup runs under the channel's lock right before the big message: the tasks wait for
    // the lock while it is written and follow it onto the channel
    assertThatThrownBy(
            () ->
                client.publishOrdered(
                    "big",
                    channel -> bigWriting.countDown(),
                    "",
                    config.defaultQueue(),
                    Publishing.properties(first),
                    new byte[RABBIT_3_MAX_MESSAGE_SIZE + 1]))
        .isInstanceOfSatisfying(
            AmqpOperationException.class,
            e -> assertThat(e.replyCode()).isEqualTo(AmqpOperationException.PRECONDITION_FAILED));
    for (CompletableFuture<Void> task : tasks) {
      task.get(); // not failed with the big message's 406
    }
    await()
        .atMost(PATIENCE)
        .until(() -> admin.messageCount(config.defaultQueue()) >= 1 + tasks.size());
  }

  @Test
  void aRequeueWhoseRepublishIsRefusedGivesTheMessageBackBeforeConsumerTimeout() throws Exception {
    long delay = Duration.ofHours(1).toMillis();
    // every requeue queue this delay can use exists already with other arguments: the
    // declaration is refused (406), so the republish fails
    for (int step = 0; step < Publishing.SPREAD_STEPS; step++) {
      String name =
          Topology.delayQueueName(Publishing.spread(delay, step), "", config.defaultQueue());
      RabbitAdmin.track(name);
      admin.with(ch -> ch.queueDeclare(name, true, false, false, null));
    }
    AmqpBroker broker = rabbit.broker(config);
    Signature sig = routed(broker, Signature.create("add"));
    broker.publish(sig, WireCodec.encode(sig));
    RecordingHandler handler = new RecordingHandler(1);
    broker.startConsuming("it", "", handler);
    Delivery first = handler.next(20);
    assertThat(first).isNotNull();
    first.requeue(Duration.ofMillis(delay));
    handler.release(1);
    // held unacknowledged for the hour, it would outlive consumer_timeout (30 min), and RabbitMQ
    // would close the channel with every task running on it
    Delivery again = handler.next(PATIENCE.toSeconds());
    assertThat(again).as("the original comes back soon, not after the hour").isNotNull();
    assertThat(WireCodec.decodeSignature(again.body()).uuid()).isEqualTo(sig.uuid());
    handler.ack(again);
  }

  @Test
  void aRequeueFartherAheadThanRabbitMqHoldsIsKeptAtTheLongestDelay() throws Exception {
    AmqpBroker broker = rabbit.broker(config);
    Signature sig = routed(broker, Signature.create("add"));
    broker.publish(sig, WireCodec.encode(sig));
    RecordingHandler handler = new RecordingHandler(1);
    broker.startConsuming("it", "", handler);
    Delivery first = handler.next(20);
    assertThat(first).isNotNull();
    first.requeue(Duration.ofSeconds(Long.MAX_VALUE)); // toMillis() would overflow
    handler.release(1);
    String longest =
        Topology.delayQueueName(Publishing.MAX_DELAY_MILLIS, "", config.defaultQueue());
    RabbitAdmin.track(longest);
    await().atMost(PATIENCE).until(() -> admin.messageCount(longest) == 1);
    assertThat(handler.next(2)).as("the original was acknowledged").isNull();
  }

  @Test
  void aClosedBrokersPublishAsyncFailsItsFutureInsteadOfThrowing() {
    AmqpBroker broker = rabbit.broker(config);
    Signature sig = routed(broker, Signature.create("add"));
    broker.close();
    CompletableFuture<Void> future = broker.publishAsync(sig, WireCodec.encode(sig));
    assertThatThrownBy(future::get).isInstanceOf(ExecutionException.class);
  }
}
