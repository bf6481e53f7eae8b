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
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the Pub/Sub broker does with the leases it holds when it stops, when many delayed tasks fall
 * due at once, and while delayed tasks wait on a slow Pub/Sub: no message waits out its ack
 * deadline leased to no one, and no lease lapses under a task that runs. On the pstest fake, with
 * stubs that hold some answers back (a slow network or server, for as long as the test says).
 */
class GcpPubSubLeaseHandlingIT {
  private final String project = PubSubTestSupport.project();
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "lease_it_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubTestSupport.deleteProject(project);
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
   * A consumer stopped while its pull is under way (the server already leased the messages, its
   * answer is still on its way) gives them back as soon as the answer arrives: with a 600 s ack
   * deadline, another consumer receives them at once, not ten minutes later.
   */
  @Test
  void messagesAPullBringsAfterItsConsumerStoppedGoBackAtOnce() throws Exception {
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    SettableApiFuture<Void> answer = SettableApiFuture.create();
    try (GcpPubSubBroker other =
            PubSubTestSupport.broker(config).ackDeadline(Duration.ofSeconds(600)).build();
        var publisher = PubSubTestSupport.publisherStub(channel);
        var subscriber =
            new HeldAnswers(
                PubSubTestSupport.subscriberStub(channel), other.subscriptionFor(""), answer);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      publishTasks(other, "task_stopped_pull_", 2);
      RecordingHandler stopped = new RecordingHandler(3);
      var consumer = broker.startConsuming("stopped", "", stopped);
      await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.heldMessages() > 0);
      consumer.stopFetching(Duration.ofSeconds(5)); // gives up waiting for the pull after 1 s
      answer.set(null); // the pull's answer arrives only now
      RecordingHandler next = new RecordingHandler(2);
      var nextConsumer = other.startConsuming("next", "", next);
      for (int i = 0; i < 2; i++) {
        Delivery d = next.next(30);
        assertThat(d)
            .as("task %d of 2 reaches the next consumer long before the 600 s deadline", i + 1)
            .isNotNull();
        next.ack(d);
      }
      assertThat(stopped.handedOver()).as("the stopped consumer's worker ran nothing").isZero();
      nextConsumer.close();
      consumer.close();
    } finally {
      answer.set(null);
      channel.shutdownNow();
    }
  }

  /**
   * A broker closed while its delay pump's pull is under way (the server leased a delayed task to
   * it, the answer is still on its way) hands that task back when the answer arrives: another
   * broker's pump moves it when due, not after the delay subscription's 600 s ack deadline.
   */
  @Test
  void aDelayedTaskAClosingPumpPulledGoesBackAtOnce() throws Exception {
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    SettableApiFuture<Void> answer = SettableApiFuture.create();
    try (GcpPubSubBroker other =
            PubSubTestSupport.broker(config).ackDeadline(Duration.ofSeconds(600)).build();
        var publisher = PubSubTestSupport.publisherStub(channel);
        var subscriber =
            new HeldAnswers(
                PubSubTestSupport.subscriberStub(channel),
                GcpPubSubBroker.DEFAULT_DELAY_TOPIC,
                answer);
        GcpPubSubBroker closing =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      Signature sent =
          Signature.builder("add")
              .routingKey(config.defaultQueue())
              .eta(Instant.now().plusSeconds(1))
              .build();
      closing.publish(sent, WireCodec.encode(sent)); // to the delay topic; starts the pump
      await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.heldMessages() > 0);
      Thread closer = Thread.ofPlatform().start(closing::close); // gives up on the pull after 2 s
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> closing.settler().abandonedPulls() > 0 || !closer.isAlive());
      answer.set(null); // the pull's answer arrives only now
      assertThat(closer.join(Duration.ofSeconds(20))).isTrue();
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = other.startConsuming("next", "", handler); // starts the other broker's pump
      Delivery d = handler.next(30);
      assertThat(d)
          .as("the delayed task, moved by the other pump long before the 600 s deadline")
          .isNotNull();
      assertThat(WireCodec.decodeSignature(d.body()).uuid()).isEqualTo(sent.uuid());
      handler.ack(d);
      consumer.close();
    } finally {
      answer.set(null);
      channel.shutdownNow();
    }
  }

  /**
   * A burst of tasks that are due when the delay pump pulls them is published side by side: every
   * publish is under way before the first is confirmed (this publisher confirms none until all of
   * them are asked for, which one-by-one publishing never gets to), so the burst takes one round
   * trip of the lease its pull gave, not one per task. Each delayed message is acknowledged only
   * after its task's publish was confirmed, and every task reaches the worker.
   */
  @Test
  void aBurstOfDueTasksIsPublishedSideBySideAndAcknowledgedOnlyOnceConfirmed() throws Exception {
    int burst = 50;
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    var publisher =
        new BarrierPublisher(
            PubSubTestSupport.publisherStub(channel), config.defaultQueue(), burst);
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var subscriber =
            new DelayAckWatch(PubSubTestSupport.subscriberStub(channel), publisher::confirmed);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      String due = Long.toString(Instant.now().minusSeconds(1).toEpochMilli());
      for (int i = 0; i < burst; i++) {
        setup
            .client()
            .publish(
                GcpPubSubBroker.DEFAULT_DELAY_TOPIC,
                ("{\"UUID\":\"task_burst_" + i + "\"}").getBytes(UTF_8),
                Map.of(
                    GcpPubSubBroker.ETA_ATTRIBUTE,
                    due,
                    GcpPubSubBroker.TOPIC_ATTRIBUTE,
                    config.defaultQueue()));
      }
      RecordingHandler handler = new RecordingHandler(burst);
      var consumer = broker.startConsuming("burst", "", handler); // starts the delay pump
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("all " + burst + " publishes of the burst under way at once")
          .until(() -> publisher.asked() >= burst);
      Set<String> received = new HashSet<>();
      for (int i = 0; i < burst; i++) {
        Delivery d = handler.next(30);
        assertThat(d).as("task %d of %d", i + 1, burst).isNotNull();
        received.add(new String(d.body(), UTF_8));
        handler.ack(d);
      }
      assertThat(received).hasSize(burst);
      await().atMost(Duration.ofSeconds(10)).until(() -> subscriber.delayAcks() == burst);
      assertThat(subscriber.earlyAcks())
          .as("delayed messages acknowledged before their task's publish was confirmed")
          .isZero();
      consumer.close();
    } finally {
      publisher.open();
      publisher.close();
      channel.shutdownNow();
    }
  }

  /**
   * Lease extensions go on while many held delayed tasks fall due at once and every one of their
   * publishes hangs: the scheduler that extends leases only hands due tasks to the due-thread,
   * which only starts their publishes, so neither a slow publish nor a large batch of held tasks
   * delays an extension (evidence for the design, which was right before this test).
   */
  @Test
  void heldTasksWhosePublishesHangDoNotHoldBackLeaseExtensions() throws Exception {
    int held = 50;
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    SettableApiFuture<Void> gate = SettableApiFuture.create();
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build(); // 10 s ack deadline
        var publisher =
            new GcpPubSubBrokerEdgeCasesIT.GatedPublisher(
                PubSubTestSupport.publisherStub(channel), config.defaultQueue(), gate);
        var subscriber =
            new GcpPubSubBrokerEdgeCasesIT.InjectingStub(
                PubSubTestSupport.subscriberStub(channel), null, false);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      publishTasks(setup, "task_leased_", 1);
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = broker.startConsuming("leases", "", handler);
      Delivery running = handler.next(20);
      assertThat(running).isNotNull();
      Instant eta = Instant.now().plusSeconds(2); // held by the pump, then due all at once
      for (int i = 0; i < held; i++) {
        Signature s = Signature.builder("add").routingKey(config.defaultQueue()).eta(eta).build();
        broker.publish(s, WireCodec.encode(s));
      }
      await()
          .atMost(Duration.ofSeconds(40))
          .alias("every held task fell due and its publish hangs")
          .until(() -> publisher.gated() == held);
      int before = subscriber.extensions();
      // a tick every 3.3 s (a third of the 10 s deadline): three span a whole deadline
      await()
          .atMost(Duration.ofSeconds(20))
          .alias("lease extensions while " + held + " publishes hang")
          .until(() -> subscriber.extensions() >= before + 3);
      assertThat(handler.handedOver()).isEqualTo(1);
      gate.set(null);
      handler.ack(running);
      consumer.close();
    } finally {
      gate.set(null);
      channel.shutdownNow();
    }
  }

  /**
   * A lease extension Pub/Sub does not answer (here held back for as long as the test runs) does
   * not hold back the extensions of another consumer of the same broker: ticks share one scheduler
   * thread and only send their request, so the other consumer's running task keeps its lease.
   */
  @Test
  void aHangingLeaseExtensionDoesNotHoldBackAnotherConsumersExtensions() throws Exception {
    String slowQueue = config.defaultQueue() + "_slow";
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    SettableApiFuture<Void> answer = SettableApiFuture.create();
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build(); // 10 s ack deadline
        var publisher = PubSubTestSupport.publisherStub(channel);
        var subscriber =
            new HeldExtensions(PubSubTestSupport.subscriberStub(channel), slowQueue, answer);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      setup.client().require(Map.of(slowQueue, slowQueue), true, 10);
      setup.client().publish(slowQueue, "{\"UUID\":\"task_slow_lease\"}".getBytes(UTF_8), Map.of());
      publishTasks(setup, "task_other_lease_", 1);
      RecordingHandler slow = new RecordingHandler(1);
      var slowConsumer = broker.startConsuming("slow", slowQueue, slow);
      Delivery slowTask = slow.next(20);
      assertThat(slowTask).isNotNull();
      RecordingHandler other = new RecordingHandler(1);
      var otherConsumer = broker.startConsuming("other", "", other);
      Delivery otherTask = other.next(20);
      assertThat(otherTask).isNotNull();
      await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.held() > 0);
      int before = subscriber.extensionsElsewhere();
      // a tick every 3.3 s (a third of the 10 s deadline): three span a whole deadline
      await()
          .atMost(Duration.ofSeconds(20))
          .alias("the other consumer's extensions while " + slowQueue + "'s hangs")
          .until(() -> subscriber.extensionsElsewhere() >= before + 3);
      answer.set(null);
      slow.ack(slowTask);
      other.ack(otherTask);
      otherConsumer.close();
      slowConsumer.close();
    } finally {
      answer.set(null);
      channel.shutdownNow();
    }
  }

  /**
   * A real subscriber stub whose pulls of one subscription that bring messages answer only once
   * {@code answer} completes: the server has leased them, the answer is on its way.
   */
  static final class HeldAnswers extends ForwardingSubscriberStub {
    private final String subscription;
    private final ApiFuture<Void> answer;
    private final AtomicInteger heldMessages = new AtomicInteger();

    HeldAnswers(SubscriberStub real, String subscription, ApiFuture<Void> answer) {
      super(real);
      this.subscription = subscription;
      this.answer = answer;
    }

    /** Messages leased to pulls whose answer is held back. */
    int heldMessages() {
      return heldMessages.get();
    }

    @Override
    public UnaryCallable<PullRequest, PullResponse> pullCallable() {
      UnaryCallable<PullRequest, PullResponse> delegate = real.pullCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<PullResponse> futureCall(PullRequest request, ApiCallContext context) {
          ApiFuture<PullResponse> pulled = delegate.futureCall(request, context);
          if (!request.getSubscription().endsWith("/" + subscription)) {
            return pulled;
          }
          return ApiFutures.transformAsync(
              pulled,
              response -> {
                if (response.getReceivedMessagesCount() == 0) {
                  return ApiFutures.immediateFuture(response);
                }
                heldMessages.addAndGet(response.getReceivedMessagesCount());
                return ApiFutures.transform(answer, ignored -> response, Runnable::run);
              },
              Runnable::run);
        }
      };
    }
  }

  /**
   * A real subscriber stub whose lease extensions (ModifyAckDeadline above zero) of one
   * subscription are answered only once {@code answer} completes; it counts those and the
   * extensions of every other task subscription.
   */
  static final class HeldExtensions extends ForwardingSubscriberStub {
    private final String subscription;
    private final ApiFuture<Void> answer;
    private final AtomicInteger held = new AtomicInteger();
    private final AtomicInteger extensionsElsewhere = new AtomicInteger();

    HeldExtensions(SubscriberStub real, String subscription, ApiFuture<Void> answer) {
      super(real);
      this.subscription = subscription;
      this.answer = answer;
    }

    int held() {
      return held.get();
    }

    int extensionsElsewhere() {
      return extensionsElsewhere.get();
    }

    @Override
    public UnaryCallable<ModifyAckDeadlineRequest, Empty> modifyAckDeadlineCallable() {
      UnaryCallable<ModifyAckDeadlineRequest, Empty> delegate = real.modifyAckDeadlineCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<Empty> futureCall(
            ModifyAckDeadlineRequest request, ApiCallContext context) {
          if (request.getAckDeadlineSeconds() > 0
              && request.getSubscription().endsWith("/" + subscription)) {
            held.incrementAndGet();
            return ApiFutures.transformAsync(
                answer, ignored -> delegate.futureCall(request, context), Runnable::run);
          }
          if (request.getAckDeadlineSeconds() > 0
              && !request.getSubscription().endsWith("/" + GcpPubSubBroker.DEFAULT_DELAY_TOPIC)) {
            extensionsElsewhere.incrementAndGet();
          }
          return delegate.futureCall(request, context);
        }
      };
    }
  }

  /**
   * A real publisher stub that confirms no publish to one topic until {@code parties} messages were
   * asked for (in one request or several), then all of them (each when Pub/Sub accepted it).
   */
  static final class BarrierPublisher extends ForwardingPublisherStub {
    private final String topic;
    private final int parties;
    private final SettableApiFuture<Void> barrier = SettableApiFuture.create();
    private final AtomicInteger asked = new AtomicInteger();
    private final AtomicInteger confirmed = new AtomicInteger();

    BarrierPublisher(PublisherStub real, String topic, int parties) {
      super(real);
      this.topic = topic;
      this.parties = parties;
    }

    /** Messages asked to be published to the topic so far (a request may carry several). */
    int asked() {
      return asked.get();
    }

    /**
     * Messages published to the topic that Pub/Sub accepted, counted before their caller learns of
     * it.
     */
    int confirmed() {
      return confirmed.get();
    }

    /** Lets every publish through from now on. */
    void open() {
      barrier.set(null);
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
          if (asked.addAndGet(request.getMessagesCount()) >= parties) {
            open();
          }
          return ApiFutures.transformAsync(
              barrier,
              ignored ->
                  ApiFutures.transform(
                      delegate.futureCall(request, context),
                      response -> {
                        confirmed.addAndGet(request.getMessagesCount());
                        return response;
                      },
                      Runnable::run),
              Runnable::run);
        }
      };
    }
  }

  /**
   * A real subscriber stub that counts the acknowledgements of delayed messages and those sent
   * while fewer publishes were confirmed than delayed messages acknowledged.
   */
  static final class DelayAckWatch extends ForwardingSubscriberStub {
    private final IntSupplier confirmedPublishes;
    private final AtomicInteger delayAcks = new AtomicInteger();
    private final AtomicInteger earlyAcks = new AtomicInteger();

    DelayAckWatch(SubscriberStub real, IntSupplier confirmedPublishes) {
      super(real);
      this.confirmedPublishes = confirmedPublishes;
    }

    int delayAcks() {
      return delayAcks.get();
    }

    int earlyAcks() {
      return earlyAcks.get();
    }

    @Override
    public UnaryCallable<AcknowledgeRequest, Empty> acknowledgeCallable() {
      UnaryCallable<AcknowledgeRequest, Empty> delegate = real.acknowledgeCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<Empty> futureCall(AcknowledgeRequest request, ApiCallContext context) {
          if (request.getSubscription().endsWith("/" + GcpPubSubBroker.DEFAULT_DELAY_TOPIC)) {
            int acked = delayAcks.addAndGet(request.getAckIdsCount());
            if (acked > confirmedPublishes.getAsInt()) {
              earlyAcks.addAndGet(request.getAckIdsCount());
            }
          }
          return delegate.futureCall(request, context);
        }
      };
    }
  }
}
