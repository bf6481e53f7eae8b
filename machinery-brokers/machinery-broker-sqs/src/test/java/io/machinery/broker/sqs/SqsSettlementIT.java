package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.ThrowingHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequest;
import software.amazon.awssdk.services.sqs.model.DeleteMessageRequest;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;
import software.amazon.awssdk.services.sqs.model.SendMessageRequest;

/**
 * A settled message stays hidden until SQS confirmed the call that settles it. The heartbeat
 * stopped when a settlement began, before its delete or send was answered, so a slow call
 * (throttling, a network stall, the SDK's retries) that outlasted the remaining visibility let SQS
 * hand the message to another consumer, which ran a finished task again. Each test holds the
 * settling call in the client (an SDK interceptor, {@link HeldRequest}) for more than twice the
 * visibility timeout while a second consumer polls the queue, then releases it and checks the
 * outcome. A settling call that never answers is cut by the call timeout, and the message comes
 * back (at-least-once) instead of staying hidden while the consumer lives. A handler that throws on
 * a message of a receive gives that message and the rest of the receive back at once.
 */
class SqsSettlementIT {
  @RegisterExtension static final SqsTestResources sqs = new SqsTestResources();

  /** Short, so a settling call held for twice as long is well past it; the heartbeat ticks 1 s. */
  private static final int VISIBILITY_SECONDS = 3;

  private static final Duration HELD_FOR = Duration.ofSeconds(2L * VISIBILITY_SECONDS + 1);

  /** The call timeout of the tests of a call that never answers. */
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(2);

  @Test
  void anAcknowledgedMessageStaysHiddenUntilItsBatchedDeleteIsConfirmed() throws Exception {
    Config config = config("settle_ack_");
    HeldRequest delete = new HeldRequest(r -> r instanceof DeleteMessageBatchRequest);
    Delivery delivery = receiveOne(config, delete);

    settleWhileHeld(config, delete, Delivery::ack, delivery);

    await("the acknowledged message deleted")
        .atMost(Duration.ofSeconds(10))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
  }

  /**
   * The replacement is delayed a minute, past the test, so the second consumer cannot take it
   * either.
   */
  @Test
  void aRequeuedMessageStaysHiddenUntilItsDeleteIsConfirmed() throws Exception {
    Config config = config("settle_requeue_");
    HeldRequest delete = new HeldRequest(r -> r instanceof DeleteMessageRequest);
    Delivery delivery = receiveOne(config, delete);
    byte[] replacement = "{\"replacement\":true}".getBytes(StandardCharsets.UTF_8);

    settleWhileHeld(config, delete, d -> d.requeue(Duration.ofMinutes(1), replacement), delivery);

    assertThat(SqsTestQueues.approximateCount(config.defaultQueue()))
        .as("messages left in the queue: the delayed replacement only, the original deleted")
        .isEqualTo(1);
  }

  @Test
  void aDeadLetteredMessageStaysHiddenUntilItIsSentToTheDeadLetterQueue() throws Exception {
    Config config = config("settle_dead_");
    String dlq = SqsBroker.deadLetterQueue(config.defaultQueue());
    HeldRequest send =
        new HeldRequest(r -> r instanceof SendMessageRequest s && s.queueUrl().endsWith("/" + dlq));
    Delivery delivery = receiveOne(config, send);

    settleWhileHeld(config, send, d -> d.deadLetter("bad"), delivery);

    await("the dead-lettered message deleted from its queue")
        .atMost(Duration.ofSeconds(10))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
    assertThat(SqsTestQueues.approximateCount(dlq)).as("dead letters").isEqualTo(1);
  }

