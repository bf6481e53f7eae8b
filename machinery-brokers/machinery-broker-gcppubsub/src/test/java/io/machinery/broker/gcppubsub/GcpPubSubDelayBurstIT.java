package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PubsubMessage;
import io.machinery.broker.gcppubsub.PubSubStubs.BarrierPublisher;
import io.machinery.broker.gcppubsub.PubSubStubs.DelayAckWatch;
import io.machinery.broker.gcppubsub.PubSubStubs.HoldingPublisher;
import io.machinery.broker.gcppubsub.PubSubStubs.PullsUntil;
import io.machinery.broker.gcppubsub.PubSubStubs.SlowPublisher;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The delay pump's bursts on the pstest fake: held tasks falling due together, old delayed messages
 * refreshed. Publishes go through stubs that slow or hold some of them (a slow network or server)
 * and count what is in flight.
 */
class GcpPubSubDelayBurstIT {
  private final String project = PubSubTestSupport.project();
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "delay_burst_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubTestSupport.deleteProject(project);
  }

  /** Puts {@code count} delayed messages for the task topic on the delay topic. */
  private void publishDelayed(GcpPubSubBroker setup, String prefix, int count, long dueMillis) {
    PubSubTestSupport.publishDelayed(setup, config.defaultQueue(), prefix, count, dueMillis);
  }

  private static void receiveOnceEach(RecordingHandler handler, int count) throws Exception {
    PubSubTestSupport.receiveOnceEach(handler, count);
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
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher =
            new SlowPublisher(emulator.publisher(), config.defaultQueue(), Duration.ofMillis(50));
        var subscriber = new DelayAckWatch(emulator.subscriber(), publisher::confirmed);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
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
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher =
            new SlowPublisher(emulator.publisher(), config.defaultQueue(), Duration.ZERO);
        var subscriber = new DelayAckWatch(emulator.subscriber(), publisher::confirmed);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
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
    }
  }

  /**
   * A request of a pull's burst that fails (for no reason Pub/Sub gave, so any of its messages may
   * be the cause) is tried again in halves, each one request: 50 due tasks cost 3 requests, and
   * every task is published and delivered once. Before, each message was moved on its own, one
   * waited publish after the other: 51 requests, and for a burst of 500 on a 30 ms round trip, 15
   * s, past a 10 s lease.
   */
  @Test
  void aFailedRequestOfAPullsBurstIsTriedAgainInHalvesNotMessageByMessage() throws Exception {
    int burst = 50;
    Map<String, AtomicInteger> published = new ConcurrentHashMap<>();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var publisher =
            new HoldingPublisher(emulator.publisher(), config.defaultQueue(), 1, published);
        var subscriber = emulator.subscriber();
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
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
      assertThat(publisher.requests())
          .as("publish requests: the failed one, then its two halves")
          .isEqualTo(3);
      consumer.close();
    }
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
    lapsedLeasesWhileWaitingForTheWindow(false);
  }

  /**
   * As {@link #heldTasksWhoseLeaseLapsedWhileWaitingForTheWindowAreNotPublishedTwice}, for tasks
   * already due when the pump pulls them: the pull's burst of {@link PublishWindow#MAX_IN_FLIGHT} +
   * 10 requests waits for the full window past the lease the pull gave (the delay subscription's 10
   * s ack deadline), so the tail is not published when its turn comes, nor is any message of a held
   * request published again when that request fails. Before, the pull path checked no lease: every
   * task was published twice.
   */
  @Test
  void dueTasksWhoseLeaseLapsedWhileWaitingForTheWindowAreNotPublishedTwice() throws Exception {
    lapsedLeasesWhileWaitingForTheWindow(true);
  }

  private void lapsedLeasesWhileWaitingForTheWindow(boolean dueWhenPulled) throws Exception {
    int held = PublishWindow.MAX_IN_FLIGHT;
    int count = held + 10;
    String topicPrefix = "lease_tail_";
    PubSubTestSupport.EmulatorChannel emulator = new PubSubTestSupport.EmulatorChannel();
    Map<String, AtomicInteger> published = new ConcurrentHashMap<>();
    var holding = new HoldingPublisher(emulator.publisher(), topicPrefix, held, published);
    var pullsUntilAll = new PullsUntil(emulator.subscriber(), count);
    try (GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var counting = new HoldingPublisher(emulator.publisher(), topicPrefix, 0, published);
        var otherSubscriber = new DelayAckWatch(emulator.subscriber(), () -> Integer.MAX_VALUE);
        GcpPubSubBroker waiting = PubSubTestSupport.brokerOn(config, holding, pullsUntilAll);
        GcpPubSubBroker other = PubSubTestSupport.brokerOn(config, counting, otherSubscriber)) {
      // topics without subscriptions: the test counts publishes, and pstest stays light
      for (int i = 0; i < count; i++) {
        setup.client().createTopic(topicPrefix + i);
      }
      PublishRequest.Builder delayed =
          PublishRequest.newBuilder()
              .setTopic(setup.client().topicName(GcpPubSubBroker.DEFAULT_DELAY_TOPIC));
      String due = Long.toString(Instant.now().plusSeconds(dueWhenPulled ? -1 : 6).toEpochMilli());
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
          .alias("the waiting broker pulled every task")
          .until(() -> pullsUntilAll.pulled() >= count);
      var otherConsumer = other.startConsuming("other", "", new RecordingHandler(1));
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("the window full of unanswered requests")
          .until(() -> holding.heldRequests() >= held);
      // the leases lapse (held: about 11 s after the tasks are due; due when pulled: after the
      // subscription's 10 s ack deadline); Pub/Sub delivers them again
      await()
          .atMost(Duration.ofSeconds(60))
          .alias("every task published and acknowledged by the other broker")
          .until(() -> published.size() >= count && otherSubscriber.delayAcks() >= count);
      int pullsBefore = pullsUntilAll.hangingPulls();
      holding.failHeld(); // the window opens: the tail's turn comes, its leases long lapsed
      if (dueWhenPulled) {
        await()
            .atMost(Duration.ofSeconds(30))
            .alias("the waiting pump done with its burst (pulling again)")
            .until(() -> pullsUntilAll.hangingPulls() > pullsBefore);
      }
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
      emulator.close();
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
    PubSubTestSupport.EmulatorChannel emulator = new PubSubTestSupport.EmulatorChannel();
    var publisher =
        new BarrierPublisher(emulator.publisher(), GcpPubSubBroker.DEFAULT_DELAY_TOPIC, count);
    try (emulator;
        GcpPubSubBroker setup = PubSubTestSupport.broker(config).build();
        var subscriber = new DelayAckWatch(emulator.subscriber(), publisher::confirmed);
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
    }
  }
}
