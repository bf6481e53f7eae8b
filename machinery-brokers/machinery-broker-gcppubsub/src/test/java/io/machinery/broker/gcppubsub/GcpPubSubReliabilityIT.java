package io.machinery.broker.gcppubsub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.broker.gcppubsub.PubSubStubs.FaultStub;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.config.GcpPubSubConfig;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.BodyPreview;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 12 on the Pub/Sub emulator: bounded dead letters of oversized messages (F10), and so on.
 */
class GcpPubSubReliabilityIT {
  private static final int LIMIT = 2_048;

  private final String project = PubSubProjects.name("machinery-test");
  private final Config config =
      PubSubTestSupport.config(
          BrokerContract.uniqueQueue(Config.DEFAULT, "rel_it_").toBuilder()
              .maxMessageBytes(LIMIT)
              .build(),
          project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubProjects.delete(project);
  }

  private static void publishRaw(GcpPubSubBroker broker, String topic, byte[] data) {
    broker.client().publish(topic, data, Map.of()); // Go's wire: data only
  }

  /**
   * A message over MaxMessageBytes is dead-lettered as a preview with its size and SHA-256, one
   * within the limit whole; the inspector requeues only the whole one.
   */
  @Test
  void anOversizedMessageIsDeadLetteredAsAPreviewAndASmallOneWhole() throws Exception {
    byte[] big =
        ("{\"pad\":\"" + "é".repeat(20_000) + "\"}").getBytes(StandardCharsets.UTF_8); // 40 KB
    byte[] small = "{not json".getBytes(StandardCharsets.UTF_8);
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build()) {
      publishRaw(broker, config.defaultQueue(), big);
      publishRaw(broker, config.defaultQueue(), small);
      RecordingHandler handler = new RecordingHandler(2);
      var consumer = broker.startConsuming("oversize", "", handler);
      for (int i = 0; i < 2; i++) {
        Delivery d = handler.next(20);
        assertThat(d).isNotNull();
        handler.deadLetter(d, d.body().length > LIMIT ? "over the limit" : "malformed");
      }
      consumer.close();
      Inspector inspector = broker.inspector().orElseThrow();
      List<DeadLetterEntry> letters =
          await()
              .atMost(Duration.ofSeconds(15))
              .until(() -> inspector.deadLetters(config.defaultQueue(), 0, 10), l -> l.size() == 2);
      Map<String, DeadLetterEntry> byReason =
          Map.of(letters.get(0).reason(), letters.get(0), letters.get(1).reason(), letters.get(1));
      byte[] preview = byReason.get("over the limit").message();
      assertThat(preview.length)
          .isLessThanOrEqualTo(BodyPreview.PREVIEW_BYTES)
          .isGreaterThan(BodyPreview.PREVIEW_BYTES - 4);
      assertThat(new String(big, StandardCharsets.UTF_8))
          .startsWith(new String(preview, StandardCharsets.UTF_8));
      assertThat(byReason.get("malformed").message()).isEqualTo(small);

      var raw = GcpPubSubBrokerIT.pullRaw(broker, GcpPubSubBroker.DEFAULT_DEAD_LETTER_TOPIC);
      broker
          .client()
          .modifyAckDeadline(
              GcpPubSubBroker.DEFAULT_DEAD_LETTER_TOPIC,
              raw.stream().map(m -> m.getAckId()).toList(),
              0);
      var attributes =
          raw.stream()
              .map(m -> m.getMessage().getAttributesMap())
              .filter(BodyPreview::isPreview)
              .toList();
      assertThat(attributes).hasSize(1);
      assertThat(attributes.getFirst())
          .containsEntry(BodyPreview.SIZE_KEY, Integer.toString(big.length))
          .containsEntry(BodyPreview.SHA256_KEY, BodyPreview.sha256Hex(big));

      await() // handed back above
          .atMost(Duration.ofSeconds(30))
          .until(() -> inspector.deadLetters(config.defaultQueue(), 0, 10).size() == 2);
      assertThat(inspector.requeueDeadLetters(config.defaultQueue(), e -> true))
          .as("only the whole dead letter is requeued")
          .isEqualTo(1);
      List<DeadLetterEntry> left = inspector.deadLetters(config.defaultQueue(), 0, 10);
      assertThat(left).hasSize(1);
      assertThat(left.getFirst().reason()).isEqualTo("over the limit");
    }
  }

  /**
   * A pull that throws something other than a MachineryException (here an Error) does not end the
   * consumer's loop: it is retried and the message is delivered.
   */
  @Test
  void aPullThatThrowsDoesNotStopTheConsumer() throws Exception {
    String sub = config.defaultQueue() + "_sub";
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
        var publisher = emulator.publisher();
        var subscriber = new FaultStub(emulator.subscriber(), sub);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      publishRaw(broker, config.defaultQueue(), "{\"UUID\":\"task_after\"}".getBytes(UTF_8));
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = broker.startConsuming("survivor", "", handler);
      Delivery d = handler.next(20);
      assertThat(d).as("delivered by the same loop after the failed pull").isNotNull();
      assertThat(subscriber.faultedPulls()).isGreaterThan(1);
      assertThat(handler.brokerErrors()).hasSize(1);
      handler.ack(d);
      consumer.close();
    }
  }

  /**
   * A lease-extension tick that throws (an Error in the first, a RuntimeException in the third,
   * from the subscriber stub) does not end the extensions: later ticks keep the message leased, so
   * a second consumer never receives it while its task runs for twice the ack deadline.
   */
  @Test
  void aLeaseExtensionTickThatThrowsDoesNotStopLaterTicks() throws Exception {
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker other = PubSubProjects.broker(config).build(); // 10 s ack deadline
        var publisher = emulator.publisher();
        var subscriber = new FaultStub(emulator.subscriber());
        GcpPubSubBroker holder = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      publishRaw(holder, config.defaultQueue(), "{\"UUID\":\"task_long\"}".getBytes(UTF_8));
      RecordingHandler first = new RecordingHandler(1);
      var holding = holder.startConsuming("holder", "", first);
      Delivery running = first.next(20);
      assertThat(running).isNotNull();
      RecordingHandler second = new RecordingHandler(1);
      var watching = other.startConsuming("other", "", second);
      // a tick every 3.3 s: six of them span 20 s, twice the deadline, so a stopped extension
      // would have let the message come back (to either consumer)
      await().atMost(Duration.ofSeconds(40)).until(() -> subscriber.extensions() >= 6);
      assertThat(second.handedOver()).as("never redelivered while its task runs").isZero();
      assertThat(first.handedOver()).isEqualTo(1);
      first.ack(running);
      watching.close();
      holding.close();
      assertThat(second.handedOver()).isZero();
    }
  }

  /**
   * Without a dead-letter policy Pub/Sub reports no delivery attempt (0); the broker counts the
   * deliveries it sees itself, so the worker's poison limit still holds for a message this process
   * keeps getting back, and forgets the count once the message is settled.
   */
  @Test
  void withoutADeadLetterPolicyTheBrokerCountsDeliveriesItself() throws Exception {
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build()) {
      publishRaw(broker, config.defaultQueue(), "{\"UUID\":\"task_poison\"}".getBytes(UTF_8));
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = broker.startConsuming("count-local", "", handler);
      for (int expected = 1; expected <= 3; expected++) {
        Delivery d = handler.next(20);
        assertThat(d).isNotNull();
        assertThat(d.deliveryCount()).isEqualTo(expected);
        assertThat(d.redelivered()).isEqualTo(expected > 1);
        if (expected < 3) {
          handler.requeue(d, Duration.ZERO); // a nack: Pub/Sub delivers the same message again
        } else {
          handler.ack(d);
        }
      }
      assertThat(broker.deliveryCounts().size()).as("forgotten once settled").isZero();
      consumer.close();
    }
  }

  /**
   * End to end without a dead-letter policy: a task that stalls (its lease lapses after
   * MaxExtension and Pub/Sub delivers it again) is dead-lettered by the worker's poison limit
   * instead of being started again and again.
   */
  @Test
  void aStallingTaskIsDeadLetteredAfterMaxDeliveriesWithoutAPolicy() throws Exception {
    Config short1 =
        config.toBuilder().gcpPubSub(new GcpPubSubConfig(Duration.ofSeconds(1))).build();
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger runs = new AtomicInteger();
    try (GcpPubSubBroker broker = PubSubProjects.broker(short1).build();
        MemoryBackend backend = MemoryBackend.create(short1, Clock.systemUTC());
        Server server = Server.builder().config(short1).broker(broker).backend(backend).build()) {
      server.registerTask(
          "stall",
          TaskFunction.of(
              Long.class,
              x -> {
                runs.incrementAndGet();
                try {
                  release.await(); // the task's own (stalled) work
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                return x;
              }));
      server.workerBuilder("poison").concurrency(2).maxDeliveries(1).build().launchAsync();
      server.sendTask(Signature.create("stall", Arg.of(1L)));
      Inspector inspector = broker.inspector().orElseThrow();
      List<DeadLetterEntry> letters =
          await()
              .atMost(Duration.ofSeconds(40))
              .until(() -> inspector.deadLetters(short1.defaultQueue(), 0, 10), l -> !l.isEmpty());
      assertThat(letters.getFirst().reason()).contains("over maxDeliveries 1");
      assertThat(runs.get()).as("the redelivery was refused before it ran").isEqualTo(1);
      release.countDown(); // before closing: the worker waits for running tasks
    } finally {
      release.countDown();
    }
  }
}
