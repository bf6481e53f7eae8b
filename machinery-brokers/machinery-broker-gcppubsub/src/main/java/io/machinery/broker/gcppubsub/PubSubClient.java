package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutures;
import com.google.api.gax.core.CredentialsProvider;
import com.google.api.gax.core.NoCredentialsProvider;
import com.google.api.gax.grpc.GrpcTransportChannel;
import com.google.api.gax.retrying.RetrySettings;
import com.google.api.gax.rpc.AlreadyExistsException;
import com.google.api.gax.rpc.ApiException;
import com.google.api.gax.rpc.DeadlineExceededException;
import com.google.api.gax.rpc.FixedTransportChannelProvider;
import com.google.api.gax.rpc.NotFoundException;
import com.google.api.gax.rpc.TransportChannelProvider;
import com.google.cloud.pubsub.v1.stub.GrpcPublisherStub;
import com.google.cloud.pubsub.v1.stub.GrpcSubscriberStub;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.PublisherStubSettings;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStubSettings;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Empty;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.GetSubscriptionRequest;
import com.google.pubsub.v1.GetTopicRequest;
import com.google.pubsub.v1.ModifyAckDeadlineRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PublishResponse;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.ReceivedMessage;
import com.google.pubsub.v1.Subscription;
import com.google.pubsub.v1.Topic;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.machinery.MachineryException;
import io.machinery.internal.Causes;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Pub/Sub calls the broker makes, on the two generated gRPC stubs, with resource names built
 * from the project and errors turned into messages that say what to do. Thread-safe (the stubs
 * are).
 */
