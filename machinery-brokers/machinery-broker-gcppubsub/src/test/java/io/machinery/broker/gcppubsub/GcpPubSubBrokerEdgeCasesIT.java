package io.machinery.broker.gcppubsub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutures;
import com.google.api.core.SettableApiFuture;
import com.google.api.gax.rpc.ApiCallContext;
import com.google.api.gax.rpc.UnaryCallable;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.protobuf.Empty;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.ModifyAckDeadlineRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PublishResponse;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import io.grpc.ManagedChannel;
import io.machinery.Signature;
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
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Edge cases of the Pub/Sub broker on the pstest fake, each found in an audit. */
class GcpPubSubBrokerEdgeCasesIT {
  private final String project = PubSubTestSupport.project();
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "edge_it_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubTestSupport.deleteProject(project);
  }

  /**
   * A pull that brings more than gRPC's default 4 MB (three messages of 1.9 MB, each well within
   * Pub/Sub's 10 MB) reaches the worker: the broker's own channel to the emulator takes replies of
   * any size, as Google's default channel takes 20 MB, instead of failing every pull for ever.
   */
  @Test
  void aPullOfMoreThanFourMegabytesReachesTheWorkerOnTheEmulator() throws Exception {
    try (GcpPubSubBroker broker = PubSubTestSupport.broker(config).build()) {
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
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher = PubSubTestSupport.publisherStub(channel);
        var subscriber = new InjectingStub(PubSubTestSupport.subscriberStub(channel), null, true);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      for (int i = 0; i < 2; i++) {
        broker
            .client()
            .publish(
                config.defaultQueue(),
                ("{\"UUID\":\"task_ack_" + i + "\"}").getBytes(UTF_8),
                Map.of());
      }
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
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * A pull of the delay subscription that throws (here an Error, thrown by the stub before any
   * future exists) does not end the delay pump: a delayed task still reaches its queue when due.
   */
  @Test
  void aDelayPumpPullThatThrowsDoesNotStopDelayedTasks() throws Exception {
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher = PubSubTestSupport.publisherStub(channel);
        var subscriber =
            new InjectingStub(
                PubSubTestSupport.subscriberStub(channel),
                GcpPubSubBroker.DEFAULT_DELAY_TOPIC,
                false);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
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
    } finally {
      channel.shutdownNow();
    }
  }

  private void publishTasks(GcpPubSubBroker broker, String prefix, int count) {
    for (int i = 0; i < count; i++) {
      broker
          .client()
          .publish(
              config.defaultQueue(),
              ("{\"UUID\":\"" + prefix + i + "\"}").getBytes(UTF_8),
              Map.of());
    }
  }

  /**
   * A worker with one slot that runs a long task gives back what it fetched ahead (prefetch 3), so
   * an idle worker runs those tasks now, not after the long one (or after MaxExtension, when
   * Pub/Sub would deliver them again while the first worker still holds them).
   */
  @Test
  void messagesFetchedAheadOfALongTaskGoToAnIdleWorker() throws Exception {
    try (GcpPubSubBroker busy = PubSubTestSupport.broker(config).build();
        GcpPubSubBroker idle = PubSubTestSupport.broker(config).build()) {
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
    try (GcpPubSubBroker broker = PubSubTestSupport.broker(config).build()) {
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
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    SettableApiFuture<Void> gate = SettableApiFuture.create();
    try (GcpPubSubBroker other = PubSubTestSupport.broker(config).build(); // 10 s ack deadline
        var publisher =
            new GatedPublisher(
                PubSubTestSupport.publisherStub(channel),
                GcpPubSubBroker.DEFAULT_DELAY_TOPIC,
                gate);
        var subscriber = new InjectingStub(PubSubTestSupport.subscriberStub(channel), null, false);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
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
      channel.shutdownNow();
    }
  }

  /**
   * A real publisher stub whose publishes to one topic are sent only once a gate opens (a slow
   * Pub/Sub, for as long as the test says): the caller gets its future at once, as from a real
   * stub, and its answer after the gate opened.
   */
  static final class GatedPublisher extends ForwardingPublisherStub {
    private final String topic;
    private final ApiFuture<Void> gate;
    private final AtomicInteger gated = new AtomicInteger();

    GatedPublisher(PublisherStub real, String topic, ApiFuture<Void> gate) {
      super(real);
      this.topic = topic;
      this.gate = gate;
    }

    /** Messages held at the gate (a request may carry several). */
    int gated() {
      return gated.get();
    }

    @Override
    public UnaryCallable<PublishRequest, PublishResponse> publishCallable() {
      UnaryCallable<PublishRequest, PublishResponse> delegate = real.publishCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<PublishResponse> futureCall(
            PublishRequest request, ApiCallContext context) {
          if (!request.getTopic().endsWith("/" + topic)) {
            return delegate.futureCall(request, context);
          }
          gated.addAndGet(request.getMessagesCount());
          return ApiFutures.transformAsync(
              gate, ignored -> delegate.futureCall(request, context), Runnable::run);
        }
      };
    }
  }

  /**
   * A real subscriber stub with faults: the first pull of a named subscription throws an {@link
   * Error} before returning a future; optionally the first acknowledgement throws an {@link Error}.
   */
  static final class InjectingStub extends ForwardingSubscriberStub {
    private final @Nullable String failFirstPullOf;
    private final boolean failFirstAck;
    private final AtomicInteger faultedPulls = new AtomicInteger();
    private final AtomicInteger acks = new AtomicInteger();
    private final AtomicInteger extensions = new AtomicInteger();

    InjectingStub(SubscriberStub real, @Nullable String failFirstPullOf, boolean failFirstAck) {
      super(real);
      this.failFirstPullOf = failFirstPullOf;
      this.failFirstAck = failFirstAck;
    }

    int faultedPulls() {
      return faultedPulls.get();
    }

    /** ModifyAckDeadline requests above zero on task subscriptions (not the delay one). */
    int extensions() {
      return extensions.get();
    }

    /** Acknowledge requests attempted, the failed one included. */
    int acks() {
      return acks.get();
    }

    @Override
    public UnaryCallable<PullRequest, PullResponse> pullCallable() {
      UnaryCallable<PullRequest, PullResponse> delegate = real.pullCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<PullResponse> futureCall(PullRequest request, ApiCallContext context) {
          if (failFirstPullOf != null
              && request.getSubscription().endsWith("/" + failFirstPullOf)
              && faultedPulls.incrementAndGet() == 1) {
            throw new AssertionError("injected: pull 1 of " + failFirstPullOf + " fails");
          }
          return delegate.futureCall(request, context);
        }
      };
    }

    @Override
    public UnaryCallable<AcknowledgeRequest, Empty> acknowledgeCallable() {
      UnaryCallable<AcknowledgeRequest, Empty> delegate = real.acknowledgeCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<Empty> futureCall(AcknowledgeRequest request, ApiCallContext context) {
          if (acks.incrementAndGet() == 1 && failFirstAck) {
            throw new AssertionError("injected: ack 1 fails with an Error");
          }
          return delegate.futureCall(request, context);
        }
      };
    }

    @Override
    public UnaryCallable<ModifyAckDeadlineRequest, Empty> modifyAckDeadlineCallable() {
      UnaryCallable<ModifyAckDeadlineRequest, Empty> delegate = real.modifyAckDeadlineCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<Empty> futureCall(
            ModifyAckDeadlineRequest request, ApiCallContext context) {
          if (request.getAckDeadlineSeconds() > 0
              && !request.getSubscription().endsWith("/" + GcpPubSubBroker.DEFAULT_DELAY_TOPIC)) {
            extensions.incrementAndGet();
          }
          return delegate.futureCall(request, context);
        }
      };
    }
  }
}
