package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.BodyPreview;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import software.amazon.awssdk.services.sqs.model.Message;

/** Issue 12 on ElasticMQ: dead letters of oversized messages are bounded (F10), and so on. */
class SqsReliabilityIT {
  private static final int LIMIT = 2_048;

  @RegisterExtension static final SqsTestResources sqs = new SqsTestResources();

  private Config config;
  private SqsBroker broker;

  @BeforeEach
  void createBroker() {
    config = sqs.queue(SqsTestQueues.config().maxMessageBytes(LIMIT), "sqs_rel_");
    broker = sqs.closeLater(SqsTestQueues.broker(config));
    SqsQueues.create(SqsTestQueues.client(), config.defaultQueue());
  }

  private void sendRaw(String body) {
    SqsTestQueues.client()
        .sendMessage(r -> r.queueUrl(SqsTestQueues.url(config.defaultQueue())).messageBody(body));
  }

  /**
   * A message over MaxMessageBytes is dead-lettered as a preview with its size and SHA-256, one
   * within the limit whole; the inspector requeues only the whole one.
   */
  @Test
  void anOversizedMessageIsDeadLetteredAsAPreviewAndASmallOneWhole() throws Exception {
    String big = "{\"pad\":\"" + "é".repeat(20_000) + "\"}"; // 40 KB, two-byte characters
    String small = "{not json";
    sendRaw(big);
    sendRaw(small);
    RecordingHandler handler = new RecordingHandler(2);
    Consumption consumption = sqs.closeLater(broker.startConsuming("oversize", "", handler));
    for (int i = 0; i < 2; i++) {
      Delivery d = handler.next(20);
      assertThat(d).isNotNull();
      handler.deadLetter(
          d,
          d.body().length > LIMIT
              ? "message of " + d.body().length + " bytes is over the limit"
              : "malformed");
    }
    String dlq = SqsBroker.deadLetterQueue(config.defaultQueue());
    Map<String, Message> dead = new HashMap<>();
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () -> {
              for (Message m : SqsTestQueues.receive(dlq, 1, 1)) {
                dead.put(
                    m.messageAttributes().get(SqsBroker.DEAD_LETTER_REASON_ATTRIBUTE).stringValue(),
                    m);
              }
              return dead.size() == 2;
            });
    byte[] bigBytes = big.getBytes(StandardCharsets.UTF_8);
    Message preview = dead.get("message of " + bigBytes.length + " bytes is over the limit");
    assertThat(preview).isNotNull();
    assertThat(preview.body().getBytes(StandardCharsets.UTF_8).length)
        .isLessThanOrEqualTo(BodyPreview.PREVIEW_BYTES)
        .isGreaterThan(BodyPreview.PREVIEW_BYTES - 4);
    assertThat(big).startsWith(preview.body());
    assertThat(preview.messageAttributes().get(BodyPreview.SIZE_KEY).stringValue())
        .isEqualTo(Integer.toString(bigBytes.length));
    assertThat(preview.messageAttributes().get(BodyPreview.SHA256_KEY).stringValue())
        .isEqualTo(BodyPreview.sha256Hex(bigBytes));
    Message whole = dead.get("malformed");
    assertThat(whole.body()).isEqualTo(small);
    assertThat(whole.messageAttributes()).doesNotContainKey(BodyPreview.SIZE_KEY);

