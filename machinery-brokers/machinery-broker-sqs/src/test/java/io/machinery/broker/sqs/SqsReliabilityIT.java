package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.BodyPreview;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.sqs.model.Message;

/** Issue 12 on ElasticMQ: dead letters of oversized messages are bounded (F10), and so on. */
class SqsReliabilityIT {
  private static final int LIMIT = 2_048;

  private Config config;
  private SqsBroker broker;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeEach
  void createBroker() {
    config =
        BrokerContract.uniqueQueue(
            Config.builder()
                .broker(TestEndpoints.sqsUrl())
                .sqs(new SqsConfig(1, null, false))
                .maxMessageBytes(LIMIT)
                .build(),
            "sqs_rel_");
    SqsTestQueues.track(config.defaultQueue());
    broker = SqsBroker.builder(config).createQueues(true).build();
    SqsQueues.create(SqsTestQueues.client(), config.defaultQueue());
  }

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
    broker.close();
  }

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
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
    toClose.add(broker.startConsuming("oversize", "", handler));
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

    toClose.removeLast().close(); // stop consuming before repairing
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
}
