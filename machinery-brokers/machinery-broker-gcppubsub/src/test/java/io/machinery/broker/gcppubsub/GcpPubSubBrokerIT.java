package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.ReceivedMessage;
import io.grpc.ManagedChannel;
import io.machinery.Arg;
import io.machinery.ConsumerRefusedException;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.Worker;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.config.GcpPubSubConfig;
import io.machinery.spi.Delivery;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the contract kit does not cover: resources, Go's wire form, a user's client, durable delays,
 * MaxExtension.
 */
class GcpPubSubBrokerIT {
  private final String project = PubSubProjects.name("machinery-test");
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "broker_it_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubProjects.delete(project);
  }

  @Test
  void missingTopicsAndSubscriptionsAreNamedAtBuildWithTheCommandsThatCreateThem() {
    assertThatThrownBy(
            () ->
                GcpPubSubBroker.builder(config)
                    .emulatorHost(TestEndpoints.pubsubEmulatorHost())
                    .build())
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining(
            "topic "
                + config.defaultQueue()
                + " (gcloud pubsub topics create "
                + config.defaultQueue())
        .hasMessageContaining(
            "subscription " + config.defaultQueue() + "_sub (gcloud pubsub subscriptions create")
        .hasMessageContaining("topic machinery_delays")
        .hasMessageContaining("topic machinery_dead_letters")
        .hasMessageContaining("createMissing(true)");
    // with the opt-in they are created, and a second broker then finds them without it
    PubSubProjects.broker(config).build().close();
    GcpPubSubBroker.builder(config)
        .emulatorHost(TestEndpoints.pubsubEmulatorHost())
        .build()
        .close();
  }

  @Test
  void anUnreachablePubSubFailsTheBuildWithAMachineryExceptionThatSaysWhy() throws Exception {
    // nothing listens on port 1; the stubs give up after 1 s instead of the library's 60 s
    ManagedChannel channel =
        io.grpc.ManagedChannelBuilder.forTarget("127.0.0.1:1").usePlaintext().build();
    try (var publisher = PubSubTestSupport.publisherStub(channel, Duration.ofSeconds(1));
        var subscriber = PubSubTestSupport.subscriberStub(channel)) {
      for (boolean createMissing : new boolean[] {false, true}) {
        assertThatThrownBy(
                () ->
                    GcpPubSubBroker.builder(config)
                        .client(publisher, subscriber)
                        .createMissing(createMissing)
                        .build())
            .as("createMissing " + createMissing)
            .isExactlyInstanceOf(MachineryException.class)
            .hasMessageContaining("Pub/Sub (project " + project + ") failed while checking")
            .hasMessageContaining("of topic " + config.defaultQueue())
            .hasMessageContaining("UNAVAILABLE")
            .hasMessageContaining("Connection refused");
      }
    } finally {
      channel.shutdownNow();
    }
  }

  @Test
  void aWorkerOfAQueueWithoutItsSubscriptionFailsItsLaunchAtOnce() {
    PubSubProjects.broker(config).build().close(); // the default queue's resources
    try (GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost(TestEndpoints.pubsubEmulatorHost())
                .build();
        Server server = Server.builder().config(config).broker(broker).build()) {
      Worker worker = server.workerBuilder("no_sub").queue("nobody_created_this").build();
      CompletableFuture<Void> done = worker.launchAsync();
      // a person must create them (the commands are named), so the worker does not try again
      assertThat(done).as("the launch, at once").isCompletedExceptionally();
      assertThatThrownBy(done::join)
          .hasCauseInstanceOf(ConsumerRefusedException.class)
          .hasMessageContaining("subscription nobody_created_this")
          .hasMessageContaining("gcloud pubsub subscriptions create");
    }
  }

  @Test
  void aBrokerUrlThatIsNotGcppubsubIsRefused() {
    assertThatThrownBy(
            () ->
                GcpPubSubBroker.builder(
                    config.toBuilder().broker("gcppubsub://only-project").build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gcppubsub://PROJECT/SUBSCRIPTION");
  }

  @Test
  void aConsumerWhoseFetchLoopFailsTellsItsHandlerItEnded() {
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build()) {
      RecordingHandler handler = new RecordingHandler(1);
      broker.startConsuming("it", "", handler);
      handler.failWith(new IllegalStateException("a handler with a bug"));
      Signature sig = Signature.builder("add").routingKey(config.defaultQueue()).build();
      broker.publish(sig, WireCodec.encode(sig));
      await().atMost(Duration.ofSeconds(20)).until(() -> !handler.endings().isEmpty());
      assertThat(handler.endings())
          .as("nothing pulls any more: the worker must start a new consumer")
          .singleElement()
          .satisfies(e -> assertThat(e).hasMessage("a handler with a bug"));
    }
  }

  @Test
  void aTaskIsPublishedAsGosJsonWithoutAttributesToTheTopicNamedByItsRoutingKey() {
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build()) {
      Signature sig =
          Signature.builder("add")
              .args(Arg.of(1L), Arg.of(2L))
              .routingKey(config.defaultQueue())
              .build();
      byte[] json = WireCodec.encode(sig);
      broker.publish(sig, json);
      List<ReceivedMessage> got = pullRaw(broker, config.defaultQueue() + "_sub");
      assertThat(got).hasSize(1);
      assertThat(got.get(0).getMessage().getData().toByteArray()).isEqualTo(json);
      assertThat(got.get(0).getMessage().getAttributesMap()).isEmpty();
    }
  }

  @Test
  void aUsersOwnStubsAreUsedAndLeftOpen() throws Exception {
    ManagedChannel channel = PubSubProjects.channel();
    try (var publisher = PubSubTestSupport.publisherStub(channel);
        var subscriber = PubSubTestSupport.subscriberStub(channel)) {
      try (GcpPubSubBroker broker =
          GcpPubSubBroker.builder(config)
              .emulatorHost("")
              .client(publisher, subscriber)
              .createMissing(true)
              .build()) {
        Signature sig = Signature.builder("add").routingKey(config.defaultQueue()).build();
        broker.publish(sig, WireCodec.encode(sig));
      }
      assertThat(publisher.isShutdown()).as("the user's publisher stub is left open").isFalse();
      assertThat(
              pullRaw(
                  subscriber,
                  "projects/" + project + "/subscriptions/" + config.defaultQueue() + "_sub"))
          .hasSize(1);
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * The sender exits before the ETA and no worker runs until shortly before it: the task waits in
   * Pub/Sub, is moved by the worker's broker when due, never before, and within a second.
   */
  @Test
  void aDelayedTaskSurvivesItsSendersExitAndArrivesOnTimeNeverEarly() throws Exception {
    Instant eta;
    Signature sent;
    try (GcpPubSubBroker sender = PubSubProjects.broker(config).build()) {
      eta = Instant.now().plusSeconds(4);
      sent = Signature.builder("add").routingKey(config.defaultQueue()).eta(eta).build();
      sender.publish(sent, WireCodec.encode(sent));
    }
    assertThat(Instant.now())
        .as("the sender is gone well before the ETA")
        .isBefore(eta.minusSeconds(2));
    try (GcpPubSubBroker worker = PubSubProjects.broker(config).build()) {
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = worker.startConsuming("delay-it", "", handler);
      Delivery delivery = handler.next(20);
      Instant arrived = Instant.now();
      assertThat(delivery).isNotNull();
      assertThat(WireCodec.decodeSignature(delivery.body()).uuid()).isEqualTo(sent.uuid());
      long lateMillis = Duration.between(eta, arrived).toMillis();
      System.out.printf(
          "[GcpPubSubBrokerIT] delayed task arrived %d ms after its ETA%n", lateMillis);
      assertThat(lateMillis).as("never early, within a second").isBetween(0L, 1_000L);
      handler.ack(delivery);
      consumer.close();
    }
  }

  /**
   * On a subscription with a dead-letter policy Pub/Sub counts delivery attempts; each delivery
   * reports it, so the worker's poison limit works across workers and restarts.
   */
  @Test
  void deliveryCountIsPubSubsDeliveryAttempt() throws Exception {
    try (GcpPubSubBroker setup = PubSubProjects.broker(config).build()) {
      String sub = config.defaultQueue() + "_counted";
      setup
          .client()
          .subscriber()
          .createSubscriptionCallable()
          .call(
              com.google.pubsub.v1.Subscription.newBuilder()
                  .setName(setup.client().subscriptionName(sub))
                  .setTopic(setup.client().topicName(config.defaultQueue()))
                  .setAckDeadlineSeconds(10)
                  .setDeadLetterPolicy(
                      com.google.pubsub.v1.DeadLetterPolicy.newBuilder()
                          .setMaxDeliveryAttempts(5)
                          .setDeadLetterTopic(
                              setup.client().topicName(GcpPubSubBroker.DEFAULT_DEAD_LETTER_TOPIC)))
                  .build());
      Config counted = config.toBuilder().broker("gcppubsub://" + project + "/" + sub).build();
      try (GcpPubSubBroker broker = PubSubProjects.broker(counted).build()) {
        Signature sig = Signature.builder("add").routingKey(config.defaultQueue()).build();
        broker.publish(sig, WireCodec.encode(sig));
        RecordingHandler handler = new RecordingHandler(1);
        var consumer = broker.startConsuming("count-it", "", handler);
        Delivery first = handler.next(20);
        assertThat(first).isNotNull();
        assertThat(first.deliveryCount()).isEqualTo(1);
        assertThat(first.redelivered()).isFalse();
        handler.requeue(first, Duration.ZERO);
        Delivery second = handler.next(20);
        assertThat(second).isNotNull();
        assertThat(second.deliveryCount()).isEqualTo(2);
        assertThat(second.redelivered()).isTrue();
        handler.ack(second);
        consumer.close();
      }
    }
  }

  /**
   * A message whose task outlives MaxExtension is left to lapse and comes back (as with Go's
   * client).
   */
  @Test
  void aMessageLeasedLongerThanMaxExtensionComesBack() throws Exception {
    Config short1 =
        config.toBuilder().gcpPubSub(new GcpPubSubConfig(Duration.ofSeconds(1))).build();
    try (GcpPubSubBroker broker = PubSubProjects.broker(short1).build()) {
      Signature sig = Signature.builder("add").routingKey(config.defaultQueue()).build();
      broker.publish(sig, WireCodec.encode(sig));
      RecordingHandler handler = new RecordingHandler(2);
      var consumer = broker.startConsuming("max-extension-it", "", handler);
      Delivery first = handler.next(20);
      assertThat(first).isNotNull();
      Instant firstAt = Instant.now();
      Delivery second = handler.next(30); // the first is never settled
      assertThat(second).as("delivered again once its lease lapsed").isNotNull();
      assertThat(WireCodec.decodeSignature(second.body()).uuid()).isEqualTo(sig.uuid());
      assertThat(Duration.between(firstAt, Instant.now()))
          .isGreaterThanOrEqualTo(Duration.ofSeconds(9));
      handler.ack(second);
      consumer.close();
    }
  }

  /** What a subscription hands out right now (possibly nothing); the caller settles it. */
  @SuppressWarnings("deprecation")
  static List<ReceivedMessage> pullNow(GcpPubSubBroker broker, String subscription) {
    return broker
        .client()
        .subscriber()
        .pullCallable()
        .call(
            PullRequest.newBuilder()
                .setSubscription(broker.client().subscriptionName(subscription))
                .setMaxMessages(100)
                .setReturnImmediately(true)
                .build())
        .getReceivedMessagesList();
  }

  static List<ReceivedMessage> pullRaw(GcpPubSubBroker broker, String subscription) {
    return pullRaw(broker.client().subscriber(), broker.client().subscriptionName(subscription));
  }

  @SuppressWarnings("deprecation")
  static List<ReceivedMessage> pullRaw(
      com.google.cloud.pubsub.v1.stub.SubscriberStub stub, String subscription) {
    return await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                stub.pullCallable()
                    .call(
                        PullRequest.newBuilder()
                            .setSubscription(subscription)
                            .setMaxMessages(1000)
                            .setReturnImmediately(true)
                            .build())
                    .getReceivedMessagesList(),
            l -> !l.isEmpty());
  }
}
