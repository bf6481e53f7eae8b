package io.machinery.dashboard.testing;

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
 * A project of one test on the Pub/Sub emulator ({@code PUBSUB_EMULATOR_HOST}), for the dashboard's
 * and the command line's tests (the broker's own {@code PubSubTestSupport} is in its test sources,
 * out of their reach): a fresh name, the worker's broker that creates the topics and subscriptions
 * the config names, and the deletion of everything in the project afterwards (pstest runs every
 * subscription's delivery loop under one lock, so leftovers slow every later test down).
 */
public final class PubSubProjects {
  private PubSubProjects() {}

  /** A fresh project name starting with {@code prefix}: tests side by side never share one. */
  public static String name(String prefix) {
    return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /**
   * A broker for {@code config}'s {@code gcppubsub://PROJECT/SUBSCRIPTION} URL on the emulator that
   * creates what is missing, with a 10 s ack deadline.
   */
  public static GcpPubSubBroker broker(Config config) {
    return GcpPubSubBroker.builder(config)
        .emulatorHost(TestEndpoints.pubsubEmulatorHost())
        .createMissing(true)
        .ackDeadline(Duration.ofSeconds(10))
        .build();
  }

  /** Deletes every subscription, then every topic, of {@code project} on the emulator. */
  public static void delete(String project) throws Exception {
    ManagedChannel channel =
        ManagedChannelBuilder.forTarget(TestEndpoints.pubsubEmulatorHost()).usePlaintext().build();
    var transport = FixedTransportChannelProvider.create(GrpcTransportChannel.create(channel));
    try (var publisher =
            GrpcPublisherStub.create(
                PublisherStubSettings.newBuilder()
                    .setTransportChannelProvider(transport)
                    .setCredentialsProvider(NoCredentialsProvider.create())
                    .build());
        var subscriber =
            GrpcSubscriberStub.create(
                SubscriberStubSettings.newBuilder()
                    .setTransportChannelProvider(transport)
                    .setCredentialsProvider(NoCredentialsProvider.create())
                    .build())) {
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
