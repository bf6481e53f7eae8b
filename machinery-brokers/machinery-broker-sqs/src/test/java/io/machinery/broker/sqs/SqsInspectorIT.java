package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;

/**
 * What the SQS inspector does beyond the contract: listings leave dead letters visible, repairs
 * stopped midway, FIFO.
 */
class SqsInspectorIT {
  private final List<SqsBroker> brokers = new ArrayList<>();

  private SqsBroker broker(String queue) {
    Config config = SqsTestQueues.config().defaultQueue(queue).build();
    SqsTestQueues.track(queue);
    SqsBroker broker = SqsTestQueues.broker(config);
    brokers.add(broker);
    return broker;
  }

  private static String unique(String prefix) {
    return BrokerContract.uniqueQueue(Config.DEFAULT, prefix).defaultQueue();
  }

  @AfterEach
  void close() {
    brokers.forEach(SqsBroker::close);
  }

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }

  private static String deadLetter(SqsBroker broker, String queue, long value, String groupId) {
    Signature task = Signature.create("add", Arg.of(value));
    broker.deadLetter(
        queue,
        new String(WireCodec.encode(task), StandardCharsets.UTF_8),
        "reason " + value,
        groupId,
        task.uuid());
    return task.uuid();
  }

  @Test
  void listingDeadLettersShowsThemAgainAtOnce() {
    String queue = unique("sqs_insp_show_");
    SqsBroker broker = broker(queue);
    Inspector inspector = broker.inspector().orElseThrow();
    for (int i = 0; i < 3; i++) {
      deadLetter(broker, queue, i, null);
    }

    assertThat(inspector.deadLetters("", 0, 2)).hasSize(2);

    // not hidden for the walk's visibility timeout: another reader gets all three now
    List<Message> again = SqsTestQueues.receive(SqsBroker.deadLetterQueue(queue), 1, 30);
    assertThat(again).hasSize(3);
  }

  @Test
  void aRepairThatStopsMidwayLosesNothing() {
    String queue = unique("sqs_insp_midway_");
    SqsBroker broker = broker(queue);
    Inspector inspector = broker.inspector().orElseThrow();
    for (int i = 0; i < 3; i++) {
      deadLetter(broker, queue, i, null);
    }
    int[] seen = {0};

    assertThatThrownBy(
            () ->
                inspector.requeueDeadLetters(
                    "",
                    e -> {
                      if (++seen[0] == 2) {
                        throw new IllegalStateException(
                            "the operator's filter fails on the second entry");
                      }
                      return true;
                    }))
        .isInstanceOf(IllegalStateException.class);

    assertThat(inspector.queue("").pending()).as("the first was requeued").isEqualTo(1);
    assertThat(inspector.queue("").deadLettered())
        .as("the others are visible dead letters again")
        .isEqualTo(2);
  }

  @Test
  void aFifoDeadLetterReturnsToItsMessageGroup() {
    String queue = unique("sqs_insp_fifo_") + ".fifo";
    SqsBroker broker = broker(queue);
    Inspector inspector = broker.inspector().orElseThrow();
    String uuid = deadLetter(broker, queue, 7, "group-a");

    List<DeadLetterEntry> letters = inspector.deadLetters("", 0, 10);
    assertThat(letters)
        .singleElement()
        .satisfies(l -> assertThat(l.reason()).isEqualTo("reason 7"));
    assertThat(inspector.requeueDeadLetters("", e -> true)).isEqualTo(1);

    List<Message> requeued = SqsTestQueues.receive(queue, 1, 30);
    assertThat(requeued)
        .singleElement()
        .satisfies(
            m -> {
              assertThat(
                      WireCodec.decodeSignature(m.body().getBytes(StandardCharsets.UTF_8)).uuid())
                  .isEqualTo(uuid);
              assertThat(m.attributes().get(MessageSystemAttributeName.MESSAGE_GROUP_ID))
                  .isEqualTo("group-a");
              assertThat(m.messageAttributes()).as("Go's wire: the body only").isEmpty();
            });
    assertThat(inspector.queue("").deadLettered()).isZero();
  }
}
