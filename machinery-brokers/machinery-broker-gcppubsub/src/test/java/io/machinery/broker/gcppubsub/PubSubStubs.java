package io.machinery.broker.gcppubsub;

import static io.machinery.broker.gcppubsub.ForwardingPublisherStub.isTo;
import static io.machinery.broker.gcppubsub.ForwardingSubscriberStub.isDelaySubscription;
import static io.machinery.broker.gcppubsub.ForwardingSubscriberStub.isOf;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutureCallback;
import com.google.api.core.ApiFutures;
import com.google.api.core.SettableApiFuture;
import com.google.api.gax.rpc.ApiCallContext;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.protobuf.Empty;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.GetSubscriptionRequest;
import com.google.pubsub.v1.ModifyAckDeadlineRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PublishResponse;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import com.google.pubsub.v1.ReceivedMessage;
import com.google.pubsub.v1.Subscription;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The tests' Pub/Sub stubs, in one place: each forwards to a real stub talking to the emulator
 * ({@link ForwardingPublisherStub}, {@link ForwardingSubscriberStub}) and holds, slows, fails or
 * counts some of the broker's calls, as a slow network or server would, or as no server does on
 * demand (an {@link Error} thrown by a call). A new test looks here before writing one of its own.
 */
final class PubSubStubs {
  private PubSubStubs() {}

  // ------------------------------------------------------------------------------------------
  // publishers

  /**
   * A real publisher stub whose publishes to one topic are sent only once a gate opens (a slow
   * Pub/Sub, for as long as the test says): the caller gets its future at once, as from a real
   * stub, and its answer after the gate opened.
   */
  static final class GatedPublisher extends ForwardingPublisherStub {
    private final String topic;
    private final ApiFuture<Void> gate;
    private final AtomicInteger gated = new AtomicInteger();

    GatedPublisher(PublisherStub real, String topic, ApiFuture<Void> gate) {
      super(real);
      this.topic = topic;
      this.gate = gate;
    }

    /** Messages held at the gate (a request may carry several). */
    int gated() {
      return gated.get();
    }

