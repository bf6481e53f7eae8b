package io.machinery.interop;

import org.junit.jupiter.api.Test;

/**
 * Java sends, Go works: SQS broker (ElasticMQ), DynamoDB result backend (dynalite, Go's default tables). Go
 * writes results as {@code %v} texts; Java reads them back by type, so every scenario's values are checked.
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