  /**
   * A batched delete that never answers (held in the client past the call timeout) is cut by that
   * timeout: the acknowledgement returns, the message leaves the heartbeat and SQS hands it out
   * again after its visibility timeout (the task runs again: at-least-once). Before, it stayed
   * hidden for as long as the call hung, and the acknowledgement waited two minutes.
   */
  @Test
  void anAcknowledgementWhoseDeleteNeverAnswersEndsAtTheCallTimeoutAndTheMessageComesBack()
      throws Exception {
    Config config = config("settle_ack_hung_");
    HeldRequest delete = new HeldRequest(r -> r instanceof DeleteMessageBatchRequest);
    Delivery delivery = receiveOne(config, delete, CALL_TIMEOUT);

    settleWhileHung(config, delete, Delivery::ack, delivery);
  }

  /**
   * A requeue whose delete of the original never answers: the copy is sent, the delete is cut by
   * the call timeout, the requeue returns, and the original comes back after its visibility timeout
   * beside its copy (at-least-once), instead of staying hidden while the call hangs and keeping the
   * worker's thread in it.
   */
  @Test
  void aRequeueWhoseDeleteNeverAnswersEndsAtTheCallTimeoutAndTheOriginalComesBack()
      throws Exception {
    Config config = config("settle_requeue_hung_");
    HeldRequest delete = new HeldRequest(r -> r instanceof DeleteMessageRequest);
    Delivery delivery = receiveOne(config, delete, CALL_TIMEOUT);
    byte[] replacement = "{\"replacement\":true}".getBytes(StandardCharsets.UTF_8);

    settleWhileHung(config, delete, d -> d.requeue(Duration.ofMinutes(1), replacement), delivery);
  }

  /**
   * A handler that throws on a message ends the poller (the worker replaces the consumption). The
   * message it threw on counts as not handed over: it is visible again at once (it stayed hidden by
   * the heartbeat until the consumer closed, and its slot stayed taken), with its receive counted
   * toward the poison limit, and a settlement the handler might still make is ignored. The messages
   * of the same receive after it are given back at once too (they stayed hidden for the whole
   * visibility timeout, 30 s here).
   */
  @Test
  void aHandlerThatThrowsGivesTheRestOfItsReceiveBackAtOnce() throws Exception {
    Config config =
        sqs.queue(SqsTestQueues.config().sqs(new SqsConfig(1, 30, false)), "settle_throw_");
    SqsBroker broker = sqs.closeLater(SqsTestQueues.broker(config));
    for (int i = 0; i < 3; i++) {
      Signature task = Signature.builder("t").routingKey(config.defaultQueue()).build();
      broker.publish(task, WireCodec.encode(task));
    }
    await("the three messages visible")
        .atMost(Duration.ofSeconds(10))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 3);
    RecordingHandler recording = new RecordingHandler(10);
    ThrowingHandler handler = new ThrowingHandler(recording, 1);
    sqs.closeLater(broker.startConsuming("throw", "", handler));
    await("the consumption ended by the handler's throw")
        .atMost(Duration.ofSeconds(20))
        .until(() -> !recording.endings().isEmpty());

    Delivery thrownOn = handler.thrownOn();
    assertThat(thrownOn).as("the delivery the handler threw on").isNotNull();
    assertThat(thrownOn.stillHeld()).as("held after it was handed back").isFalse();
    thrownOn.ack(); // a handler that took it after all: too late, the message is back in the queue

