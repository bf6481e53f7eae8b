package io.machinery.broker.gcppubsub;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.api.core.SettableApiFuture;
import io.machinery.Signature;
import io.machinery.broker.gcppubsub.PubSubStubs.BarrierPublisher;
import io.machinery.broker.gcppubsub.PubSubStubs.DelayAckWatch;
import io.machinery.broker.gcppubsub.PubSubStubs.FakeCurrentDeadlineLeases;
import io.machinery.broker.gcppubsub.PubSubStubs.GatedPublisher;
import io.machinery.broker.gcppubsub.PubSubStubs.HeldAnswers;
import io.machinery.broker.gcppubsub.PubSubStubs.HeldExtensions;
import io.machinery.broker.gcppubsub.PubSubStubs.InjectingStub;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.ThrowingHandler;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the Pub/Sub broker does with the leases it holds when it stops, when many delayed tasks fall
 * due at once, and while delayed tasks wait on a slow Pub/Sub: no message waits out its ack
 * deadline leased to no one, and no lease lapses under a task that runs. On the pstest fake, with
 * stubs that hold some answers back (a slow network or server, for as long as the test says).
 */
class GcpPubSubLeaseHandlingIT {
  private final String project = PubSubProjects.name("machinery-test");
  private final Config config =
      PubSubTestSupport.config(BrokerContract.uniqueQueue(Config.DEFAULT, "lease_it_"), project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubProjects.delete(project);
  }

  private void publishTasks(GcpPubSubBroker broker, String prefix, int count) {
    PubSubTestSupport.publishTasks(broker, config.defaultQueue(), prefix, count);
  }