final class PubSubClient implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PubSubClient.class);

  /**
   * Pub/Sub's limit of ack IDs per Acknowledge/ModifyAckDeadline request is far higher; this keeps
   * requests small.
   */
  static final int MAX_IDS_PER_REQUEST = 1000;

  /** Pub/Sub's shortest ack deadline, in seconds: no subscription's is shorter. */
  static final int MIN_ACK_DEADLINE_SECONDS = 10;

  /** Pub/Sub's limit of messages per PublishRequest. */
  static final int MAX_MESSAGES_PER_PUBLISH = 1000;

  /**
   * The most a PublishRequest of the broker's carries, in bytes: gRPC's default limit of a message
   * a server receives (4 MiB), which the pstest fake and any gRPC server or proxy left at its
   * defaults enforce: they refuse a larger request with RESOURCE_EXHAUSTED however often it is
   * tried, so a delayed burst over it would never move. Pub/Sub itself takes 10 MB; the smaller
   * limit costs a burst of large messages a request or two more.
   */
  static final long MAX_PUBLISH_REQUEST_BYTES = 4L << 20;

  private final String project;
  private final PublisherStub publisher;
  private final SubscriberStub subscriber;

  /** What this client built and closes: the user's own stubs are not in here. */
  private final List<AutoCloseable> owned;

  private final Set<String> knownTopics = ConcurrentHashMap.newKeySet();
  private final ReentrantLock requireLock = new ReentrantLock();

  PubSubClient(
      String project,
      PublisherStub publisher,
      SubscriberStub subscriber,
      List<AutoCloseable> owned) {
    this.project = project;
    this.publisher = publisher;
    this.subscriber = subscriber;
    this.owned = owned;
  }

  /**
   * Builds the two stubs: on a plaintext channel without credentials to {@code emulatorHost} when
   * it is set (and no channel is given), else on {@code channels}/{@code credentials}/{@code
   * endpoint}, each defaulting to Google's.
   */
  static PubSubClient connect(
      String project,
      @Nullable String emulatorHost,
      @Nullable TransportChannelProvider channels,
      @Nullable CredentialsProvider credentials,
      @Nullable String endpoint,
      Duration publishTimeout) {
    List<AutoCloseable> owned = new ArrayList<>();
    try {
      if (channels == null && emulatorHost != null && !emulatorHost.isBlank()) {
        // gRPC's default 4 MB would fail every pull that brings a few large messages (each up to
        // Pub/Sub's 10 MB), for ever, as they come back after their deadline; Google's default
        // channel takes 20 MB
        ManagedChannel channel =
            ManagedChannelBuilder.forTarget(emulatorHost)
                .usePlaintext()
                .maxInboundMessageSize(Integer.MAX_VALUE)
                .build();
        owned.add(channel::shutdownNow);
        channels = FixedTransportChannelProvider.create(GrpcTransportChannel.create(channel));
        credentials = credentials != null ? credentials : NoCredentialsProvider.create();
      }
      PublisherStubSettings.Builder ps = PublisherStubSettings.newBuilder();
      SubscriberStubSettings.Builder ss = SubscriberStubSettings.newBuilder();
      if (channels != null) {
        ps.setTransportChannelProvider(channels);
        ss.setTransportChannelProvider(channels);
      }
      if (credentials != null) {
        ps.setCredentialsProvider(credentials);
        ss.setCredentialsProvider(credentials);
      }
      if (endpoint != null) {
        ps.setEndpoint(endpoint);
        ss.setEndpoint(endpoint);
      }
      // the library's publish retries for up to 10 minutes; Go's client gives a publish 60 s
      RetrySettings retries = ps.publishSettings().getRetrySettings();
      ps.publishSettings()
          .setRetrySettings(
              retries.toBuilder()
                  .setTotalTimeoutDuration(publishTimeout)
                  .setInitialRpcTimeoutDuration(
                      min(retries.getInitialRpcTimeoutDuration(), publishTimeout))
                  .setMaxRpcTimeoutDuration(min(retries.getMaxRpcTimeoutDuration(), publishTimeout))
                  .build());
      PublisherStub publisher = GrpcPublisherStub.create(ps.build());
      owned.add(0, publisher);
      SubscriberStub subscriber = GrpcSubscriberStub.create(ss.build());
      owned.add(0, subscriber);
      return new PubSubClient(project, publisher, subscriber, owned);
    } catch (IOException e) {
      closeAll(owned);
      throw new MachineryException("cannot create the Pub/Sub client: " + e.getMessage(), e);
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /** Closes the stubs and channel this client built (stubs first, then the channel they share). */
  @Override
  public void close() {
    closeAll(owned);
  }

  private static void closeAll(List<AutoCloseable> resources) {
    for (AutoCloseable r : resources) {
      try {
        r.close();
      } catch (Exception e) {
        // closing: nothing left to do with a failure
      }
    }
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

  // ------------------------------------------------------------------------------------------
  // publishing

  /** Publishes one message and returns its ID once Pub/Sub has accepted it. */
  String publish(String topic, byte[] data, Map<String, String> attributes) {
    try {
      return publisher
          .publishCallable()
          .call(publishRequest(topic, data, attributes))
          .getMessageIds(0);
    } catch (NotFoundException e) {
      throw new MachineryException(
          "Pub/Sub topic "
              + topicName(topic)
              + " does not exist: create it (gcloud pubsub"
              + " topics create "
              + topic
              + " --project "
              + project
              + ") with a subscription, or build the broker with"
              + " createMissing(true)",
          e);
    } catch (DeadlineExceededException e) {
      throw new MachineryException(
          "no answer from Pub/Sub within the publish timeout publishing to topic "
              + topicName(topic)
              + ": "
              + e.getMessage(),
          e);
    } catch (ApiException e) {
      throw new MachineryException(
          "publishing to Pub/Sub topic " + topicName(topic) + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * Starts publishing {@code messages} to {@code topic} in one request and returns at once: the
   * future holds their IDs, in order, once Pub/Sub has accepted them all (it accepts a request
   * whole or not at all), or fails with gax's exception. Requests started one after the other
   * without waiting travel side by side on the channel. The caller keeps within {@link
   * #MAX_MESSAGES_PER_PUBLISH} and {@link #MAX_PUBLISH_REQUEST_BYTES} ({@link #inPublishRequests}).
   */
  ApiFuture<List<String>> publishAsync(String topic, List<PubsubMessage> messages) {
    return ApiFutures.transform(
        publisher
            .publishCallable()
            .futureCall(
                PublishRequest.newBuilder()
                    .setTopic(topicName(topic))
                    .addAllMessages(messages)
                    .build()),
        PublishResponse::getMessageIdsList,
        Runnable::run);
  }

  /**
   * Splits {@code items} (in order) into the requests Pub/Sub takes to {@code topic}: each at most
   * {@link #MAX_MESSAGES_PER_PUBLISH} messages and {@link #MAX_PUBLISH_REQUEST_BYTES} bytes; a
   * message too large for any request goes alone (and Pub/Sub refuses it, as it would anyway).
   */
  <T> List<List<T>> inPublishRequests(
      String topic, List<T> items, Function<? super T, PubsubMessage> messageOf) {
    return inPublishRequests(
        topicName(topic), items, messageOf, MAX_MESSAGES_PER_PUBLISH, MAX_PUBLISH_REQUEST_BYTES);
  }

  static <T> List<List<T>> inPublishRequests(
      String topicName,
      List<T> items,
      Function<? super T, PubsubMessage> messageOf,
      int maxMessages,
      long maxBytes) {
    long empty = CodedOutputStream.computeStringSize(PublishRequest.TOPIC_FIELD_NUMBER, topicName);
    List<List<T>> requests = new ArrayList<>();
    List<T> request = new ArrayList<>();
    long bytes = empty;
    for (T item : items) {
      int size =
          CodedOutputStream.computeMessageSize(
              PublishRequest.MESSAGES_FIELD_NUMBER, messageOf.apply(item));
      if (!request.isEmpty() && (request.size() == maxMessages || bytes + size > maxBytes)) {
        requests.add(request);
        request = new ArrayList<>();
        bytes = empty;
      }
      request.add(item);
      bytes += size;
    }
    if (!request.isEmpty()) {
      requests.add(request);
    }
    return requests;
  }

  private PublishRequest publishRequest(String topic, byte[] data, Map<String, String> attributes) {
    PubsubMessage message =
        PubsubMessage.newBuilder()
            .setData(ByteString.copyFrom(data))
            .putAllAttributes(attributes)
            .build();
    return PublishRequest.newBuilder().setTopic(topicName(topic)).addMessages(message).build();
  }

  // ------------------------------------------------------------------------------------------
  // settling

  void acknowledge(String subscription, List<String> ackIds) {
    for (int i = 0; i < ackIds.size(); i += MAX_IDS_PER_REQUEST) {
      subscriber
          .acknowledgeCallable()
          .call(
              AcknowledgeRequest.newBuilder()
                  .setSubscription(subscriptionName(subscription))
                  .addAllAckIds(ackIds.subList(i, Math.min(ackIds.size(), i + MAX_IDS_PER_REQUEST)))
                  .build());
    }
  }

  /**
   * Sets the ack deadline of messages to {@code seconds} from now; 0 is a nack (deliver again at
   * once).
   */
  void modifyAckDeadline(String subscription, List<String> ackIds, int seconds) {
    for (int i = 0; i < ackIds.size(); i += MAX_IDS_PER_REQUEST) {
      subscriber
          .modifyAckDeadlineCallable()
          .call(
              ModifyAckDeadlineRequest.newBuilder()
                  .setSubscription(subscriptionName(subscription))
                  .setAckDeadlineSeconds(seconds)
                  .addAllAckIds(ackIds.subList(i, Math.min(ackIds.size(), i + MAX_IDS_PER_REQUEST)))
                  .build());
    }
  }

  /**
   * As {@link #modifyAckDeadline}, but returns at once: the future completes when Pub/Sub has
   * answered every request, or fails with the first failure.
   */
  ApiFuture<?> modifyAckDeadlineAsync(String subscription, List<String> ackIds, int seconds) {
    List<ApiFuture<Empty>> requests = new ArrayList<>();
    for (int i = 0; i < ackIds.size(); i += MAX_IDS_PER_REQUEST) {
      requests.add(
          subscriber
              .modifyAckDeadlineCallable()
              .futureCall(
                  ModifyAckDeadlineRequest.newBuilder()
                      .setSubscription(subscriptionName(subscription))
                      .setAckDeadlineSeconds(seconds)
                      .addAllAckIds(
                          ackIds.subList(i, Math.min(ackIds.size(), i + MAX_IDS_PER_REQUEST)))
                      .build()));
    }
    return ApiFutures.allAsList(requests);
  }

  // ------------------------------------------------------------------------------------------
  // resources

  /** Whether {@link #require} has seen {@code topic} exist. */
  boolean knownTopic(String topic) {
    return knownTopics.contains(topic);
  }

  /**
   * Forgets that {@code topic} was seen to exist: Pub/Sub answered that it does not (someone
   * deleted it, or a test server restarted empty), so the next {@link #require} checks it again.
   */
  void forgetTopic(String topic) {
    knownTopics.remove(topic);
  }

  /**
   * Checks that every subscription (key) of its topic (value) exists, with its topic; creates what
   * is missing when {@code create}, else fails naming every missing one with the gcloud command
   * that creates it.
   *
   * @throws MissingResourcesException when something is missing and may not be created
   * @throws MachineryException when Pub/Sub fails a check or a creation (unreachable, refusing)
   */
  void require(Map<String, String> subscriptionsToTopics, boolean create, int ackDeadlineSeconds) {
    // a lock, not a monitor: the checks are round trips, and a virtual thread blocked inside
    // synchronized holds its carrier on Java 21 to 23
    requireLock.lock();
    try {
      requireLocked(subscriptionsToTopics, create, ackDeadlineSeconds);
    } catch (ApiException e) {
      // Pub/Sub unreachable, or refusing: say so in the library's exception, not gax's
      throw new MachineryException(
          "Pub/Sub (project "
              + project
              + ") failed while checking"
              + (create ? " or creating" : "")
              + " "
              + describe(subscriptionsToTopics)
              + ": "
              + Causes.withRoot(String.valueOf(e.getMessage()), e),
          e);
    } finally {
      requireLock.unlock();
    }
  }

  /** What {@link #require} was asked for, as "subscription s of topic t, ...". */
  private static String describe(Map<String, String> subscriptionsToTopics) {
    List<String> each = new ArrayList<>();
    new TreeMap<>(subscriptionsToTopics)
        .forEach((sub, topic) -> each.add("subscription " + sub + " of topic " + topic));
    return String.join(", ", each);
  }

  private void requireLocked(
      Map<String, String> subscriptionsToTopics, boolean create, int ackDeadlineSeconds) {
    List<String> missing = new ArrayList<>();
    for (Map.Entry<String, String> e : new TreeMap<>(subscriptionsToTopics).entrySet()) {
      String sub = e.getKey();
      String topic = e.getValue();
      if (!knownTopics.contains(topic) && !topicExists(topic)) {
        if (create) {
          createTopic(topic);
          log.info("Created Pub/Sub topic {}", topicName(topic));
        } else {
          missing.add(
              "topic "
                  + topic
                  + " (gcloud pubsub topics create "
                  + topic
                  + " --project "
                  + project
                  + ")");
          missing.add(
              "subscription "
                  + sub
                  + " (gcloud pubsub subscriptions create "
                  + sub
                  + " --topic "
                  + topic
                  + " --ack-deadline "
                  + ackDeadlineSeconds
                  + " --project "
                  + project
                  + ")");
          continue;
        }
      }
      if (subscription(sub) == null) {
        if (create) {
          try {
            createSubscription(sub, topic, ackDeadlineSeconds);
          } catch (NotFoundException gone) {
            // the topic was seen before and is gone now: without this, every later try would
            // skip creating it and fail the same way
            knownTopics.remove(topic);
            createTopic(topic);
            log.info("Created Pub/Sub topic {} again: it was gone", topicName(topic));
            createSubscription(sub, topic, ackDeadlineSeconds);
          }
          log.info("Created Pub/Sub subscription {} of topic {}", subscriptionName(sub), topic);
        } else {
          missing.add(
              "subscription "
                  + sub
                  + " (gcloud pubsub subscriptions create "
                  + sub
                  + " --topic "
                  + topic
                  + " --ack-deadline "
                  + ackDeadlineSeconds
                  + " --project "
                  + project
                  + ")");
          continue;
        }
      }
      knownTopics.add(topic);
    }
    if (!missing.isEmpty()) {
      throw new MissingResourcesException(
          "Pub/Sub resources missing in project "
              + project
              + ": "
              + String.join("; ", missing)
              + ". Create them (the commands are given) or build the broker with createMissing(true).");
    }
  }

  /**
   * Pulls up to {@code max} waiting messages without acknowledging them and hands them all back at
   * once (a nack), so they stay where they were. A missing subscription has none.
   */
  List<ReceivedMessage> peek(String subscription, int max) {
    List<ReceivedMessage> pulled = new ArrayList<>();
    try {
      while (pulled.size() < max) {
        @SuppressWarnings(
            "deprecation") // still the way to ask for an immediate answer, honoured by both servers
        PullRequest request =
            PullRequest.newBuilder()
                .setSubscription(subscriptionName(subscription))
                .setMaxMessages(Math.min(MAX_IDS_PER_REQUEST, max - pulled.size()))
                .setReturnImmediately(true)
                .build();
        List<ReceivedMessage> page =
            subscriber.pullCallable().call(request).getReceivedMessagesList();
        if (page.isEmpty()) {
          break;
        }
        pulled.addAll(page);
      }
    } catch (NotFoundException e) {
      return List.of();
    } finally {
      if (!pulled.isEmpty()) {
        modifyAckDeadline(subscription, pulled.stream().map(ReceivedMessage::getAckId).toList(), 0);
      }
    }
    return pulled;
  }

  boolean topicExists(String topic) {
    try {
      publisher
          .getTopicCallable()
          .call(GetTopicRequest.newBuilder().setTopic(topicName(topic)).build());
      return true;
    } catch (NotFoundException e) {
      return false;
    }
  }

  /** The subscription, or null when it does not exist. */
  @Nullable Subscription subscription(String subscription) {
    try {
      return subscriber
          .getSubscriptionCallable()
          .call(
              GetSubscriptionRequest.newBuilder()
                  .setSubscription(subscriptionName(subscription))
                  .build());
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
      subscriber
          .createSubscriptionCallable()
          .call(
              Subscription.newBuilder()
                  .setName(subscriptionName(subscription))
                  .setTopic(topicName(topic))
                  .setAckDeadlineSeconds(ackDeadlineSeconds)
                  .build());
    } catch (AlreadyExistsException e) {
      // created meanwhile by another worker: fine
    }
  }

  /** Topics or subscriptions missing that the caller may not create (see {@link #require}). */
  static final class MissingResourcesException extends MachineryException {
    private static final long serialVersionUID = 1L;

    MissingResourcesException(String message) {
      super(message);
    }
  }
}
