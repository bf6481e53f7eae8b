package io.machinery.broker.gcppubsub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.pubsub.v1.DeleteSubscriptionRequest;
import com.google.pubsub.v1.DeleteTopicRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PubsubMessage;
import io.machinery.broker.gcppubsub.PubSubStubs.BarrierPublisher;
import io.machinery.broker.gcppubsub.PubSubStubs.DelayAckWatch;
import io.machinery.broker.gcppubsub.PubSubStubs.FakeCurrentDeadlineLeases;
import io.machinery.broker.gcppubsub.PubSubStubs.HoldingPublisher;
import io.machinery.broker.gcppubsub.PubSubStubs.PullsUntil;
import io.machinery.broker.gcppubsub.PubSubStubs.SlowPublisher;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
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
  private final String project = PubSubProjects.name("machinery-test");
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "delay_burst_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubProjects.delete(project);
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
    // due when the pump holds them all (within DelayPump.HOLD_MILLIS), not yet when it pulls them
    Publishes publishes =
        moveInBatches("task_held_", burst, Duration.ofSeconds(8), Duration.ofMillis(50));
    assertThat(publishes.requests())
        .as("publish requests for %d tasks falling due together", burst)
        .isBetween(burst / PubSubClient.MAX_MESSAGES_PER_PUBLISH, burst / 20);
    assertThat(publishes.peakInFlight())
        .as("requests in flight at once")
        .isLessThanOrEqualTo(PublishWindow.MAX_IN_FLIGHT);
  }

  /**
   * 2,000 delayed tasks already due when the pump pulls them are published in one request per pull
   * (before, one per task), each delayed message acknowledged only once its request was confirmed,
   * every task published and delivered once.
   */
  @Test
  void dueTasksOfAPullArePublishedInBatches() throws Exception {
    int burst = 2_000;
    Publishes publishes = moveInBatches("task_due_", burst, Duration.ofSeconds(-1), Duration.ZERO);
    assertThat(publishes.requests())
        .as("publish requests for %d due tasks (at most %d a pull)", burst, DelayPump.PULL_SIZE)
        .isBetween(burst / DelayPump.PULL_SIZE, burst / 20);
  }

  /** What {@link #moveInBatches} saw of the publishes to the task topic. */
  private record Publishes(int requests, int peakInFlight) {}

  /**
   * Puts {@code burst} delayed tasks, due {@code dueIn} from now, on the delay topic and lets a
   * broker whose publishes to the task topic are answered {@code latency} after Pub/Sub accepted
   * them move them; checks that every task reaches the worker once and is published once, and that
   * each delayed message was acknowledged only once the request carrying its task was confirmed.
   */
  private Publishes moveInBatches(String prefix, int burst, Duration dueIn, Duration latency)
      throws Exception {
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
        var publisher = new SlowPublisher(emulator.publisher(), config.defaultQueue(), latency);
        var subscriber = new DelayAckWatch(emulator.subscriber(), publisher::confirmed);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      publishDelayed(setup, prefix, burst, Instant.now().plus(dueIn).toEpochMilli());
      RecordingHandler handler = new RecordingHandler(100);
      var consumer = broker.startConsuming(prefix, "", handler); // starts the delay pump
      receiveOnceEach(handler, burst);
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("every delayed message acknowledged")
          .until(() -> subscriber.delayAcks() >= burst);
      assertThat(subscriber.earlyAcks())
          .as("delayed messages acknowledged before their task's publish was confirmed")
          .isZero();
      assertThat(publisher.confirmed()).as("tasks published").isEqualTo(burst);
      consumer.close();
      return new Publishes(publisher.requests(), publisher.peakInFlight());
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
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
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
   * Three due tasks of 1.9 MB each (5.7 MB, within Pub/Sub's 10 MB a request) reach their topic on
   * the emulator, each published and delivered once: the pump's requests keep within gRPC's default
   * 4 MiB, the most a server left at its defaults (pstest among them) takes. Before, the pull's
   * burst went as one request, which pstest refused with RESOURCE_EXHAUSTED ("received message
   * larger than max") each time the tasks came back: none ever arrived.
   */
  @Test
  void dueTasksOverFourMegabytesTogetherReachTheirTopicOnTheEmulator() throws Exception {
    int count = 3;
    Map<String, AtomicInteger> published = new ConcurrentHashMap<>();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
        var publisher =
            new HoldingPublisher(emulator.publisher(), config.defaultQueue(), 0, published);
        var subscriber = emulator.subscriber();
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      String pad = "a".repeat(1_900_000);
      Map<String, String> due =
          Map.of(
              GcpPubSubBroker.ETA_ATTRIBUTE,
              Long.toString(Instant.now().minusSeconds(1).toEpochMilli()),
              GcpPubSubBroker.TOPIC_ATTRIBUTE,
              config.defaultQueue());
      for (int i = 0; i < count; i++) {
        String task = "{\"UUID\":\"task_big_" + i + "\",\"pad\":\"" + pad + "\"}";
        setup.client().publish(GcpPubSubBroker.DEFAULT_DELAY_TOPIC, task.getBytes(UTF_8), due);
      }
      RecordingHandler handler = new RecordingHandler(count);
      var consumer = broker.startConsuming("big", "", handler); // starts the delay pump
      receiveOnceEach(handler, count);
      assertThat(published.values())
          .as("publishes per task")
          .hasSize(count)
          .allSatisfy(publishes -> assertThat(publishes).hasValue(1));
      assertThat(publisher.requests()).as("requests of at most 4 MiB for 5.7 MB").isEqualTo(2);
      consumer.close();
    }
  }

  /**
   * 2,000 held tasks (two requests' worth) fall due for a topic deleted with its subscription while
   * the broker ran: a broker that may create what is missing creates both again and publishes each
   * task there once, and each reaches a worker once.
   */
  @Test
  void heldTasksOverTheBatchLimitForADeletedTopicReachItOnceEachWhenCreatedAgain()
      throws Exception {
    heldTasksForADeletedTopic(true);
  }

  /**
   * As {@link #heldTasksOverTheBatchLimitForADeletedTopicReachItOnceEachWhenCreatedAgain}, for a
   * broker that may not create it: each task is dead-lettered once, none published, in a few
   * requests per pull. Before, each task of a pull's burst but the first cost two waited round
   * trips, a publish refused and a dead letter: 4,000 requests, close to a minute on the emulator,
   * and on a 30 ms network longer than the pull's lease.
   */
  @Test
  void heldTasksOverTheBatchLimitForADeletedTopicAreDeadLetteredOnceEach() throws Exception {
    heldTasksForADeletedTopic(false);
  }

  private void heldTasksForADeletedTopic(boolean mayCreate) throws Exception {
    int burst = 2_000;
    // a consumer of another queue runs the pump: one of the task topic's would create it again
    String pumpQueue = "pump_" + config.defaultQueue();
    Map<String, AtomicInteger> published = new ConcurrentHashMap<>();
    Map<String, AtomicInteger> deadLettered = new ConcurrentHashMap<>();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
        var toTasks =
            new HoldingPublisher(emulator.publisher(), config.defaultQueue(), 0, published);
        var publisher =
            new HoldingPublisher(
                toTasks, GcpPubSubBroker.DEFAULT_DEAD_LETTER_TOPIC, 0, deadLettered);
        var subscriber = emulator.subscriber();
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .emulatorHost("")
                .client(publisher, subscriber)
                .createMissing(mayCreate)
                .ackDeadline(Duration.ofSeconds(10))
                .build()) {
      setup.client().require(Map.of(pumpQueue, pumpQueue), true, 10);
      String taskSubscription = broker.subscriptionFor(config.defaultQueue());
      setup
          .client()
          .subscriber()
          .deleteSubscriptionCallable()
          .call(
              DeleteSubscriptionRequest.newBuilder()
                  .setSubscription(setup.client().subscriptionName(taskSubscription))
                  .build());
      setup
          .client()
          .publisher()
          .deleteTopicCallable()
          .call(
              DeleteTopicRequest.newBuilder()
                  .setTopic(setup.client().topicName(config.defaultQueue()))
                  .build());
      // due when the pump holds them all (within DelayPump.HOLD_MILLIS), not yet when it pulls them
      publishDelayed(setup, "task_gone_", burst, Instant.now().plusSeconds(6).toEpochMilli());
      var pump = broker.startConsuming("pump", pumpQueue, new RecordingHandler(1));
      Map<String, AtomicInteger> moved = mayCreate ? published : deadLettered;
      await()
          .atMost(Duration.ofSeconds(60))
          .alias((mayCreate ? "published" : "dead-lettered") + " tasks")
          .until(moved::size, n -> n >= burst);
      assertThat(moved.values())
          .as(mayCreate ? "publishes per task" : "dead letters per task")
          .hasSize(burst)
          .allSatisfy(times -> assertThat(times).hasValue(1));
      // a few per pull of up to 500: before, the dead-letter branch sent two per task
      assertThat(toTasks.requests()).as("requests to the task topic").isLessThan(burst / 20);
      assertThat(publisher.requests())
          .as("requests to the dead-letter topic")
          .isLessThan(burst / 20);
      if (mayCreate) {
        RecordingHandler handler = new RecordingHandler(100);
        var consumer = broker.startConsuming("gone", "", handler);
        receiveOnceEach(handler, burst);
        consumer.close();
      } else {
        assertThat(published).as("tasks published to the deleted topic").isEmpty();
      }
      pump.close();
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
    lapsedLeasesWhileWaitingForTheWindow(false, false);
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
    lapsedLeasesWhileWaitingForTheWindow(true, false);
  }

  /**
   * As {@link #dueTasksWhoseLeaseLapsedWhileWaitingForTheWindowAreNotPublishedTwice}, when someone
   * shortened the delay subscription's ack deadline (from 600 s to 10 s) after the waiting pump
   * started: its pulls lease for 10 s, and no task is published twice. Before, the pump kept the
   * 600 s it read when it started, so it published the tail after its leases had lapsed: each of
   * those tasks twice. pstest's pulls keep the deadline a subscription was created with, so a fake
   * stub gives the pulled tasks the lease Pub/Sub would ({@link FakeCurrentDeadlineLeases}).
   */
  @Test
  void dueTasksOfADelaySubscriptionWhoseDeadlineWasShortenedAreNotPublishedTwice()
      throws Exception {
    lapsedLeasesWhileWaitingForTheWindow(true, true);
  }

  /**
   * See {@link #heldTasksWhoseLeaseLapsedWhileWaitingForTheWindowAreNotPublishedTwice}; with {@code
   * deadlineShortened}, the delay subscription's deadline is 600 s when the waiting pump starts and
   * 10 s from its first pull on, and the tasks are published after that.
   */
  private void lapsedLeasesWhileWaitingForTheWindow(
      boolean dueWhenPulled, boolean deadlineShortened) throws Exception {
    int held = PublishWindow.MAX_IN_FLIGHT;
    int count = held + 10;
    String topicPrefix = "lease_tail_";
    PubSubTestSupport.EmulatorChannel emulator = new PubSubTestSupport.EmulatorChannel();
    Map<String, AtomicInteger> published = new ConcurrentHashMap<>();
    var holding = new HoldingPublisher(emulator.publisher(), topicPrefix, held, published);
    var currentDeadline =
        new FakeCurrentDeadlineLeases(emulator.subscriber(), GcpPubSubBroker.DEFAULT_DELAY_TOPIC);
    var pullsUntilAll =
        new PullsUntil(deadlineShortened ? currentDeadline : emulator.subscriber(), count);
    try (GcpPubSubBroker setup = PubSubProjects.broker(config).build();
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
      if (deadlineShortened) {
        PubSubTestSupport.setAckDeadline(setup, GcpPubSubBroker.DEFAULT_DELAY_TOPIC, 600);
      } else {
        setup.client().publisher().publishCallable().call(delayed.build());
      }
      var waitingConsumer = waiting.startConsuming("waiting", "", new RecordingHandler(1));
      if (deadlineShortened) {
        await()
            .atMost(Duration.ofSeconds(20))
            .alias("the waiting pump started (it read the deadline) and pulled")
            .until(() -> currentDeadline.answeredPulls() > 0);
        PubSubTestSupport.setAckDeadline(setup, GcpPubSubBroker.DEFAULT_DELAY_TOPIC, 10);
        setup.client().publisher().publishCallable().call(delayed.build());
      }
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
      if (!deadlineShortened) {
        currentDeadline.close(); // closed by pullsUntilAll otherwise
      }
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
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
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