    @Override
    ApiFuture<PublishResponse> publish(PublishRequest request, @Nullable ApiCallContext context) {
      if (!isTo(request, topic)) {
        return super.publish(request, context);
      }
      gated.addAndGet(request.getMessagesCount());
      return ApiFutures.transformAsync(
          gate, ignored -> super.publish(request, context), Runnable::run);
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
    ApiFuture<PublishResponse> publish(PublishRequest request, @Nullable ApiCallContext context) {
      if (!isTo(request, topic)) {
        return super.publish(request, context);
      }
      if (asked.addAndGet(request.getMessagesCount()) >= parties) {
        open();
      }
      return ApiFutures.transformAsync(
          barrier,
          ignored ->
              ApiFutures.transform(
                  super.publish(request, context),
                  response -> {
                    confirmed.addAndGet(request.getMessagesCount());
                    return response;
                  },
                  Runnable::run),
          Runnable::run);
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
    ApiFuture<PublishResponse> publish(PublishRequest request, @Nullable ApiCallContext context) {
      if (!isTo(request, topic)) {
        return super.publish(request, context);
      }
      requests.incrementAndGet();
      peakInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      SettableApiFuture<PublishResponse> answer = SettableApiFuture.create();
      ApiFutures.addCallback(
          super.publish(request, context),
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
  }

  /**
   * A real publisher stub for the topics starting with a prefix: it holds the first {@code hold}
   * requests to them unanswered (never sent to Pub/Sub) until {@link #failHeld}, which fails them,
   * and sends the rest, counting the requests and each message Pub/Sub accepted in {@code
   * published} by its data.
   */
  static final class HoldingPublisher extends ForwardingPublisherStub {
    private final String topicPrefix;
    private final int hold;
    private final Map<String, AtomicInteger> published;
    private final List<SettableApiFuture<PublishResponse>> held = new CopyOnWriteArrayList<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger heldMessages = new AtomicInteger();
    private final AtomicInteger requests = new AtomicInteger();

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

    /** Requests to the topics, the held ones included. */
    int requests() {
      return requests.get();
    }

    void failHeld() {
      for (SettableApiFuture<PublishResponse> request : held) {
        request.setException(new IllegalStateException("injected: a request held, then refused"));
      }
    }

    @Override
    synchronized ApiFuture<PublishResponse> publish(
        PublishRequest request, @Nullable ApiCallContext context) {
      if (!request.getTopic().contains("/topics/" + topicPrefix)) {
        return super.publish(request, context);
      }
      requests.incrementAndGet();
      if (held.size() < hold) {
        SettableApiFuture<PublishResponse> answer = SettableApiFuture.create();
        held.add(answer);
        heldMessages.addAndGet(request.getMessagesCount());
        return answer;
      }
      inFlight.incrementAndGet();
      return ApiFutures.transform(
          super.publish(request, context),
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
  }

  // ------------------------------------------------------------------------------------------
  // subscribers

  /**
   * A real subscriber stub whose first pull of one subscription, when one is named, throws an
   * {@link Error} before any future exists (what no server does on demand); the base of the stubs
   * below that inject faults.
   */
  abstract static class FirstPullThrows extends ForwardingSubscriberStub {
    private final @Nullable String failFirstPullOf;
    private final AtomicInteger faultedPulls = new AtomicInteger();

    /**
     * @param failFirstPullOf the short name of the subscription whose first pull throws, if any
     */
    FirstPullThrows(SubscriberStub real, @Nullable String failFirstPullOf) {
      super(real);
      this.failFirstPullOf = failFirstPullOf;
    }

    /** How many pulls of the named subscription were attempted, the failed one included. */
    final int faultedPulls() {
      return faultedPulls.get();
    }

    @Override
    ApiFuture<PullResponse> pull(PullRequest request, @Nullable ApiCallContext context) {
      if (failFirstPullOf != null
          && isOf(request.getSubscription(), failFirstPullOf)
          && faultedPulls.incrementAndGet() == 1) {
        throw new AssertionError("injected: pull 1 of " + failFirstPullOf + " fails");
      }
      return super.pull(request, context);
    }
  }

  /**
   * A real subscriber stub with faults: the first lease extension (a ModifyAckDeadline with a
   * deadline above zero) throws an {@link Error}, the third a {@link RuntimeException}; with a
   * subscription named, its first pull throws an {@link Error}. Everything else goes through
   * unchanged.
   */
  static final class FaultStub extends FirstPullThrows {
    private final AtomicInteger extensions = new AtomicInteger();

    FaultStub(SubscriberStub real) {
      this(real, null);
    }

    FaultStub(SubscriberStub real, @Nullable String failFirstPullOf) {
      super(real, failFirstPullOf);
    }

    /** How many lease extensions were attempted, failed ones included. */
    int extensions() {
      return extensions.get();
    }

    @Override
    ApiFuture<Empty> modifyAckDeadline(
        ModifyAckDeadlineRequest request, @Nullable ApiCallContext context) {
      if (request.getAckDeadlineSeconds() > 0) {
        int n = extensions.incrementAndGet();
        if (n == 1) {
          throw new AssertionError("injected: lease extension 1 fails with an Error");
        }
        if (n == 3) {
          throw new IllegalStateException("injected: lease extension 3 fails");
        }
      }
      return super.modifyAckDeadline(request, context);
    }
  }

  /**
   * A real subscriber stub with faults: the first pull of a named subscription throws an {@link
   * Error} before returning a future; optionally the first acknowledgement throws an {@link Error}.
   * It counts acknowledgements and the lease extensions of task subscriptions.
   */
  static final class InjectingStub extends FirstPullThrows {
    private final boolean failFirstAck;
    private final AtomicInteger acks = new AtomicInteger();
    private final AtomicInteger extensions = new AtomicInteger();

    InjectingStub(SubscriberStub real, @Nullable String failFirstPullOf, boolean failFirstAck) {
      super(real, failFirstPullOf);
      this.failFirstAck = failFirstAck;
    }

    /** ModifyAckDeadline requests above zero on task subscriptions (not the delay one). */
    int extensions() {
      return extensions.get();
    }

    /** Acknowledge requests attempted, the failed one included. */
    int acks() {
      return acks.get();
    }

    @Override
    ApiFuture<Empty> acknowledge(AcknowledgeRequest request, @Nullable ApiCallContext context) {
      if (acks.incrementAndGet() == 1 && failFirstAck) {
        throw new AssertionError("injected: ack 1 fails with an Error");
      }
      return super.acknowledge(request, context);
    }

    @Override
    ApiFuture<Empty> modifyAckDeadline(
        ModifyAckDeadlineRequest request, @Nullable ApiCallContext context) {
      if (request.getAckDeadlineSeconds() > 0 && !isDelaySubscription(request.getSubscription())) {
        extensions.incrementAndGet();
      }
      return super.modifyAckDeadline(request, context);
    }
  }

  /**
   * A real subscriber stub that hands the answer of each pull of one subscription that brings
   * messages to {@link #brought} before the broker sees it; the base of the two below.
   */
  abstract static class PullsOf extends ForwardingSubscriberStub {
    private final String subscription;
    private final AtomicInteger answeredPulls = new AtomicInteger();

    PullsOf(SubscriberStub real, String subscription) {
      super(real);
      this.subscription = subscription;
    }

    /** Pulls of the subscription Pub/Sub answered, empty ones included. */
    final int answeredPulls() {
      return answeredPulls.get();
    }

    /** What the broker gets for a pull of the subscription that brought {@code response}. */
    abstract ApiFuture<PullResponse> brought(PullRequest request, PullResponse response);

    @Override
    final ApiFuture<PullResponse> pull(PullRequest request, @Nullable ApiCallContext context) {
      ApiFuture<PullResponse> pulled = super.pull(request, context);
      if (!isOf(request.getSubscription(), subscription)) {
        return pulled;
      }
      return ApiFutures.transformAsync(
          pulled,
          response -> {
            answeredPulls.incrementAndGet();
            return response.getReceivedMessagesCount() == 0
                ? ApiFutures.immediateFuture(response)
                : brought(request, response);
          },
          Runnable::run);
    }
  }

  /**
   * A real subscriber stub whose pulls of one subscription that bring messages answer only once
   * {@code answer} completes: the server has leased them, the answer is on its way.
   */
  static final class HeldAnswers extends PullsOf {
    private final ApiFuture<Void> answer;
    private final AtomicInteger heldMessages = new AtomicInteger();

    HeldAnswers(SubscriberStub real, String subscription, ApiFuture<Void> answer) {
      super(real, subscription);
      this.answer = answer;
    }

    /** Messages leased to pulls whose answer is held back. */
    int heldMessages() {
      return heldMessages.get();
    }

    @Override
    ApiFuture<PullResponse> brought(PullRequest request, PullResponse response) {
      heldMessages.addAndGet(response.getReceivedMessagesCount());
      return ApiFutures.transform(answer, ignored -> response, Runnable::run);
    }
  }

  /**
   * A fake of one thing Pub/Sub does that the pstest fake does not: a pull leases its messages for
   * the subscription's ack deadline as it is now (pstest's UpdateSubscription changes the deadline
   * it reports, never the one its pulls give, which stays the one the subscription was created
   * with). After each pull of one subscription that brings messages, it reads the subscription's
   * deadline and sets the pulled messages' to it, both on the emulator, before answering.
   */
  static final class FakeCurrentDeadlineLeases extends PullsOf {
    FakeCurrentDeadlineLeases(SubscriberStub real, String subscription) {
      super(real, subscription);
    }

    @Override
    ApiFuture<PullResponse> brought(PullRequest request, PullResponse response) {
      ApiFuture<Subscription> now =
          real.getSubscriptionCallable()
              .futureCall(
                  GetSubscriptionRequest.newBuilder()
                      .setSubscription(request.getSubscription())
                      .build());
      ApiFuture<Empty> leased =
          ApiFutures.transformAsync(
              now,
              sub ->
                  real.modifyAckDeadlineCallable()
                      .futureCall(
                          ModifyAckDeadlineRequest.newBuilder()
                              .setSubscription(request.getSubscription())
                              .addAllAckIds(
                                  response.getReceivedMessagesList().stream()
                                      .map(ReceivedMessage::getAckId)
                                      .toList())
                              .setAckDeadlineSeconds(sub.getAckDeadlineSeconds())
                              .build()),
              Runnable::run);
      return ApiFutures.transform(leased, ignored -> response, Runnable::run);
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
    ApiFuture<Empty> modifyAckDeadline(
        ModifyAckDeadlineRequest request, @Nullable ApiCallContext context) {
      if (request.getAckDeadlineSeconds() > 0 && isOf(request.getSubscription(), subscription)) {
        held.incrementAndGet();
        return ApiFutures.transformAsync(
            answer, ignored -> super.modifyAckDeadline(request, context), Runnable::run);
      }
      if (request.getAckDeadlineSeconds() > 0 && !isDelaySubscription(request.getSubscription())) {
        extensionsElsewhere.incrementAndGet();
      }
      return super.modifyAckDeadline(request, context);
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
    ApiFuture<Empty> acknowledge(AcknowledgeRequest request, @Nullable ApiCallContext context) {
      if (isDelaySubscription(request.getSubscription())) {
        int acked = delayAcks.addAndGet(request.getAckIdsCount());
        if (acked > confirmedPublishes.getAsInt()) {
          earlyAcks.addAndGet(request.getAckIdsCount());
        }
      }
      return super.acknowledge(request, context);
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

    /** Pulls of the delay subscription that hang (answered or not). */
    int hangingPulls() {
      return hanging.size();
    }

    /** Answers the hanging pulls (with nothing) and sends every later one to Pub/Sub. */
    void answerHangingPulls() {
      released = true;
      for (SettableApiFuture<PullResponse> pull : hanging) {
        pull.set(PullResponse.getDefaultInstance());
      }
    }

    @Override
    ApiFuture<PullResponse> pull(PullRequest request, @Nullable ApiCallContext context) {
      if (!isDelaySubscription(request.getSubscription())) {
        return super.pull(request, context);
      }
      if (pulled.get() >= count && !released) {
        SettableApiFuture<PullResponse> hang = SettableApiFuture.create();
        hanging.add(hang);
        return hang;
      }
      return ApiFutures.transform(
          super.pull(request, context),
          response -> {
            pulled.addAndGet(response.getReceivedMessagesCount());
            return response;
          },
          Runnable::run);
    }
  }
}
