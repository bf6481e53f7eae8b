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
import com.google.protobuf.ByteString;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PublishResponse;
import com.google.pubsub.v1.PubsubMessage;
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
import java.util.Set;
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
   * 2,000 held tasks falling due in the same moment, on a network where every publish takes 50 ms:
   * never more than {@link PublishWindow#MAX_IN_FLIGHT} publishes are in flight (the rest waits its
   * turn; before, each took a thread of its own and all were in flight at once), each delayed
   * message is acknowledged only after its task's publish was confirmed, each task is published
   * once, and every one reaches the worker once.
   */
  @Test
  void heldTasksFallingDueTogetherKeepAtMostTheWindowOfPublishesInFlight() throws Exception {
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
      Set<String> received = new HashSet<>();
      int deliveries = 0;
      while (received.size() < burst) {
        Delivery d = handler.next(60);
        assertThat(d).as("task %d of %d", received.size() + 1, burst).isNotNull();
        deliveries++;
        received.add(new String(d.body(), UTF_8));
        handler.ack(d);
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("every delayed message acknowledged")
          .until(() -> subscriber.delayAcks() >= burst);
      assertThat(publisher.peakInFlight())
          .as("publishes in flight at once")
          .isGreaterThan(1)
          .isLessThanOrEqualTo(PublishWindow.MAX_IN_FLIGHT);
      assertThat(subscriber.earlyAcks())
          .as("delayed messages acknowledged before their task's publish was confirmed")
          .isZero();
      assertThat(publisher.confirmed()).as("tasks published").isEqualTo(burst);
      assertThat(deliveries).as("deliveries of %d distinct tasks", burst).isEqualTo(burst);
      consumer.close();
    } finally {
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
   * A real publisher stub whose publishes to one topic are answered {@code latency} after Pub/Sub
   * accepted them (a slow network); it counts those in flight (the peak too) and those confirmed,
   * each counted before its caller learns of it.
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

    SlowPublisher(PublisherStub real, String topic, Duration latency) {
      super(real);
      this.topic = topic;
      this.latency = latency;
    }

    int peakInFlight() {
      return peakInFlight.get();
    }

    int confirmed() {
      return confirmed.get();
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
          peakInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
          SettableApiFuture<PublishResponse> answer = SettableApiFuture.create();
          ApiFutures.addCallback(
              delegate.futureCall(request, context),
              new ApiFutureCallback<PublishResponse>() {
                @Override
                public void onSuccess(PublishResponse response) {
                  network.schedule(
                      () -> {
                        confirmed.incrementAndGet();
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
}
