package io.machinery.broker.gcppubsub;

import com.google.api.gax.rpc.AlreadyExistsException;
import com.google.api.gax.rpc.ApiException;
import com.google.api.gax.rpc.NotFoundException;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.protobuf.ByteString;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.GetSubscriptionRequest;
import com.google.pubsub.v1.GetTopicRequest;
import com.google.pubsub.v1.ModifyAckDeadlineRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.Subscription;
import com.google.pubsub.v1.Topic;
import io.machinery.MachineryException;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The Pub/Sub calls the broker makes, on the two generated gRPC stubs, with resource names built from the
 * project and errors turned into messages that say what to do. Thread-safe (the stubs are).
 */
final class PubSubClient {
  /** Pub/Sub's limit of ack IDs per Acknowledge/ModifyAckDeadline request is far higher; this keeps requests small. */
  static final int MAX_IDS_PER_REQUEST = 1000;

  private final String project;
  private final PublisherStub publisher;
  private final SubscriberStub subscriber;

  PubSubClient(String project, PublisherStub publisher, SubscriberStub subscriber) {
    this.project = project;
    this.publisher = publisher;
    this.subscriber = subscriber;
  }

  String project() {
    return project;
  }

  SubscriberStub subscriber() {
    return subscriber;
  }

  PublisherStub publisher() {
    return publisher;
  }

  String topicName(String topic) {
    return "projects/" + project + "/topics/" + topic;
  }

  String subscriptionName(String subscription) {
    return "projects/" + project + "/subscriptions/" + subscription;
  }

  // ------------------------------------------------------------------------------------------ publishing

  /** Publishes one message and returns its ID once Pub/Sub has accepted it. */
  String publish(String topic, byte[] data, Map<String, String> attributes) {
    PubsubMessage message = PubsubMessage.newBuilder().setData(ByteString.copyFrom(data))
        .putAllAttributes(attributes).build();
    try {
      return publisher.publishCallable()
          .call(PublishRequest.newBuilder().setTopic(topicName(topic)).addMessages(message).build())
          .getMessageIds(0);
    } catch (NotFoundException e) {
      throw new MachineryException("Pub/Sub topic " + topicName(topic) + " does not exist: create it (gcloud pubsub"
          + " topics create " + topic + " --project " + project + ") with a subscription, or build the broker with"
          + " createMissing(true)", e);
    } catch (ApiException e) {
      throw new MachineryException("publishing to Pub/Sub topic " + topicName(topic) + " failed: " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------------------------------ settling

  void acknowledge(String subscription, List<String> ackIds) {
    for (int i = 0; i < ackIds.size(); i += MAX_IDS_PER_REQUEST) {
      subscriber.acknowledgeCallable().call(AcknowledgeRequest.newBuilder().setSubscription(subscriptionName(subscription))
          .addAllAckIds(ackIds.subList(i, Math.min(ackIds.size(), i + MAX_IDS_PER_REQUEST))).build());
    }
  }

  /** Sets the ack deadline of messages to {@code seconds} from now; 0 is a nack (deliver again at once). */
  void modifyAckDeadline(String subscription, List<String> ackIds, int seconds) {
    for (int i = 0; i < ackIds.size(); i += MAX_IDS_PER_REQUEST) {
      subscriber.modifyAckDeadlineCallable().call(ModifyAckDeadlineRequest.newBuilder()
          .setSubscription(subscriptionName(subscription)).setAckDeadlineSeconds(seconds)
          .addAllAckIds(ackIds.subList(i, Math.min(ackIds.size(), i + MAX_IDS_PER_REQUEST))).build());
    }
  }

  // ------------------------------------------------------------------------------------------ resources

  boolean topicExists(String topic) {
    try {
      publisher.getTopicCallable().call(GetTopicRequest.newBuilder().setTopic(topicName(topic)).build());
      return true;
    } catch (NotFoundException e) {
      return false;
    }
  }

  /** The subscription, or null when it does not exist. */
  @Nullable Subscription subscription(String subscription) {
    try {
      return subscriber.getSubscriptionCallable()
          .call(GetSubscriptionRequest.newBuilder().setSubscription(subscriptionName(subscription)).build());
    } catch (NotFoundException e) {
      return null;
    }
  }

  void createTopic(String topic) {
    try {
      publisher.createTopicCallable().call(Topic.newBuilder().setName(topicName(topic)).build());
    } catch (AlreadyExistsException e) {
      // created meanwhile by another worker: fine
    }
  }

  void createSubscription(String subscription, String topic, int ackDeadlineSeconds) {
    try {
      subscriber.createSubscriptionCallable().call(Subscription.newBuilder().setName(subscriptionName(subscription))
          .setTopic(topicName(topic)).setAckDeadlineSeconds(ackDeadlineSeconds).build());
    } catch (AlreadyExistsException e) {
      // created meanwhile by another worker: fine
    }
  }
}
