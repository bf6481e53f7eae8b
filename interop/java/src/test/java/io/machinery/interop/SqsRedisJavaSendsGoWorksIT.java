package io.machinery.interop;

import org.junit.jupiter.api.Test;

/**
 * Java sends, Go works: SQS broker (ElasticMQ), Redis result backend. SQS cannot show a delayed
 * retry while it waits, so the retry test checks the outcome and the retry delays' total; Go cannot
 * list an SQS queue.
 */
class SqsRedisJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.SQS_REDIS;
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

  @Test
  void aStoppedGoWorkerLeavesNoReceiveOpen() {
    SqsInterop.aStoppedGoWorkerLeavesNoReceiveOpen(this);
  }
}
