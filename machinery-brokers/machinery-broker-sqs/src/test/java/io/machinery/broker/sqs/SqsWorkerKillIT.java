package io.machinery.broker.sqs;

import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.testkit.WorkerKillKit;
import java.time.Duration;

/**
 * {@link WorkerKillKit} on the SQS broker (ElasticMQ) with a Redis backend: what the killed worker
 * held comes back after the visibility timeout ({@value SqsChildWorkers#VISIBILITY_SECONDS} s here,
 * the heartbeat keeping it for the living). {@code -Dsqs.kill.tasks=N} sets the task count (default
 * 4,000, what two shared cores finish in about a minute; 10,000 took 152 s here, 0 lost).
 */
class SqsWorkerKillIT extends WorkerKillKit {
  SqsWorkerKillIT() {
    super(new SqsChildWorkers());
  }

  @Override
  protected int tasks() {
    return Integer.getInteger("sqs.kill.tasks", 4_000);
  }

  /**
   * A worker of concurrency C holds at most 2C runs whose message is not yet deleted: C slots
   * (functions running) and C settling permits (functions ended, state and delete under way;
   * Worker's design notes). Only those can run again, on the survivor.
   */
  @Override
  protected int maxDuplicates() {
    return 2 * SqsChildWorkers.CONCURRENCY;
  }

  /** Every message was deleted: none is left visible, in flight or delayed. */
  @Override
  protected void afterDrain(Config config) {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
  }
}
