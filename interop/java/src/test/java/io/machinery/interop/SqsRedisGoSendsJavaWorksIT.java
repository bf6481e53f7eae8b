package io.machinery.interop;

import org.junit.jupiter.api.Test;

/**
 * Go sends, Java works: SQS broker (ElasticMQ), Redis result backend. Two scenarios differ from the
 * other brokers: SQS cannot show a delayed retry while it waits (so the retry test checks Go's
 * counters through the results and run counts), and neither side can list an SQS queue (Go's
 * GetPendingTasks is "Not implemented").
 */
class SqsRedisGoSendsJavaWorksIT extends GoSendsJavaWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.SQS_REDIS;
  }

  @Test
  @Override
  void automaticRetryRepublishesWithGoCountersAndDelays() {
    SqsInterop.javaRunsGoRetries(this);
  }

  @Test
  @Override
  void javaInspectsPendingTasksGoSent() {
    SqsInterop.javaCannotListAnSqsQueue(this);
  }
}