    consumption.close(); // stop consuming before repairing
    Inspector inspector = broker.inspector().orElseThrow();
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> inspector.deadLetters(config.defaultQueue(), 0, 10).size() == 2);
    assertThat(inspector.requeueDeadLetters(config.defaultQueue(), e -> true))
        .as("only the whole dead letter is requeued")
        .isEqualTo(1);
    List<DeadLetterEntry> left = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(15))
        .until(
            () -> {
              left.clear();
              left.addAll(inspector.deadLetters(config.defaultQueue(), 0, 10));
              return left.size() == 1;
            });
    assertThat(left.getFirst().reason()).contains("over the limit");
    List<Message> requeued = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> requeued.addAll(SqsTestQueues.receive(config.defaultQueue(), 1, 30)));
    assertThat(requeued.getFirst().body()).isEqualTo(small);
  }

  /**
   * A visibility heartbeat tick that throws (an Error in the first, a RuntimeException in the
   * third, from the client) does not end the heartbeat: later ticks keep the message hidden, so a
   * second consumer never receives it while its task runs for several visibility timeouts.
   */
  @Test
  void aHeartbeatTickThatThrowsDoesNotStopLaterTicks() throws Exception {
    // 3 s: a failed tick leaves 2 s between extensions, so a stall of 1 s more (this JVM or
    // ElasticMQ on a loaded host) is still covered
    Config threeSeconds = config.toBuilder().sqs(new SqsConfig(1, 3, false)).build();
    AtomicInteger ticks = new AtomicInteger();
    SqsBroker holder =
        faultyBroker(
            threeSeconds,
            "changeMessageVisibilityBatch",
            ticks,
            tick ->
                switch (tick) {
                  case 1 -> new AssertionError("injected: heartbeat tick 1 fails with an Error");
                  // every other tick, so each lapse stays within the timeout
                  case 3 -> new IllegalArgumentException("injected: heartbeat tick 3 fails");
                  default -> null;
                });
    sendRaw("{\"UUID\":\"task_long\"}");
    RecordingHandler first = new RecordingHandler(1);
    sqs.closeLater(holder.startConsuming("holder", "", first));
    Delivery running = first.next(20);
    assertThat(running).isNotNull();
    RecordingHandler second = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("other", "", second));
    // 5 ticks after the second failure, a third of the 3 s timeout apart: 5 s, longer than
    // the visibility timeout, so a heartbeat that stopped would have let the message come back.
    await().atMost(Duration.ofSeconds(20)).until(() -> ticks.get() >= 8);
    assertThat(second.handedOver()).as("never redelivered while its task runs").isZero();
    first.ack(running);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
    assertThat(second.handedOver()).isZero();
  }

  /**
   * An oversized message is handed to the worker at once, even with an ETA ahead: it is never
   * decoded by the consumer, nor re-sent hop after hop until its ETA before being refused.
   */
  @Test
  void anOversizedMessageWithAnEtaIsHandedOverAtOnceNotHeldBack() throws Exception {
    Signature future =
        Signature.builder("add")
            .routingKey(config.defaultQueue())
            .eta(OffsetDateTime.now(ZoneOffset.UTC).plusHours(1))
            .args(List.of(Arg.of("x".repeat(3 * LIMIT))))
            .build();
    byte[] body = WireCodec.encode(future);
    assertThat(body.length).isGreaterThan(LIMIT);
    sendRaw(new String(body, StandardCharsets.UTF_8));
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(broker.startConsuming("oversize-eta", "", handler));
    Delivery d = handler.next(10);
    assertThat(d).as("handed over without waiting for its ETA").isNotNull();
    assertThat(d.body()).isEqualTo(body);
    handler.ack(d);
  }

  /**
   * A broker (closed after the test) on a client with one injected fault (see {@link
   * SqsTestResources#failing}).
   */
  private SqsBroker faultyBroker(
      Config with, String name, AtomicInteger calls, IntFunction<Throwable> fault) {
    return sqs.closeLater(SqsBroker.builder(with).client(sqs.failing(name, calls, fault)).build());
  }

  /**
   * A receive that throws something other than an SdkException (here an Error) does not end the
   * poller: it is retried and the message is delivered.
   */
  @Test
  void aReceiveThatThrowsDoesNotStopThePoller() throws Exception {
    AtomicInteger receives = new AtomicInteger();
    SqsBroker b =
        faultyBroker(
            config,
            "receiveMessage",
            receives,
            n -> n == 1 ? new AssertionError("injected: receive 1 fails with an Error") : null);
    sendRaw("{\"UUID\":\"task_after_fault\"}");
    RecordingHandler handler = new RecordingHandler(1);
    sqs.closeLater(b.startConsuming("survivor", "", handler));
    Delivery d = handler.next(20);
    assertThat(d).as("delivered by the same poller after the failed receive").isNotNull();
    assertThat(receives.get()).isGreaterThan(1);
    assertThat(handler.brokerErrors()).hasSize(1);
    handler.ack(d);
  }
}
