package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Arg;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import software.amazon.awssdk.core.SdkRequest;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.services.sqs.model.ChangeMessageVisibilityBatchRequest;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequest;
import software.amazon.awssdk.services.sqs.model.DeleteMessageRequest;
import software.amazon.awssdk.services.sqs.model.GetQueueAttributesRequest;
import software.amazon.awssdk.services.sqs.model.ListQueuesRequest;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;
import software.amazon.awssdk.services.sqs.model.ReceiveMessageRequest;
import software.amazon.awssdk.services.sqs.model.SendMessageRequest;

/**
 * What the SQS inspector does beyond the contract: listings leave dead letters visible, repairs
 * stopped midway, FIFO, calls that never answer.
 */
class SqsInspectorIT {
  @RegisterExtension static final SqsTestResources sqs = new SqsTestResources();

  /** The call timeout of the tests of a call that never answers. */
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(2);

  /** How much later than {@link #CALL_TIMEOUT} such a call may end (a loaded machine). */
  private static final Duration MARGIN = Duration.ofSeconds(5);

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

  static Stream<Arguments> inspectorCalls() {
    return Stream.of(
        call("queue counters", GetQueueAttributesRequest.class, i -> i.queue("")),
        call("pending count", GetQueueAttributesRequest.class, i -> i.pendingCount("")),
        call("queue list", ListQueuesRequest.class, Inspector::queues),
        call("dead-letter listing", ReceiveMessageRequest.class, i -> i.deadLetters("", 0, 10)),
        call(
            "dead-letter requeue",
            SendMessageRequest.class,
            i -> i.requeueDeadLetters("", e -> true)),
        call(
            "dead-letter delete",
            DeleteMessageRequest.class,
            i -> i.deleteDeadLetters("", e -> true)),
        call("purge", DeleteMessageBatchRequest.class, i -> i.purge("")));
  }

  private static Arguments call(
      String name, Class<? extends SdkRequest> held, Function<Inspector, Object> call) {
    return Arguments.argumentSet(name, held, call);
  }

  /**
   * An inspector call whose request never answers (held in the client) fails at the call timeout
   * with a {@link MachineryException} that says so, instead of holding its caller (a dashboard's
   * read, the command line) for as long as the request hangs.
   */
  @ParameterizedTest
  @MethodSource("inspectorCalls")
  void anInspectorCallThatNeverAnswersFailsAtTheCallTimeout(
      Class<? extends SdkRequest> heldType, Function<Inspector, Object> call) throws Exception {
    HeldRequest held = new HeldRequest(heldType::isInstance);
    Inspector inspector = inspectorWithADeadLetterAndATask(held);

    CompletableFuture<Object> result = callWhileHeld(held, () -> call.apply(inspector));

    try {
      assertThat(result)
          .failsWithin(CALL_TIMEOUT.plus(MARGIN))
          .withThrowableOfType(ExecutionException.class)
          .havingCause()
          .isInstanceOf(MachineryException.class)
          .withMessageStartingWith("SQS: could not")
          .withCauseInstanceOf(ApiCallTimeoutException.class);
    } finally {
      held.release();
    }
  }

  /**
   * Showing listed dead letters again is best effort (they come back after the walk's visibility
   * timeout anyway): a call of it that never answers is cut at the call timeout, and the listing
   * returns.
   */
  @Test
  void aListingWhoseShowAgainNeverAnswersReturnsAtTheCallTimeout() throws Exception {
    HeldRequest held = new HeldRequest(r -> r instanceof ChangeMessageVisibilityBatchRequest);
    Inspector inspector = inspectorWithADeadLetterAndATask(held);

    CompletableFuture<Object> result = callWhileHeld(held, () -> inspector.deadLetters("", 0, 10));

    try {
      assertThat(result).succeedsWithin(CALL_TIMEOUT.plus(MARGIN)).asList().hasSize(1);
    } finally {
      held.release();
    }
  }

  /**
   * The inspector of a broker on a queue of its own holding one task and one dead letter, whose
   * client passes through {@code held} and whose calls are bounded by {@link #CALL_TIMEOUT}.
   */
  private static Inspector inspectorWithADeadLetterAndATask(HeldRequest held) {
    Config config = sqs.queue("sqs_insp_hung_");
    SqsBroker broker =
        sqs.closeLater(
            SqsBroker.builder(config)
                .client(sqs.client(held))
                .createQueues(true)
                .callTimeout(CALL_TIMEOUT)
                .build());
    Signature task = Signature.builder("t").routingKey(config.defaultQueue()).build();
    broker.publish(task, WireCodec.encode(task));
    deadLetter(broker, config.defaultQueue(), 1, null);
    return broker.inspector().orElseThrow();
  }

  /** Arms {@code held}, runs {@code call} on a thread of its own and waits until it is held. */
  private static CompletableFuture<Object> callWhileHeld(HeldRequest held, Supplier<Object> call)
      throws InterruptedException {
    CompletableFuture<Object> result = new CompletableFuture<>();
    held.holdNext();
    Thread.ofPlatform()
        .name("inspector-call")
        .start(
            () -> {
              try {
                result.complete(call.get());
              } catch (Throwable t) {
                result.completeExceptionally(t);
              }
            });
    held.awaitHeld();
    return result;
  }
}
