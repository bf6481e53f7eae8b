package io.machinery.interop;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Java sends, Go works: SQS broker (ElasticMQ), DynamoDB result backend (dynalite, Go's default tables). Go
 * writes results as {@code %v} texts; Java reads them back by type, so every scenario's values are checked.
 *
 * <p>Known limitation of Go, not of this library: a chord whose callback runs on a Go worker cannot work with Go's
 * DynamoDB backend. Go stores results as text ({@code fmt.Sprintf("%v")}) and hands them back as the callback's
 * arguments, so Go fails the callback ("Reflect task args error: 2 is not int64"), keeps its SQS message, and its
 * consumer restarts on every redelivery. A Java worker reads those values by type, so the same chords pass on
 * Java workers ({@code SqsDynamoDbAcceptanceIT}). The opposite direction (Go sends and reads results) is left out
 * for the same reason: Go's own AsyncResult cannot read non-string results from DynamoDB (spec §4.5).
 */
class SqsDynamoDbJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
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
  @Disabled("Go's DynamoDB backend hands a chord callback its arguments as text; see the class Javadoc")
  @Override
  void chord() {}

  @Test
  @Disabled("Go's DynamoDB backend hands a chord callback its arguments as text; see the class Javadoc")
  @Override
  void chordSharedByGoAndJavaWorkers() {}

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
