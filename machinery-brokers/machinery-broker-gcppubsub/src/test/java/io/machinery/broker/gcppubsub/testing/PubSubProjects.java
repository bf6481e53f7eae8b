package io.machinery.broker.gcppubsub.testing;

import com.google.api.gax.core.NoCredentialsProvider;
import com.google.api.gax.grpc.GrpcTransportChannel;
import com.google.api.gax.rpc.FixedTransportChannelProvider;
import com.google.cloud.pubsub.v1.stub.GrpcPublisherStub;
import com.google.cloud.pubsub.v1.stub.GrpcSubscriberStub;
import com.google.cloud.pubsub.v1.stub.PublisherStubSettings;
import com.google.cloud.pubsub.v1.stub.SubscriberStubSettings;
import com.google.pubsub.v1.DeleteSubscriptionRequest;
import com.google.pubsub.v1.DeleteTopicRequest;
import com.google.pubsub.v1.ListSubscriptionsRequest;
import com.google.pubsub.v1.ListTopicsRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.machinery.broker.gcppubsub.GcpPubSubBroker;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.UUID;

/**
 * A Pub/Sub project of a test's own on the emulator ({@code PUBSUB_EMULATOR_HOST}): a fresh name, a
 * broker that creates the topics and subscriptions its config names, and the deletion of everything
 * in the project afterwards (pstest runs every subscription's delivery loop every 10 ms under one
 * lock, so leftovers slow every later test down). The broker's own tests, the dashboard's and the
 * command line's use it (machinery-broker-gcppubsub's test jar).
 *
 * <p>Typical use: {@code String project = PubSubProjects.name("machinery-dash");} a config whose
 * broker URL is {@code gcppubsub://<project>/<subscription>}, {@code
 * PubSubProjects.broker(config).build()}, and {@code PubSubProjects.delete(project)} after the
 * test.
 */
public final class PubSubProjects {
  private PubSubProjects() {}

  /** A fresh project name starting with {@code prefix}: tests side by side never share one. */
  public static String name(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /**
   * A broker builder for {@code config}'s {@code gcppubsub://PROJECT/SUBSCRIPTION} URL on the
   * emulator that creates what is missing, with a 10 s ack deadline.
   */
  public static GcpPubSubBroker.Builder broker(Config config) {
    return GcpPubSubBroker.builder(config)
        .emulatorHost(TestEndpoints.pubsubEmulatorHost())
        .createMissing(true)
        .ackDeadline(Duration.ofSeconds(10));
  }

  /**
   * A plaintext channel to the emulator that takes answers of any size, as the broker's own does (a
   * pull may bring several messages of up to 10 MB); the caller shuts it down.
   */
  public static ManagedChannel channel() {
    return ManagedChannelBuilder.forTarget(TestEndpoints.pubsubEmulatorHost())
        .usePlaintext()
        .maxInboundMessageSize(Integer.MAX_VALUE)
        .build();
  }

  /** Settings of a publisher stub on {@code channel} without credentials. */
  public static PublisherStubSettings.Builder publisherSettings(ManagedChannel channel) {
    return PublisherStubSettings.newBuilder()
        .setTransportChannelProvider(
            FixedTransportChannelProvider.create(GrpcTransportChannel.create(channel)))
        .setCredentialsProvider(NoCredentialsProvider.create());
  }

  /** Settings of a subscriber stub on {@code channel} without credentials. */
  public static SubscriberStubSettings.Builder subscriberSettings(ManagedChannel channel) {
    return SubscriberStubSettings.newBuilder()
        .setTransportChannelProvider(
            FixedTransportChannelProvider.create(GrpcTransportChannel.create(channel)))
        .setCredentialsProvider(NoCredentialsProvider.create());
  }

  /**
   * Deletes every subscription, then every topic, of {@code project} on the emulator.
   *
   * @throws Exception when the emulator cannot be reached or refuses a deletion
   */
  public static void delete(String project) throws Exception {
    ManagedChannel channel = channel();
    try (var publisher = GrpcPublisherStub.create(publisherSettings(channel).build());
        var subscriber = GrpcSubscriberStub.create(subscriberSettings(channel).build())) {
      for (var sub :
          subscriber
              .listSubscriptionsPagedCallable()
              .call(ListSubscriptionsRequest.newBuilder().setProject("projects/" + project).build())
              .iterateAll()) {
        subscriber
            .deleteSubscriptionCallable()
            .call(DeleteSubscriptionRequest.newBuilder().setSubscription(sub.getName()).build());
      }
      for (var topic :
          publisher
              .listTopicsPagedCallable()
              .call(ListTopicsRequest.newBuilder().setProject("projects/" + project).build())
              .iterateAll()) {
        publisher
            .deleteTopicCallable()
            .call(DeleteTopicRequest.newBuilder().setTopic(topic.getName()).build());
      }
    } finally {
      channel.shutdownNow();
    }
  }
}
