package io.machinery.broker.gcppubsub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutureCallback;
import com.google.api.core.ApiFutures;
import com.google.api.core.SettableApiFuture;
import com.google.api.gax.rpc.ApiCallContext;
import com.google.api.gax.rpc.UnaryCallable;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.protobuf.ByteString;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PublishResponse;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import io.grpc.ManagedChannel;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.spi.Delivery;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The delay pump's bursts on the pstest fake: held tasks falling due together, old delayed messages
 * refreshed, and a pull that answers after its broker closed. Publishes go through stubs that slow
 * or hold some of them (a slow network or server) and count what is in flight.
 */
class GcpPubSubDelayBurstIT {
  private final String project = PubSubTestSupport.project();
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "delay_burst_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubTestSupport.deleteProject(project);
  }

  /** Puts {@code count} delayed messages on the delay topic, due at {@code dueMillis}. */
  private void publishDelayed(GcpPubSubBroker setup, String prefix, int count, long dueMillis) {
    PublishRequest.Builder request =
        PublishRequest.newBuilder()
            .setTopic(setup.client().topicName(GcpPubSubBroker.DEFAULT_DELAY_TOPIC));
    for (int i = 0; i < count; i++) {
      request.addMessages(
          PubsubMessage.newBuilder()
              .setData(ByteString.copyFromUtf8("{\"UUID\":\"" + prefix + i + "\"}"))
              .putAttributes(GcpPubSubBroker.ETA_ATTRIBUTE, Long.toString(dueMillis))
              .putAttributes(GcpPubSubBroker.TOPIC_ATTRIBUTE, config.defaultQueue()));
      if (request.getMessagesCount() == PubSubClient.MAX_IDS_PER_REQUEST || i == count - 1) {
        setup.client().publisher().publishCallable().call(request.build());
        request.clearMessages();
      }
    }
  }

  /**
   * 2,000 held tasks falling due in the same moment, on a network where every publish takes 50 ms,
   * are published in a handful of requests of up to 1,000 messages (before, one request per task:
   * 2,000), never more than {@link PublishWindow#MAX_IN_FLIGHT} in flight; each delayed message is
   * acknowledged only after the request carrying its task was confirmed, each task is published
   * once, and every one reaches the worker once.
   */
  @Test
  void heldTasksFallingDueTogetherArePublishedInBatches() throws Exception {
    int burst = 2_000;
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher =
            new SlowPublisher(
                PubSubTestSupport.publisherStub(channel),
                config.defaultQueue(),
                Duration.ofMillis(50));
        var subscriber =
            new GcpPubSubLeaseHandlingIT.DelayAckWatch(
                PubSubTestSupport.subscriberStub(channel), publisher::confirmed);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      // due when the pump holds them all (within DelayPump.HOLD_MILLIS), not yet when it pulls them
      long due = Instant.now().plusSeconds(8).toEpochMilli();
      publishDelayed(setup, "task_held_", burst, due);
      RecordingHandler handler = new RecordingHandler(100);
      var consumer = broker.startConsuming("held", "", handler); // starts the delay pump
      receiveOnceEach(handler, burst);
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("every delayed message acknowledged")
          .until(() -> subscriber.delayAcks() >= burst);
      assertThat(publisher.requests())
          .as("publish requests for %d tasks falling due together", burst)
          .isBetween(burst / PubSubClient.MAX_MESSAGES_PER_PUBLISH, burst / 20);
      assertThat(publisher.peakInFlight())
          .as("requests in flight at once")
          .isLessThanOrEqualTo(PublishWindow.MAX_IN_FLIGHT);
      assertThat(subscriber.earlyAcks())
          .as("delayed messages acknowledged before their task's publish was confirmed")
          .isZero();
      assertThat(publisher.confirmed()).as("tasks published").isEqualTo(burst);
      consumer.close();
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * 2,000 delayed tasks already due when the pump pulls them are published in one request per pull
   * (before, one per task), each delayed message acknowledged only once its request was confirmed,
   * every task published and delivered once.
   */
  @Test
  void dueTasksOfAPullArePublishedInBatches() throws Exception {
    int burst = 2_000;
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher =
            new SlowPublisher(
                PubSubTestSupport.publisherStub(channel), config.defaultQueue(), Duration.ZERO);
        var subscriber =
            new GcpPubSubLeaseHandlingIT.DelayAckWatch(
                PubSubTestSupport.subscriberStub(channel), publisher::confirmed);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      publishDelayed(setup, "task_due_", burst, Instant.now().minusSeconds(1).toEpochMilli());
      RecordingHandler handler = new RecordingHandler(100);
      var consumer = broker.startConsuming("due", "", handler); // starts the delay pump
      receiveOnceEach(handler, burst);
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("every delayed message acknowledged")
          .until(() -> subscriber.delayAcks() >= burst);
      assertThat(publisher.requests())
          .as("publish requests for %d due tasks (at most %d a pull)", burst, DelayPump.PULL_SIZE)
          .isBetween(burst / DelayPump.PULL_SIZE, burst / 20);
      assertThat(subscriber.earlyAcks())
          .as("delayed messages acknowledged before their task's publish was confirmed")
          .isZero();
      assertThat(publisher.confirmed()).as("tasks published").isEqualTo(burst);
      consumer.close();
    } finally {
      channel.shutdownNow();
    }
  }

  /**
   * A request of a pull's burst that fails hands each of its messages back as the failure of a
   * single one would: each is moved on its own ({@link DelayPump}'s {@code move}), so every task is
   * published and delivered once.
   */
  @Test
  void aFailedRequestOfAPullsBurstMovesEachOfItsMessages() throws Exception {
    int burst = 50;
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    Map<String, AtomicInteger> published = new ConcurrentHashMap<>();
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher =
            new HoldingPublisher(
                PubSubTestSupport.publisherStub(channel), config.defaultQueue(), 1, published);
        var subscriber = PubSubTestSupport.subscriberStub(channel);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .build()) {
      publishDelayed(setup, "task_failed_", burst, Instant.now().minusSeconds(1).toEpochMilli());
      RecordingHandler handler = new RecordingHandler(100);
      var consumer = broker.startConsuming("failed", "", handler); // starts the delay pump
      await()
          .atMost(Duration.ofSeconds(20))
          .alias("the first request to the task topic held")
          .until(() -> publisher.heldRequests() == 1);
      assertThat(publisher.heldMessages()).as("messages of the held request").isGreaterThan(1);
      publisher.failHeld();
      receiveOnceEach(handler, burst);
      assertThat(published)
          .as("publishes per task")
          .hasSize(burst)
          .allSatisfy((task, publishes) -> assertThat(publishes).as(task).hasValue(1));
      consumer.close();
    } finally {
      channel.shutdownNow();
    }
  }

  /** Receives {@code count} distinct tasks, each once, and acknowledges them. */
  private static void receiveOnceEach(RecordingHandler handler, int count) throws Exception {
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
   * Held tasks that fall due while the publish window is full, and stays full until their leases
   * have lapsed, are not published when their turn comes: Pub/Sub delivered them again, and another
   * pump published those copies. Before, the waiting tail was published too, each task of it twice.
   *
   * <p>The broker under test holds {@link PublishWindow#MAX_IN_FLIGHT} + 10 tasks, each due on a
   * topic of its own (one request each, so the window fills); its publisher holds the first {@link
   * PublishWindow#MAX_IN_FLIGHT} requests unanswered and its pulls, once it has every task, hang
   * (so it takes none of the copies). When a second broker has published and acknowledged every
   * copy, the held requests fail and the tail gets its turn.
   */
  @Test
  void heldTasksWhoseLeaseLapsedWhileWaitingForTheWindowAreNotPublishedTwice() throws Exception {
    int held = PublishWindow.MAX_IN_FLIGHT;
    int count = held + 10;
    String topicPrefix = "lease_tail_";
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    Map<String, AtomicInteger> published = new ConcurrentHashMap<>();
    var holding =
        new HoldingPublisher(
            PubSubTestSupport.publisherStub(channel), topicPrefix, held, published);
    var pullsUntilAll = new PullsUntil(PubSubTestSupport.subscriberStub(channel), count);
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var counting =
            new HoldingPublisher(
                PubSubTestSupport.publisherStub(channel), topicPrefix, 0, published);
        var otherSubscriber =
            new GcpPubSubLeaseHandlingIT.DelayAckWatch(
                PubSubTestSupport.subscriberStub(channel), () -> Integer.MAX_VALUE);
        GcpPubSubBroker waiting =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(holding, pullsUntilAll)
                .build();
        GcpPubSubBroker other =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(counting, otherSubscriber)
                .build()) {
      // topics without subscriptions: the test counts publishes, and pstest stays light
      for (int i = 0; i < count; i++) {
        setup.client().createTopic(topicPrefix + i);
      }
      PublishRequest.Builder delayed =
          PublishRequest.newBuilder()
              .setTopic(setup.client().topicName(GcpPubSubBroker.DEFAULT_DELAY_TOPIC));
      String due = Long.toString(Instant.now().plusSeconds(6).toEpochMilli());
      for (int i = 0; i < count; i++) {
        delayed.addMessages(
            PubsubMessage.newBuilder()
                .setData(ByteString.copyFromUtf8("{\"UUID\":\"task_tail_" + i + "\"}"))
                .putAttributes(GcpPubSubBroker.ETA_ATTRIBUTE, due)
                .putAttributes(GcpPubSubBroker.TOPIC_ATTRIBUTE, topicPrefix + i));
      }
      setup.client().publisher().publishCallable().call(delayed.build());
      var waitingConsumer = waiting.startConsuming("waiting", "", new RecordingHandler(1));
      await()
          .atMost(Duration.ofSeconds(20))
          .alias("the waiting broker holds every task")
          .until(() -> pullsUntilAll.pulled() >= count);
      var otherConsumer = other.startConsuming("other", "", new RecordingHandler(1));
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("the window full of unanswered requests")
          .until(() -> holding.heldRequests() >= held);
      // the leases lapse about 11 s after the tasks are due; Pub/Sub delivers them again
      await()
          .atMost(Duration.ofSeconds(60))
          .alias("every task published and acknowledged by the other broker")
          .until(() -> published.size() >= count && otherSubscriber.delayAcks() >= count);
      holding.failHeld(); // the window opens: the tail's turn comes, its leases long lapsed
      CountDownLatch dueThreadPassed = new CountDownLatch(1);
      waiting.schedule(dueThreadPassed::countDown, 0); // runs after what the due-thread is doing
      assertThat(dueThreadPassed.await(30, TimeUnit.SECONDS)).isTrue();
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("no publish of the waiting broker in flight")
          .until(() -> holding.inFlight() == 0);
      assertThat(published)
          .as("publishes per task")
          .hasSize(count)
          .allSatisfy((task, publishes) -> assertThat(publishes).as(task).hasValue(1));
      pullsUntilAll.answerHangingPulls();
      waitingConsumer.close();
      otherConsumer.close();
    } finally {
      holding.failHeld();
      pullsUntilAll.answerHangingPulls();
      holding.close();
      pullsUntilAll.close();
      channel.shutdownNow();
    }
  }

  /**
   * Delayed messages published longer than {@link DelayPump#REFRESH_AFTER_SECONDS} ago (by the
   * broker's clock) are refreshed side by side: every copy's publish is under way before the first
   * is confirmed (this publisher confirms none until all of them are asked for, which one-by-one
   * publishing, one waited round trip each, never gets to), and each old copy is acknowledged only
   * once its new copy was confirmed.
   */
  @Test
  void oldDelayedMessagesAreRefreshedSideBySideAndAcknowledgedOnlyOnceConfirmed() throws Exception {
    int count = 50;
    ManualClock clock =
        ManualClock.at(Instant.now().plusSeconds(DelayPump.REFRESH_AFTER_SECONDS + 60));
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    var publisher =
        new GcpPubSubLeaseHandlingIT.BarrierPublisher(
            PubSubTestSupport.publisherStub(channel), GcpPubSubBroker.DEFAULT_DELAY_TOPIC, count);
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var subscriber =
            new GcpPubSubLeaseHandlingIT.DelayAckWatch(
                PubSubTestSupport.subscriberStub(channel), publisher::confirmed);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .clock(clock)
                .client(publisher, subscriber)
                .build()) {
      // due long after the hold window by the broker's clock, so parked, but refreshed first
      publishDelayed(setup, "task_old_", count, clock.millis() + 120_000);
      var consumer = broker.startConsuming("refresh", "", new RecordingHandler(1));
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("all " + count + " refreshes under way at once")
          .until(() -> publisher.asked() >= count);
      clock.set(Instant.now()); // the new copies are young: parked, not refreshed again
      await()
          .atMost(Duration.ofSeconds(20))
          .alias("every old copy acknowledged")
          .until(() -> subscriber.delayAcks() >= count);
      assertThat(subscriber.earlyAcks())
          .as("old copies acknowledged before their new copy was confirmed")
          .isZero();
      consumer.close();
    } finally {
      publisher.open();
      publisher.close();
      channel.shutdownNow();
    }
  }

  /**
   * A broker built on the user's stubs, closed while its delay pump's pull is under way, hands back
   * what that pull brings even when the answer arrives only after close() returned (the stubs stay
   * open): another broker's pump moves the delayed task when due, not after the delay
   * subscription's 600 s ack deadline.
   */
  @Test
  void aPullAnsweringAfterItsBrokerClosedIsHandedBackOnTheUsersStubs() throws Exception {
    ManagedChannel channel = PubSubTestSupport.emulatorChannel();
    SettableApiFuture<Void> answer = SettableApiFuture.create();
    try (GcpPubSubBroker other =
            PubSubTestSupport.broker(config).ackDeadline(Duration.ofSeconds(600)).build();
        var publisher = PubSubTestSupport.publisherStub(channel);
        var subscriber =
            new GcpPubSubLeaseHandlingIT.HeldAnswers(
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
      Thread closer = Thread.ofPlatform().start(closing::close); // gives up on the pull after 4 s
      assertThat(closer.join(Duration.ofSeconds(30))).as("close() returned").isTrue();
      answer.set(null); // the pull's answer arrives only now
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
   * A real publisher stub whose publish requests to one topic are answered {@code latency} after
   * Pub/Sub accepted them (a slow network); it counts the requests, those in flight (the peak too)
   * and the messages confirmed, each counted before its caller learns of it.
   */
  static final class SlowPublisher extends ForwardingPublisherStub {
    private final String topic;
    private final Duration latency;
    private final ScheduledExecutorService network =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("slow-network").factory());
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger peakInFlight = new AtomicInteger();
    private final AtomicInteger confirmed = new AtomicInteger();
    private final AtomicInteger requests = new AtomicInteger();

    SlowPublisher(PublisherStub real, String topic, Duration latency) {
      super(real);
      this.topic = topic;
      this.latency = latency;
    }

    int peakInFlight() {
      return peakInFlight.get();
    }

    /** Messages published to the topic that Pub/Sub accepted (a request may carry several). */
    int confirmed() {
      return confirmed.get();
    }

    /** Publish requests to the topic. */
    int requests() {
      return requests.get();
    }

    @Override
    public void close() {
      network.shutdownNow();
      super.close();
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
          requests.incrementAndGet();
          peakInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
          SettableApiFuture<PublishResponse> answer = SettableApiFuture.create();
          ApiFutures.addCallback(
              delegate.futureCall(request, context),
              new ApiFutureCallback<PublishResponse>() {
                @Override
                public void onSuccess(PublishResponse response) {
                  network.schedule(
                      () -> {
                        confirmed.addAndGet(request.getMessagesCount());
                        inFlight.decrementAndGet();
                        answer.set(response);
                      },
                      latency.toMillis(),
                      TimeUnit.MILLISECONDS);
                }

                @Override
                public void onFailure(Throwable t) {
                  inFlight.decrementAndGet();
                  answer.setException(t);
                }
              },
              Runnable::run);
          return answer;
        }
      };
    }
  }

  /**
   * A real publisher stub for the topics starting with a prefix: it holds the first {@code hold}
   * requests to them unanswered (never sent to Pub/Sub) until {@link #failHeld}, which fails them,
   * and sends the rest, counting each message Pub/Sub accepted in {@code published} by its data.
   */
  static final class HoldingPublisher extends ForwardingPublisherStub {
    private final String topicPrefix;
    private final int hold;
    private final Map<String, AtomicInteger> published;
    private final List<SettableApiFuture<PublishResponse>> held = new CopyOnWriteArrayList<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger heldMessages = new AtomicInteger();

    HoldingPublisher(
        PublisherStub real, String topicPrefix, int hold, Map<String, AtomicInteger> published) {
      super(real);
      this.topicPrefix = topicPrefix;
      this.hold = hold;
      this.published = published;
    }

    int heldRequests() {
      return held.size();
    }

    /** Messages in the held requests. */
    int heldMessages() {
      return heldMessages.get();
    }

    /** Requests to the topics sent to Pub/Sub and not answered yet (the held ones not counted). */
    int inFlight() {
      return inFlight.get();
    }

    void failHeld() {
      for (SettableApiFuture<PublishResponse> request : held) {
        request.setException(new IllegalStateException("injected: a request held, then refused"));
      }
    }

    @Override
    public UnaryCallable<PublishRequest, PublishResponse> publishCallable() {
      UnaryCallable<PublishRequest, PublishResponse> delegate = real.publishCallable();
      return new UnaryCallable<>() {
        @Override
        public synchronized ApiFuture<PublishResponse> futureCall(
            PublishRequest request, ApiCallContext context) {
          if (!request.getTopic().contains("/topics/" + topicPrefix)) {
            return delegate.futureCall(request, context);
          }
          if (held.size() < hold) {
            SettableApiFuture<PublishResponse> answer = SettableApiFuture.create();
            held.add(answer);
            heldMessages.addAndGet(request.getMessagesCount());
            return answer;
          }
          inFlight.incrementAndGet();
          return ApiFutures.transform(
              delegate.futureCall(request, context),
              response -> {
                for (PubsubMessage m : request.getMessagesList()) {
                  published
                      .computeIfAbsent(m.getData().toStringUtf8(), k -> new AtomicInteger())
                      .incrementAndGet();
                }
                inFlight.decrementAndGet();
                return response;
              },
              Runnable::run);
        }
      };
    }
  }

  /**
   * A real subscriber stub whose pulls of the delay subscription go to Pub/Sub until they brought
   * {@code count} messages; later ones hang (leasing nothing) until {@link #answerHangingPulls}.
   */
  static final class PullsUntil extends ForwardingSubscriberStub {
    private final int count;
    private final AtomicInteger pulled = new AtomicInteger();
    private final List<SettableApiFuture<PullResponse>> hanging = new CopyOnWriteArrayList<>();
    private volatile boolean released;

    PullsUntil(SubscriberStub real, int count) {
      super(real);
      this.count = count;
    }

    int pulled() {
      return pulled.get();
    }

    /** Answers the hanging pulls (with nothing) and sends every later one to Pub/Sub. */
    void answerHangingPulls() {
      released = true;
      for (SettableApiFuture<PullResponse> pull : hanging) {
        pull.set(PullResponse.getDefaultInstance());
      }
    }

    @Override
    public UnaryCallable<PullRequest, PullResponse> pullCallable() {
      UnaryCallable<PullRequest, PullResponse> delegate = real.pullCallable();
      return new UnaryCallable<>() {
        @Override
        public ApiFuture<PullResponse> futureCall(PullRequest request, ApiCallContext context) {
          if (!request.getSubscription().endsWith("/" + GcpPubSubBroker.DEFAULT_DELAY_TOPIC)) {
            return delegate.futureCall(request, context);
          }
          if (pulled.get() >= count && !released) {
            SettableApiFuture<PullResponse> hang = SettableApiFuture.create();
            hanging.add(hang);
            return hang;
          }
          return ApiFutures.transform(
              delegate.futureCall(request, context),
              response -> {
                pulled.addAndGet(response.getReceivedMessagesCount());
                return response;
              },
              Runnable::run);
        }
      };
    }
  }
}
