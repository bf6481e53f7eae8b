package io.machinery.interop;

import com.google.api.gax.core.NoCredentialsProvider;
import com.google.api.gax.grpc.GrpcTransportChannel;
import com.google.api.gax.rpc.AlreadyExistsException;
import com.google.api.gax.rpc.FixedTransportChannelProvider;
import com.google.api.gax.rpc.NotFoundException;
import com.google.cloud.pubsub.v1.stub.GrpcPublisherStub;
import com.google.cloud.pubsub.v1.stub.GrpcSubscriberStub;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.PublisherStubSettings;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStubSettings;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.DeleteSubscriptionRequest;
import com.google.pubsub.v1.DeleteTopicRequest;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.ReceivedMessage;
import com.google.pubsub.v1.Subscription;
import com.google.pubsub.v1.Topic;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.machinery.Signature;
import io.machinery.broker.gcppubsub.GcpPubSubBroker;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * Raw Pub/Sub access for the interop tests, on the emulator at {@code PUBSUB_EMULATOR_HOST}: every
 * queue is a topic with a subscription of the same name in project {@value #PROJECT}, created
 * before Go's broker (which requires both) starts; a probe is a second subscription of the topic,
 * which gets a copy of every message published to it; and cleanup deletes what a class made.
 */
final class PubSubAdmin {
  static final String PROJECT = "machinery-interop";
  private static @Nullable ManagedChannel channel;
  private static @Nullable PublisherStub publisher;
  private static @Nullable SubscriberStub subscriber;

  private PubSubAdmin() {}

  static String url(String queue) {
    return "gcppubsub://" + PROJECT + "/" + queue;
  }

  /** The Java broker of the interop tests (it creates its own delay and dead-letter topics). */
  static Broker broker(Config config) {
    return GcpPubSubBroker.builder(config)
        .emulatorHost(TestEndpoints.pubsubEmulatorHost())
        .createMissing(true)
        .build();
  }

  private static synchronized void connect() {
    if (channel != null) {
      return;
    }
    channel =
        ManagedChannelBuilder.forTarget(TestEndpoints.pubsubEmulatorHost()).usePlaintext().build();
    var channels = FixedTransportChannelProvider.create(GrpcTransportChannel.create(channel));
    try {
      publisher =
          GrpcPublisherStub.create(
              PublisherStubSettings.newBuilder()
                  .setTransportChannelProvider(channels)
                  .setCredentialsProvider(NoCredentialsProvider.create())
                  .build());
      subscriber =
          GrpcSubscriberStub.create(
              SubscriberStubSettings.newBuilder()
                  .setTransportChannelProvider(channels)
                  .setCredentialsProvider(NoCredentialsProvider.create())
                  .build());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String topic(String name) {
    return "projects/" + PROJECT + "/topics/" + name;
  }

  private static String subscription(String name) {
    return "projects/" + PROJECT + "/subscriptions/" + name;
  }

  /**
   * Creates topic {@code queue} and its subscription {@code queue} (10 s ack deadline, as Go's own
   * tests).
   */
  static void ensure(String queue) {
    connect();
    try {
      publisher.createTopicCallable().call(Topic.newBuilder().setName(topic(queue)).build());
    } catch (AlreadyExistsException e) {
      // fine
    }
    createSubscription(queue, queue);
  }

  private static void createSubscription(String name, String topicName) {
    try {
      subscriber
          .createSubscriptionCallable()
          .call(
              Subscription.newBuilder()
                  .setName(subscription(name))
                  .setTopic(topic(topicName))
                  .setAckDeadlineSeconds(10)
                  .build());
    } catch (AlreadyExistsException e) {
      // fine
    }
  }

  static void delete(Collection<String> queues) {
    connect();
    for (String queue : queues) {
      try {
        subscriber
            .deleteSubscriptionCallable()
            .call(
                DeleteSubscriptionRequest.newBuilder()
                    .setSubscription(subscription(queue))
                    .build());
      } catch (NotFoundException e) {
        // fine
      }
      try {
        publisher
            .deleteTopicCallable()
            .call(DeleteTopicRequest.newBuilder().setTopic(topic(queue)).build());
      } catch (NotFoundException e) {
        // fine
      }
    }
  }

  /**
   * A probe on topic {@code queue}: a spy subscription sees every message published to it, when it
   * is published.
   */
  static InteropQueue.Probe probe(String queue) {
    connect();
    String spy = queue + "_spy_" + UUID.randomUUID().toString().substring(0, 8);
    createSubscription(spy, queue);
    return new InteropQueue.Probe() {
      private final List<InteropQueue.Seen> seen = new ArrayList<>();

      @Override
      public List<InteropQueue.Seen> poll(String taskUuid) {
        @SuppressWarnings("deprecation")
        PullRequest request =
            PullRequest.newBuilder()
                .setSubscription(subscription(spy))
                .setMaxMessages(100)
                .setReturnImmediately(true)
                .build();
        List<ReceivedMessage> got =
            subscriber.pullCallable().call(request).getReceivedMessagesList();
        if (!got.isEmpty()) {
          subscriber
              .acknowledgeCallable()
              .call(
                  AcknowledgeRequest.newBuilder()
                      .setSubscription(subscription(spy))
                      .addAllAckIds(got.stream().map(ReceivedMessage::getAckId).toList())
                      .build());
        }
        for (ReceivedMessage m : got) {
          Signature s = WireCodec.decodeSignature(m.getMessage().getData().toByteArray());
          if (s.uuid().equals(taskUuid)) {
            seen.add(new InteropQueue.Seen(s, Instant.now(), null));
          }
        }
        return List.copyOf(seen);
      }

      @Override
      public void close() {
        try {
          subscriber
              .deleteSubscriptionCallable()
              .call(
                  DeleteSubscriptionRequest.newBuilder()
                      .setSubscription(subscription(spy))
                      .build());
        } catch (NotFoundException e) {
          // fine
        }
      }
    };
  }
}
