package io.machinery.benchmarks.sidebyside;

import com.google.api.gax.core.NoCredentialsProvider;
import com.google.api.gax.grpc.GrpcTransportChannel;
import com.google.api.gax.rpc.FixedTransportChannelProvider;
import com.google.api.gax.rpc.NotFoundException;
import com.google.cloud.pubsub.v1.stub.GrpcPublisherStub;
import com.google.cloud.pubsub.v1.stub.GrpcSubscriberStub;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.PublisherStubSettings;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStubSettings;
import com.google.pubsub.v1.DeleteSubscriptionRequest;
import com.google.pubsub.v1.DeleteTopicRequest;
import com.google.pubsub.v1.Subscription;
import com.google.pubsub.v1.Topic;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.machinery.broker.gcppubsub.GcpPubSubBroker;
import io.machinery.config.Config;
import io.machinery.spi.Broker;

/**
 * The Pub/Sub side-by-side pair, on the emulator at {@code PUBSUB_EMULATOR_HOST}: the bench queue
 * is topic and subscription {@code sidebyside_bench} of project {@value #PROJECT}; Pub/Sub has no
 * purge, so "empty the queue" deletes and recreates both (10 s ack deadline, as Go's own tests
 * create it).
 */
final class PubSubBench {
  static final String PROJECT = "machinery-sidebyside";

  private PubSubBench() {}

  static String url(String queue) {
    return "gcppubsub://" + PROJECT + "/" + queue;
  }

  static boolean isPubSub(String brokerUrl) {
    return brokerUrl.startsWith(GcpPubSubBroker.SCHEME);
  }

  /**
   * The Java broker; it creates its delay and dead-letter topics, the bench topic exists already.
   */
  static Broker broker(Config config) {
    return GcpPubSubBroker.builder(config).createMissing(true).build();
  }

  static void recreate(String queue) throws Exception {
    String host = System.getenv("PUBSUB_EMULATOR_HOST");
    if (host == null || host.isBlank()) {
      throw new IllegalStateException(
          "PUBSUB_EMULATOR_HOST is not set (scripts/services.sh start pubsub)");
    }
    ManagedChannel channel = ManagedChannelBuilder.forTarget(host).usePlaintext().build();
    var channels = FixedTransportChannelProvider.create(GrpcTransportChannel.create(channel));
    try (PublisherStub publisher =
            GrpcPublisherStub.create(
                PublisherStubSettings.newBuilder()
                    .setTransportChannelProvider(channels)
                    .setCredentialsProvider(NoCredentialsProvider.create())
                    .build());
        SubscriberStub subscriber =
            GrpcSubscriberStub.create(
                SubscriberStubSettings.newBuilder()
                    .setTransportChannelProvider(channels)
                    .setCredentialsProvider(NoCredentialsProvider.create())
                    .build())) {
      String topic = "projects/" + PROJECT + "/topics/" + queue;
      String subscription = "projects/" + PROJECT + "/subscriptions/" + queue;
      try {
        subscriber
            .deleteSubscriptionCallable()
            .call(DeleteSubscriptionRequest.newBuilder().setSubscription(subscription).build());
      } catch (NotFoundException e) {
        // first run
      }
      try {
        publisher
            .deleteTopicCallable()
            .call(DeleteTopicRequest.newBuilder().setTopic(topic).build());
      } catch (NotFoundException e) {
        // first run
      }
      publisher.createTopicCallable().call(Topic.newBuilder().setName(topic).build());
      subscriber
          .createSubscriptionCallable()
          .call(
              Subscription.newBuilder()
                  .setName(subscription)
                  .setTopic(topic)
                  .setAckDeadlineSeconds(10)
                  .build());
    } finally {
      channel.shutdownNow();
    }
  }
}