  /**
   * Someone shortens the ack deadline of a subscription while its worker runs ({@code gcloud pubsub
   * subscriptions update --ack-deadline 10}, from the 600 s the consumer read when it started): a
   * task pulled afterwards, which runs longer than the new deadline, stays leased to its worker and
   * is not delivered again. Before, leases were extended every third of the deadline read at the
   * start (every 200 s), so the task's 10 s lease from its pull lapsed under it and Pub/Sub
   * delivered it again while it ran. pstest's pulls keep the deadline a subscription was created
   * with, so a fake stub gives the pulled task the lease Pub/Sub would ({@link
   * FakeCurrentDeadlineLeases}).
   */
  @Test
  void aTaskPulledAfterItsSubscriptionsAckDeadlineWasShortenedStaysLeased() throws Exception {
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup =
            PubSubProjects.broker(config).ackDeadline(Duration.ofSeconds(600)).build();
        var publisher = emulator.publisher();
        var subscriber =
            new FakeCurrentDeadlineLeases(emulator.subscriber(), setup.subscriptionFor(""));
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      RecordingHandler handler = new RecordingHandler(2);
      var consumer = broker.startConsuming("shortened", "", handler); // reads 600 s
      PubSubTestSupport.setAckDeadline(setup, setup.subscriptionFor(""), 10);
      publishTasks(setup, "task_shortened_", 1);
      Delivery running = handler.next(30);
      assertThat(running).as("the task delivered").isNotNull();
      assertThat(handler.next(15))
          .as("the task delivered again while it runs, past the new 10 s deadline")
          .isNull();
      handler.ack(running);
      consumer.close();
    }
  }

  /**
   * A consumer stopped while its pull is under way (the server already leased the messages, its
   * answer is still on its way) gives them back as soon as the answer arrives: with a 600 s ack
   * deadline, another consumer receives them at once, not ten minutes later.
   */
  @Test
  void messagesAPullBringsAfterItsConsumerStoppedGoBackAtOnce() throws Exception {
    SettableApiFuture<Void> answer = SettableApiFuture.create();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker other =
            PubSubProjects.broker(config).ackDeadline(Duration.ofSeconds(600)).build();
        var publisher = emulator.publisher();
        var subscriber = new HeldAnswers(emulator.subscriber(), other.subscriptionFor(""), answer);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      publishTasks(other, "task_stopped_pull_", 2);
      RecordingHandler stopped = new RecordingHandler(3);
      var consumer = broker.startConsuming("stopped", "", stopped);
      await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.heldMessages() > 0);
      consumer.stopFetching(Duration.ofSeconds(5)); // gives up waiting for the pull after 1 s
      answer.set(null); // the pull's answer arrives only now
      RecordingHandler next = new RecordingHandler(2);
      var nextConsumer = other.startConsuming("next", "", next);
      for (int i = 0; i < 2; i++) {
        Delivery d = next.next(30);
        assertThat(d)
            .as("task %d of 2 reaches the next consumer long before the 600 s deadline", i + 1)
            .isNotNull();
        next.ack(d);
      }
      assertThat(stopped.handedOver()).as("the stopped consumer's worker ran nothing").isZero();
      nextConsumer.close();
      consumer.close();
    } finally {
      answer.set(null);
    }
  }

  /**
   * A worker's handler that throws on a delivery ({@link DeliveryHandler#handle}'s rule: it did not
   * take it) ends the consumption, as on the other brokers; the message it threw on goes back to
   * Pub/Sub at once (with a 600 s ack deadline, the next consumer receives it within seconds),
   * settled, so that an ack the handler still makes is ignored, and its slot goes back with the
   * unused ones of the same reservation. Before, that message stayed leased, its deadline extended
   * until the consumer closed, and both slots stayed taken (the worker fetched less and less).
   */
  @Test
  void aMessageTheHandlerThrowsOnGoesBackAtOnceWithItsSlot() throws Exception {
    try (GcpPubSubBroker broker =
        PubSubProjects.broker(config).ackDeadline(Duration.ofSeconds(600)).build()) {
      publishTasks(broker, "task_thrown_on_", 3);
      RecordingHandler slots = new RecordingHandler(3);
      ThrowingHandler handler = new ThrowingHandler(slots, 2);
      var consumer = broker.startConsuming("throwing", "", handler);
      await("the consumption ended by the handler's throw")
          .atMost(Duration.ofSeconds(30))
          .until(() -> !slots.endings().isEmpty());
      Delivery thrownOn = handler.thrownOn();
      assertThat(thrownOn).as("the delivery the handler threw on").isNotNull();
      thrownOn.ack(); // a handler that took it after all: too late, it went back already
      Delivery first = slots.next(0);
      assertThat(first).as("the delivery handed over before the throw").isNotNull();
      assertThat(slots.handedOver()).as("deliveries handed over").isEqualTo(1);
      assertThat(handler.slotsTaken())
          .as("slots the consumer still holds (reserved, neither used nor given back)")
          .isZero();
      assertThat(handler.freeSlots()).as("free slots, one held by the first delivery").isEqualTo(2);

      RecordingHandler next = new RecordingHandler(3);
      var nextConsumer = broker.startConsuming("next", "", next); // as the worker starts one
      Set<String> bodies = new HashSet<>();
      bodies.add(new String(first.body(), UTF_8));
      for (int i = 0; i < 2; i++) {
        Delivery d = next.next(30);
        assertThat(d)
            .as(
                "message %d of the 2 not run (the one thrown on included) reaches the next consumer"
                    + " long before the 600 s deadline",
                i + 1)
            .isNotNull();
        bodies.add(new String(d.body(), UTF_8));
        next.ack(d);
      }
      assertThat(bodies).as("the three tasks, each once").hasSize(3);
      assertThat(next.next(3)).as("the first, still running, delivered again").isNull();
      slots.ack(first);
      nextConsumer.close();
      consumer.close();
    }
  }

  /**
   * A broker closed while its delay pump's pull is under way (the server leased a delayed task to
   * it, the answer is still on its way) hands that task back when the answer arrives: another
   * broker's pump moves it when due, not after the delay subscription's 600 s ack deadline.
   */
  @Test
  void aDelayedTaskAClosingPumpPulledGoesBackAtOnce() throws Exception {
    aDelayedTaskAClosingPumpPulledGoesBack(false);
  }

  /**
   * As {@link #aDelayedTaskAClosingPumpPulledGoesBackAtOnce}, with the answer arriving only after
   * close() returned: a broker built on the user's stubs (which stay open) still hands it back.
   */
  @Test
  void aPullAnsweringAfterItsBrokerClosedIsHandedBackOnTheUsersStubs() throws Exception {
    aDelayedTaskAClosingPumpPulledGoesBack(true);
  }

  private void aDelayedTaskAClosingPumpPulledGoesBack(boolean answerAfterClose) throws Exception {
    SettableApiFuture<Void> answer = SettableApiFuture.create();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker other =
            PubSubProjects.broker(config).ackDeadline(Duration.ofSeconds(600)).build();
        var publisher = emulator.publisher();
        var subscriber =
            new HeldAnswers(emulator.subscriber(), GcpPubSubBroker.DEFAULT_DELAY_TOPIC, answer);
        GcpPubSubBroker closing = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      Signature sent =
          Signature.builder("add")
              .routingKey(config.defaultQueue())
              .eta(Instant.now().plusSeconds(1))
              .build();
      closing.publish(sent, WireCodec.encode(sent)); // to the delay topic; starts the pump
      await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.heldMessages() > 0);
      Thread closer = Thread.ofPlatform().start(closing::close); // gives up on the pull after 2 s
      if (answerAfterClose) {
        assertThat(closer.join(Duration.ofSeconds(30))).as("close() returned").isTrue();
        answer.set(null); // the pull's answer arrives only now
      } else {
        await()
            .atMost(Duration.ofSeconds(20))
            .until(() -> closing.settler().abandonedPulls() > 0 || !closer.isAlive());
        answer.set(null); // the pull's answer arrives only now
        assertThat(closer.join(Duration.ofSeconds(20))).isTrue();
      }
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
    }
  }

  /**
   * A burst of tasks that are due when the delay pump pulls them is published side by side: every
   * publish is under way before the first is confirmed (this publisher confirms none until all of
   * them are asked for, which one-by-one publishing never gets to), so the burst takes one round
   * trip of the lease its pull gave, not one per task. Each delayed message is acknowledged only
   * after its task's publish was confirmed, and every task reaches the worker.
   */
  @Test
  void aBurstOfDueTasksIsPublishedSideBySideAndAcknowledgedOnlyOnceConfirmed() throws Exception {
    int burst = 50;
    PubSubTestSupport.EmulatorChannel emulator = new PubSubTestSupport.EmulatorChannel();
    var publisher = new BarrierPublisher(emulator.publisher(), config.defaultQueue(), burst);
    try (emulator;
        GcpPubSubBroker setup = PubSubProjects.broker(config).build();
        var subscriber = new DelayAckWatch(emulator.subscriber(), publisher::confirmed);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      PubSubTestSupport.publishDelayed(
          setup,
          config.defaultQueue(),
          "task_burst_",
          burst,
          Instant.now().minusSeconds(1).toEpochMilli());
      RecordingHandler handler = new RecordingHandler(burst);
      var consumer = broker.startConsuming("burst", "", handler); // starts the delay pump
      await()
          .atMost(Duration.ofSeconds(30))
          .alias("all " + burst + " publishes of the burst under way at once")
          .until(() -> publisher.asked() >= burst);
      PubSubTestSupport.receiveOnceEach(handler, burst);
      await().atMost(Duration.ofSeconds(10)).until(() -> subscriber.delayAcks() == burst);
      assertThat(subscriber.earlyAcks())
          .as("delayed messages acknowledged before their task's publish was confirmed")
          .isZero();
      consumer.close();
    } finally {
      publisher.open();
      publisher.close();
    }
  }

  /**
   * Lease extensions go on while many held delayed tasks fall due at once and every one of their
   * publishes hangs: the scheduler that extends leases only hands due tasks to the due-thread,
   * which only starts their publishes, so neither a slow publish nor a large batch of held tasks
   * delays an extension (evidence for the design, which was right before this test).
   */
  @Test
  void heldTasksWhosePublishesHangDoNotHoldBackLeaseExtensions() throws Exception {
    int held = 50;
    SettableApiFuture<Void> gate = SettableApiFuture.create();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build(); // 10 s ack deadline
        var publisher = new GatedPublisher(emulator.publisher(), config.defaultQueue(), gate);
        var subscriber = new InjectingStub(emulator.subscriber(), null, false);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      publishTasks(setup, "task_leased_", 1);
      RecordingHandler handler = new RecordingHandler(1);
      var consumer = broker.startConsuming("leases", "", handler);
      Delivery running = handler.next(20);
      assertThat(running).isNotNull();
      Instant eta = Instant.now().plusSeconds(2); // held by the pump, then due all at once
      for (int i = 0; i < held; i++) {
        Signature s = Signature.builder("add").routingKey(config.defaultQueue()).eta(eta).build();
        broker.publish(s, WireCodec.encode(s));
      }
      await()
          .atMost(Duration.ofSeconds(40))
          .alias("every held task fell due and its publish hangs")
          .until(() -> publisher.gated() == held);
      int before = subscriber.extensions();
      // a tick every 3.3 s (a third of the 10 s deadline): three span a whole deadline
      await()
          .atMost(Duration.ofSeconds(20))
          .alias("lease extensions while " + held + " publishes hang")
          .until(() -> subscriber.extensions() >= before + 3);
      assertThat(handler.handedOver()).isEqualTo(1);
      gate.set(null);
      handler.ack(running);
      consumer.close();
    } finally {
      gate.set(null);
    }
  }

  /**
   * A lease extension Pub/Sub does not answer (here held back for as long as the test runs) does
   * not hold back the extensions of another consumer of the same broker: ticks share one scheduler
   * thread and only send their request, so the other consumer's running task keeps its lease.
   */
  @Test
  void aHangingLeaseExtensionDoesNotHoldBackAnotherConsumersExtensions() throws Exception {
    String slowQueue = config.defaultQueue() + "_slow";
    SettableApiFuture<Void> answer = SettableApiFuture.create();
    try (var emulator = new PubSubTestSupport.EmulatorChannel();
        GcpPubSubBroker setup = PubSubProjects.broker(config).build(); // 10 s ack deadline
        var publisher = emulator.publisher();
        var subscriber = new HeldExtensions(emulator.subscriber(), slowQueue, answer);
        GcpPubSubBroker broker = PubSubTestSupport.brokerOn(config, publisher, subscriber)) {
      setup.client().require(Map.of(slowQueue, slowQueue), true, 10);
      setup.client().publish(slowQueue, "{\"UUID\":\"task_slow_lease\"}".getBytes(UTF_8), Map.of());
      publishTasks(setup, "task_other_lease_", 1);
      RecordingHandler slow = new RecordingHandler(1);
      var slowConsumer = broker.startConsuming("slow", slowQueue, slow);
      Delivery slowTask = slow.next(20);
      assertThat(slowTask).isNotNull();
      RecordingHandler other = new RecordingHandler(1);
      var otherConsumer = broker.startConsuming("other", "", other);
      Delivery otherTask = other.next(20);
      assertThat(otherTask).isNotNull();
      await().atMost(Duration.ofSeconds(20)).until(() -> subscriber.held() > 0);
      int before = subscriber.extensionsElsewhere();
      // a tick every 3.3 s (a third of the 10 s deadline): three span a whole deadline
      await()
          .atMost(Duration.ofSeconds(20))
          .alias("the other consumer's extensions while " + slowQueue + "'s hangs")
          .until(() -> subscriber.extensionsElsewhere() >= before + 3);
      answer.set(null);
      slow.ack(slowTask);
      other.ack(otherTask);
      otherConsumer.close();
      slowConsumer.close();
    } finally {
      answer.set(null);
    }
  }
}
