package io.machinery.broker.gcppubsub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.api.core.SettableApiFuture;
import io.machinery.Signature;
import io.machinery.broker.gcppubsub.PubSubStubs.GatedPublisher;
import io.machinery.broker.gcppubsub.PubSubStubs.InjectingStub;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.spi.Delivery;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Edge cases of the Pub/Sub broker on the pstest fake, each found in an audit. */
class GcpPubSubBrokerEdgeCasesIT {
  private final String project = PubSubProjects.name("machinery-test");
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "edge_it_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubProjects.delete(project);
  }

  /**
   * A pull that brings more than gRPC's default 4 MB (three messages of 1.9 MB, each well within
   * Pub/Sub's 10 MB) reaches the worker: the broker's own channel to the emulator takes replies of
   * any size, as Google's default channel takes 20 MB, instead of failing every pull for ever.
   */
  @Test
  void aPullOfMoreThanFourMegabytesReachesTheWorkerOnTheEmulator() throws Exception {
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build()) {
      for (int i = 0; i < 3; i++) {
        byte[] pad = new byte[1_900_000];
        Arrays.fill(pad, (byte) 'a');
        String json =
            "{\"UUID\":\"task_big_" + i + "\",\"pad\":\"" + new String(pad, UTF_8) + "\"}";
        broker.client().publish(config.defaultQueue(), json.getBytes(UTF_8), Map.of());
      }
      RecordingHandler handler = new RecordingHandler(3);
      var consumer = broker.startConsuming("big", "", handler);
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < 3; i++) {
        Delivery d = handler.next(30);
        assertThat(d)
            .as("delivery %d of 3 (errors: %s)", i + 1, handler.brokerErrors())
            .isNotNull();
        seen.add(new String(d.body(), 0, 20, UTF_8));
        handler.ack(d);
      }
      assertThat(seen).hasSize(3);
      consumer.close();
    }
  }

  /**
   * An acknowledgement that throws an Error (from the stub) costs that batch only: the settler's
   * thread lives on and sends later acks, instead of dropping every later ack and nack silently
   * (each task would then run again every ack deadline, for ever).
   */
  @Test
  void anAckThatThrowsAnErrorDoesNotStopLaterAcks() throws Exception {
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
        var publisher = emulator.publisher();
        var subscriber = new InjectingStub(emulator.subscriber(), null, true);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      publishTasks(broker, "task_ack_", 2);
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = broker.startConsuming("acks", "", handler);
      Delivery first = handler.next(20);
      assertThat(first).isNotNull();
      handler.ack(first);
      await().atMost(Duration.ofSeconds(10)).until(() -> subscriber.acks() == 1);
      Delivery second = handler.next(20);
      assertThat(second).isNotNull();
      handler.ack(second);
      await()
          .atMost(Duration.ofSeconds(10))
          .alias("the second ack is sent after the first one threw")
          .until(() -> subscriber.acks() == 2);
      consumer.close();
    }
  }

  /**
   * A pull of the delay subscription that throws (here an Error, thrown by the stub before any
   * future exists) does not end the delay pump: a delayed task still reaches its queue when due.
   */
  @Test
  void aDelayPumpPullThatThrowsDoesNotStopDelayedTasks() throws Exception {
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
        var publisher = emulator.publisher();
        var subscriber =
            new InjectingStub(emulator.subscriber(), GcpPubSubBroker.DEFAULT_DELAY_TOPIC, false);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      Signature sent =
          Signature.builder("add")
              .routingKey(config.defaultQueue())
              .eta(Instant.now().plusSeconds(1))
              .build();
      broker.publish(sent, WireCodec.encode(sent));
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = broker.startConsuming("delays", "", handler);
      Delivery d = handler.next(30);
      assertThat(subscriber.faultedPulls()).as("the pump's first pull threw").isGreaterThan(0);
      assertThat(d).as("the delayed task arrives").isNotNull();
      assertThat(WireCodec.decodeSignature(d.body()).uuid()).isEqualTo(sent.uuid());
      handler.ack(d);
      consumer.close();
    }
  }

  private void publishTasks(GcpPubSubBroker broker, String prefix, int count) {
    PubSubTestSupport.publishTasks(broker, config.defaultQueue(), prefix, count);
  }

  /**
   * A worker with one slot that runs a long task gives back what it fetched ahead (prefetch 3), so
   * an idle worker runs those tasks now, not after the long one (or after MaxExtension, when
   * Pub/Sub would deliver them again while the first worker still holds them).
   */
  @Test
  void messagesFetchedAheadOfALongTaskGoToAnIdleWorker() throws Exception {
    try (GcpPubSubBroker busy = PubSubProjects.broker(config).build();
        GcpPubSubBroker idle = PubSubProjects.broker(config).build()) {
      publishTasks(busy, "task_ahead_", 3);
      RecordingHandler busyHandler = new RecordingHandler(1);
      var busyConsumer = busy.startConsuming("busy", "", busyHandler);
      Delivery running = busyHandler.next(20);
      assertThat(running).isNotNull();
      RecordingHandler idleHandler = new RecordingHandler(3);
      var idleConsumer = idle.startConsuming("idle", "", idleHandler);
      for (int i = 0; i < 2; i++) {
        Delivery d = idleHandler.next(20);
        assertThat(d)
            .as("task %d of 2 reaches the idle worker while the long one runs", i + 1)
            .isNotNull();
        idleHandler.ack(d);
      }
      assertThat(busyHandler.handedOver()).isEqualTo(1);
      busyHandler.ack(running);
      idleConsumer.close();
      busyConsumer.close();
    }
  }

  /**
   * Messages a consumer fetched ahead and gave back without handing them to its worker are not
   * counted as deliveries: the next consumer of the same broker sees them as first deliveries, so
   * waiting never brings a healthy message nearer the poison limit.
   */
  @Test
  void messagesGivenBackUnhandedAreNotCountedAsDeliveries() throws Exception {
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build()) {
      publishTasks(broker, "task_uncounted_", 3);
      RecordingHandler first = new RecordingHandler(1);
      var firstConsumer = broker.startConsuming("first", "", first);
      Delivery running = first.next(20);
      assertThat(running).isNotNull();
      firstConsumer.stopFetching(Duration.ofSeconds(5)); // what it fetched ahead goes back
      RecordingHandler second = new RecordingHandler(3);
      var secondConsumer = broker.startConsuming("second", "", second);
      for (int i = 0; i < 2; i++) {
        Delivery d = second.next(20);
        assertThat(d).isNotNull();
        assertThat(d.deliveryCount()).as("never handed to a worker before").isEqualTo(1);
        assertThat(d.redelivered()).isFalse();
        second.ack(d);
      }
      first.ack(running);
      secondConsumer.close();
      firstConsumer.close();
    }
  }

  /**
   * A requeue whose publish to the delay topic is slow (here held up past two ack deadlines) keeps
   * the message leased meanwhile: no other worker receives it while it is on its way to the delay
   * topic, so it does not run twice.
   */
  @Test
  void aRequeueWhosePublishIsSlowKeepsTheMessageLeased() throws Exception {
    SettableApiFuture<Void> gate = SettableApiFuture.create();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker other = PubSubProjects.broker(config).build(); // 10 s ack deadline
        var publisher =
            new GatedPublisher(emulator.publisher(), GcpPubSubBroker.DEFAULT_DELAY_TOPIC, gate);
        var subscriber = new InjectingStub(emulator.subscriber(), null, false);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      publishTasks(other, "task_slow_requeue_", 1);
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = broker.startConsuming("requeuer", "", handler);
      Delivery d = handler.next(20);
      assertThat(d).isNotNull();
      RecordingHandler watcher = new RecordingHandler(1);
      var watching = other.startConsuming("watcher", "", watcher);
      int before = subscriber.extensions();
      Thread requeuer = Thread.ofPlatform().start(() -> d.requeue(Duration.ofSeconds(30)));
      // a tick every 3.3 s: six of them span 20 s, twice the deadline
      await()
          .atMost(Duration.ofSeconds(40))
          .until(() -> subscriber.extensions() >= before + 6 || watcher.handedOver() > 0);
      assertThat(watcher.handedOver()).as("delivered elsewhere while being requeued").isZero();
      gate.set(null);
      requeuer.join(Duration.ofSeconds(20));
      assertThat(publisher.gated()).isEqualTo(1);
      watching.close();
      consumer.close();
    } finally {
      gate.set(null);
    }
  }
}