    List<Message> back = new ArrayList<>();
    await("the three messages visible again")
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              back.addAll(SqsTestQueues.receive(config.defaultQueue(), 1, 30));
              assertThat(back)
                  .as(
                      "the messages of the receive, the one the handler threw on included, visible"
                          + " again at once (not after the 30 s visibility timeout)")
                  .hasSize(3);
            });
    assertThat(back)
        .as("each received twice: the next delivery counts toward the worker's poison limit")
        .allSatisfy(
            m ->
                assertThat(m.attributes().get(MessageSystemAttributeName.APPROXIMATE_RECEIVE_COUNT))
                    .isEqualTo("2"));
    assertThat(handler.slotsTaken())
        .as("slots the consumer still holds: the one the handler threw on was never handed over")
        .isZero();
  }

  /**
   * Whether {@code delivery}'s message is back in the queue: another consumer receives it (and
   * hides it for the 30 s after the test).
   */
  private static boolean receivedAgain(Config config) {
    return !SqsTestQueues.receive(config.defaultQueue(), 1, 30).isEmpty();
  }

  private static Config config(String prefix) {
    return sqs.queue(
        SqsTestQueues.config().sqs(new SqsConfig(1, VISIBILITY_SECONDS, false)), prefix);
  }

  /**
   * Publishes one task and consumes it with a broker whose client passes through {@code held}; then
   * stops fetching, so only the test's second consumer may receive the message again.
   */
  private static Delivery receiveOne(Config config, HeldRequest held) throws Exception {
    return receiveOne(config, held, SqsBroker.DEFAULT_CALL_TIMEOUT);
  }

  /** As {@link #receiveOne(Config, HeldRequest)}, its settling calls bounded by {@code bound}. */
  private static Delivery receiveOne(Config config, HeldRequest held, Duration bound)
      throws Exception {
    SqsBroker broker =
        sqs.closeLater(
            SqsBroker.builder(config)
                .client(sqs.client(held))
                .createQueues(true)
                .callTimeout(bound)
                .build());
    Signature task = Signature.builder("t").routingKey(config.defaultQueue()).build();
    broker.publish(task, WireCodec.encode(task));
    RecordingHandler handler = new RecordingHandler(1);
    Consumption consumption = sqs.closeLater(broker.startConsuming("settle", "", handler));
    Delivery delivery = handler.next(20);
    assertThat(delivery).as("the task delivered").isNotNull();
    consumption.stopFetching(Duration.ofSeconds(10));
    return delivery;
  }

  /**
   * Settles {@code delivery} while {@code held} holds its settling call for {@link #HELD_FOR};
   * meanwhile a second consumer must not receive the message. Then releases the call and waits for
   * the settlement to return.
   */
  private static void settleWhileHeld(
      Config config, HeldRequest held, Consumer<Delivery> settle, Delivery delivery)
      throws Exception {
    held.holdNext();
    Thread settling = Thread.ofPlatform().name("settle-held").start(() -> settle.accept(delivery));
    held.awaitHeld();
    List<Message> secondConsumer = new CopyOnWriteArrayList<>();
    try {
      await("a second consumer polls while the settling call is held")
          .during(HELD_FOR)
          .atMost(HELD_FOR.plusSeconds(5))
          .untilAsserted(
              () -> {
                secondConsumer.addAll(SqsTestQueues.receive(config.defaultQueue(), 1, 30));
                assertThat(secondConsumer)
                    .as(
                        "messages a second consumer received while the settling call was held"
                            + " past the %d s visibility timeout",
                        VISIBILITY_SECONDS)
                    .isEmpty();
              });
    } finally {
      held.release();
    }
    held.awaitHeldAnswered();
    settling.join(Duration.ofSeconds(30));
    assertThat(settling.isAlive()).as("the settlement returned").isFalse();
  }

  /**
   * Settles {@code delivery} while {@code held} holds its settling call until the end of the test:
   * the settlement must return within the call timeout (twice that for an acknowledgement, whose
   * delete may wait behind a batch), and the message must come back after the visibility timeout.
   */
  private static void settleWhileHung(
      Config config, HeldRequest held, Consumer<Delivery> settle, Delivery delivery)
      throws Exception {
    held.holdNext();
    Thread settling = Thread.ofPlatform().name("settle-hung").start(() -> settle.accept(delivery));
    try {
      held.awaitHeld();
      settling.join(CALL_TIMEOUT.multipliedBy(2).plusSeconds(5));
      assertThat(settling.isAlive())
          .as("the settlement returned although its call never answered")
          .isFalse();
      await("the message back in the queue once the hung call was cut")
          .atMost(CALL_TIMEOUT.plusSeconds(VISIBILITY_SECONDS + 10))
          .until(() -> receivedAgain(config));
    } finally {
      held.release();
    }
  }
}
