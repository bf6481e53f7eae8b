package io.machinery.broker.gcppubsub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.api.gax.rpc.UnaryCallSettings;
import com.google.cloud.pubsub.v1.stub.GrpcPublisherStub;
import com.google.cloud.pubsub.v1.stub.GrpcSubscriberStub;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.PublisherStubSettings;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStubSettings;
import com.google.protobuf.ByteString;
import com.google.protobuf.FieldMask;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.Subscription;
import com.google.pubsub.v1.UpdateSubscriptionRequest;
import io.grpc.ManagedChannel;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import java.io.IOException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Test wiring of this module's tests beyond a project of their own ({@link PubSubProjects}, shared
 * with the dashboard's and the command line's tests): configs in a project, brokers on a test's own
 * stubs, messages put straight on topics, and stubs that give up early.
 */
final class PubSubTestSupport {
  private PubSubTestSupport() {}

  /** {@code base} pointing at {@code gcppubsub://project/<default queue>_sub}. */
  static Config config(Config base, String project) {
    return base.toBuilder()
        .broker("gcppubsub://" + project + "/" + base.defaultQueue() + "_sub")
        .build();
  }

  /**
   * A broker on the test's own stubs (which it leaves open), with nothing else of {@link
   * PubSubProjects#broker}: it creates nothing, and its resources must exist (a broker built by
   * {@link PubSubProjects#broker} on the same config makes them).
   */
  static GcpPubSubBroker brokerOn(
      Config config, PublisherStub publisher, SubscriberStub subscriber) {
    return GcpPubSubBroker.builder(config).emulatorHost("").client(publisher, subscriber).build();
  }

  /**
   * Publishes {@code count} messages {@code {"UUID":"<prefix><i>"}} to {@code topic}, one by one.
   */
  static void publishTasks(GcpPubSubBroker broker, String topic, String prefix, int count) {
    for (int i = 0; i < count; i++) {
      broker
          .client()
          .publish(topic, ("{\"UUID\":\"" + prefix + i + "\"}").getBytes(UTF_8), Map.of());
    }
  }

  /**
   * Puts {@code count} delayed messages {@code {"UUID":"<prefix><i>"}} for {@code topic} on the
   * delay topic, due at {@code dueMillis}, in requests of up to 1,000.
   */
  static void publishDelayed(
      GcpPubSubBroker broker, String topic, String prefix, int count, long dueMillis) {
    PublishRequest.Builder request =
        PublishRequest.newBuilder()
            .setTopic(broker.client().topicName(GcpPubSubBroker.DEFAULT_DELAY_TOPIC));
    for (int i = 0; i < count; i++) {
      request.addMessages(
          PubsubMessage.newBuilder()
              .setData(ByteString.copyFromUtf8("{\"UUID\":\"" + prefix + i + "\"}"))
              .putAttributes(GcpPubSubBroker.ETA_ATTRIBUTE, Long.toString(dueMillis))
              .putAttributes(GcpPubSubBroker.TOPIC_ATTRIBUTE, topic));
      if (request.getMessagesCount() == PubSubClient.MAX_IDS_PER_REQUEST || i == count - 1) {
        broker.client().publisher().publishCallable().call(request.build());
        request.clearMessages();
      }
    }
  }

  /**
   * Sets the ack deadline of {@code subscription} on the server, as {@code gcloud pubsub
   * subscriptions update --ack-deadline} does.
   */
  static void setAckDeadline(GcpPubSubBroker broker, String subscription, int seconds) {
    broker
        .client()
        .subscriber()
        .updateSubscriptionCallable()
        .call(
            UpdateSubscriptionRequest.newBuilder()
                .setSubscription(
                    Subscription.newBuilder()
                        .setName(broker.client().subscriptionName(subscription))
                        .setAckDeadlineSeconds(seconds))
                .setUpdateMask(FieldMask.newBuilder().addPaths("ack_deadline_seconds"))
                .build());
  }

  /**
   * Receives {@code count} distinct tasks through {@code handler}, each once, and acknowledges
   * them.
   */
  static void receiveOnceEach(RecordingHandler handler, int count) throws InterruptedException {
    Set<String> received = new HashSet<>();
    int deliveries = 0;
    while (received.size() < count) {
      Delivery d = handler.next(60);
      assertThat(d).as("task %d of %d", received.size() + 1, count).isNotNull();
      deliveries++;
      received.add(new String(d.body(), UTF_8));
      handler.ack(d);
    }
    assertThat(deliveries).as("deliveries of %d distinct tasks", count).isEqualTo(count);
  }

  /**
   * A channel to the emulator for a test's own stubs (see {@link PubSubStubs}), shut down on close.
   */
  static final class EmulatorChannel implements AutoCloseable {
    private final ManagedChannel channel = PubSubProjects.channel();

    /** A publisher stub on this channel without credentials; the caller closes it. */
    GrpcPublisherStub publisher() throws IOException {
      return publisherStub(channel);
    }

    /** A subscriber stub on this channel without credentials; the caller closes it. */
    GrpcSubscriberStub subscriber() throws IOException {
      return subscriberStub(channel);
    }

    @Override
    public void close() {
      channel.shutdownNow();
    }
  }

  /** A publisher stub on {@code channel} without credentials; the caller closes it. */
  static GrpcPublisherStub publisherStub(ManagedChannel channel) throws IOException {
    return GrpcPublisherStub.create(PubSubProjects.publisherSettings(channel).build());
  }

  /** A subscriber stub on {@code channel} without credentials; the caller closes it. */
  static GrpcSubscriberStub subscriberStub(ManagedChannel channel) throws IOException {
    return GrpcSubscriberStub.create(PubSubProjects.subscriberSettings(channel).build());
  }

  /**
   * As {@link #publisherStub(ManagedChannel)}, its topic reads and creations answered or given up
   * within {@code giveUp} (the library's default is 60 s).
   */
  static GrpcPublisherStub publisherStub(ManagedChannel channel, Duration giveUp)
      throws IOException {
    PublisherStubSettings.Builder settings = PubSubProjects.publisherSettings(channel);
    giveUpAfter(settings.getTopicSettings(), giveUp);
    giveUpAfter(settings.createTopicSettings(), giveUp);
    return GrpcPublisherStub.create(settings.build());
  }

  /** As {@link #publisherStub(ManagedChannel, Duration)} for subscription reads and creations. */
  static GrpcSubscriberStub subscriberStub(ManagedChannel channel, Duration giveUp)
      throws IOException {
    SubscriberStubSettings.Builder settings = PubSubProjects.subscriberSettings(channel);
    giveUpAfter(settings.getSubscriptionSettings(), giveUp);
    giveUpAfter(settings.createSubscriptionSettings(), giveUp);
    return GrpcSubscriberStub.create(settings.build());
  }

  private static void giveUpAfter(UnaryCallSettings.Builder<?, ?> call, Duration giveUp) {
    call.setRetrySettings(
        call.getRetrySettings().toBuilder()
            .setTotalTimeoutDuration(giveUp)
            .setInitialRpcTimeoutDuration(giveUp)
            .setMaxRpcTimeoutDuration(giveUp)
            .build());
  }
}
