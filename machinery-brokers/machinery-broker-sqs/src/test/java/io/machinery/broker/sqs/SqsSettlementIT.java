package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequest;
import software.amazon.awssdk.services.sqs.model.DeleteMessageRequest;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.SendMessageRequest;

/**
 * A settled message stays hidden until SQS confirmed the call that settles it. The heartbeat
 * stopped when a settlement began, before its delete or send was answered, so a slow call
 * (throttling, a network stall, the SDK's retries) that outlasted the remaining visibility let SQS
 * hand the message to another consumer, which ran a finished task again. Each test holds the
 * settling call in the client (an SDK interceptor, {@link HeldRequest}) for more than twice the
 * visibility timeout while a second consumer polls the queue, then releases it and checks the
 * outcome. Also: a handler that throws on a message of a receive gives the rest of that receive
 * back at once.
 */
class SqsSettlementIT {
  @RegisterExtension static final SqsTestResources sqs = new SqsTestResources();

  /** Short, so a settling call held for twice as long is well past it; the heartbeat ticks 1 s. */
  private static final int VISIBILITY_SECONDS = 3;

  private static final Duration HELD_FOR = Duration.ofSeconds(2L * VISIBILITY_SECONDS + 1);

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
   * A handler that throws on a message ends the poller (the worker replaces the consumption); the
   * messages of the same receive after that one were neither handed over nor given back, so they
   * stayed hidden for the whole visibility timeout (30 s here).
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
    ThrowingOnFirst handler = new ThrowingOnFirst(recording);
    sqs.closeLater(broker.startConsuming("throw", "", handler));
    await("the consumption ended by the handler's throw")
        .atMost(Duration.ofSeconds(20))
        .until(() -> !recording.endings().isEmpty());

    List<Message> back = SqsTestQueues.receive(config.defaultQueue(), 2, 30);
    assertThat(back)
        .as(
            "the messages of the receive after the one the handler threw on, visible again at"
                + " once (not after the 30 s visibility timeout)")
        .hasSize(2);
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
    SqsBroker broker = sqs.broker(config, sqs.client(held));
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

  /** A handler with a bug: throws on the first message it is handed, takes the others. */
  private static final class ThrowingOnFirst implements DeliveryHandler {
    private final RecordingHandler delegate;
    private boolean thrown;

    ThrowingOnFirst(RecordingHandler delegate) {
      this.delegate = delegate;
    }

    @Override
    public int reserve(int max) throws InterruptedException {
      return delegate.reserve(max);
    }

    @Override
    public int capacity() {
      return delegate.capacity();
    }

    @Override
    public void release(int slots) {
      delegate.release(slots);
    }

    @Override
    public synchronized void handle(Delivery delivery) {
      if (!thrown) {
        thrown = true;
        throw new IllegalStateException("a handler with a bug");
      }
      delegate.handle(delivery);
    }

    @Override
    public void handleNow(Delivery delivery) {
      delegate.handleNow(delivery);
    }

    @Override
    public void brokerError(Throwable error) {
      delegate.brokerError(error);
    }

    @Override
    public void consumptionEnded(Throwable cause) {
      delegate.consumptionEnded(cause);
    }
  }
}
