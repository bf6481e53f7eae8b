package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Java sends, Go works: SQS broker (ElasticMQ), DynamoDB result backend (dynalite, Go's default
 * tables). Go writes results as {@code %v} texts; Java reads them back by type, so every scenario's
 * values are checked.
 *
 * <p>Known limitation of Go, not of this library: a chord whose callback runs on a Go worker cannot
 * work with Go's DynamoDB backend. Go stores results as text ({@code fmt.Sprintf("%v")}) and hands
 * them back as the callback's arguments, so Go fails the callback ("Reflect task args error: 2 is
 * not int64"), keeps its SQS message, and its consumer restarts on every redelivery. The control
 * {@link #controlGoAloneFailsTheSameChordOnItsDynamoDbBackend} shows it without any Java: a Go
 * sender and a Go worker on the same emulators fail the same way. A Java worker reads those values
 * by type, so the same chords pass on Java workers ({@code SqsDynamoDbAcceptanceIT}, and {@code
 * SqsDynamoDbGoSendsJavaWorksIT} with Go sending).
 */
class SqsDynamoDbJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  private static final String GO_ONLY =
      "Go's DynamoDB backend hands a chord callback its arguments as text; the control"
          + " controlGoAloneFailsTheSameChordOnItsDynamoDbBackend (Go sender and Go worker only) fails the same chord with"
          + " \"Reflect task args error: N is not int64\"";

  @Override
  protected Pair pair() {
    return Pair.SQS_DYNAMODB;
  }

  @Test
  @Override
  void automaticRetryRepublishesWithGoCountersAndDelays() {
    SqsInterop.retryThroughGo(this);
  }

  @Test
  @Disabled(GO_ONLY)
  @Override
  void chord() {}

  @Test
  @Disabled(GO_ONLY)
  @Override
  void chordSharedByGoAndJavaWorkers() {}

  /**
   * It sends a chord to Go workers, which fails on Go's DynamoDB backend alone (see the control
   * test).
   */
  @Disabled(GO_ONLY)
  @Override
  void goWorkersRunTasksCarryingTheControlHeaders() {}

  /**
   * The control for the two disabled chords: Go alone (Go's {@code send -scenario chord} and a Go
   * worker, on a queue no Java worker consumes) on Go's own DynamoDB backend. The members succeed
   * and store their results as text; Go's worker cannot turn that text back into the callback's
   * {@code int64} arguments.
   */
  @Test
  void controlGoAloneFailsTheSameChordOnItsDynamoDbBackend() {
    String queue = queues.extraQueue("go_only_chord");
    try (GoHarness.GoWorker go =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(queues.goArgs(queue), "-concurrency", "3"))) {
      GoHarness.Run run =
          GoHarness.run(
              Duration.ofSeconds(90),
              "send",
              GoSendsJavaWorksSuite.concat(
                  queues.goArgs(queue), "-scenario", "chord", "-timeout", "30s"));
      JsonNode out = run.single();
      assertThat(out.path("ok").asBoolean()).as(run.describe()).isFalse();
      assertThat(out.path("error").asText())
          .as(run.describe())
          .matches("Reflect task args error: \\d+ is not int64");
      JsonNode member = out.path("tasks").get(0);
      assertThat(member.path("state").asText()).isEqualTo("SUCCESS");
      assertThat(member.path("results").get(0).path("Type").asText()).isEqualTo("int64");
      assertThat(member.path("results").get(0).path("Value").isTextual())
          .as("Go stores the result as text")
          .isTrue();
    }
  }

  @Test
  @Override
  void retryLater() {
    SqsInterop.retryLaterThroughGo(this);
  }

  @Test
  @Override
  void goInspectsPendingTasksJavaSent() {
    SqsInterop.goCannotListAnSqsQueue(this);
  }
}
