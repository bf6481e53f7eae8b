package io.machinery.broker.sqs;

import static org.awaitility.Awaitility.await;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.TestEndpoints;
import io.machinery.testkit.WorkerKillKit;
import java.nio.file.Path;
import java.time.Duration;

/**
 * {@link WorkerKillKit} on the SQS broker (ElasticMQ) with a Redis backend: what the killed worker
 * held comes back after the visibility timeout ({@value #VISIBILITY_SECONDS} s here, the heartbeat
 * keeping it for the living). {@code -Dsqs.kill.tasks=N} sets the task count (default 4,000, what
 * two shared cores finish in about a minute; 10,000 took 152 s here, 0 lost).
 */
class SqsWorkerKillIT extends WorkerKillKit {
  private static final int VISIBILITY_SECONDS = 5;
  private static final int CONCURRENCY = 10;

  SqsWorkerKillIT() {
    super(new ChildWorkers());
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
    return 2 * CONCURRENCY;
  }

  /** Every message was deleted: none is left visible, in flight or delayed. */
  @Override
  protected void afterDrain(Config config) {
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
  }

  /** SQS broker, Redis backend, {@link SqsChildWorkerMain} in the child JVMs. */
  private static final class ChildWorkers implements ChildWorkerDeployment {
    @Override
    public Config uniqueConfig(String queuePrefix) {
      return BrokerContract.uniqueQueue(
          Config.builder()
              .broker(TestEndpoints.sqsUrl())
              .resultBackend(TestEndpoints.redisUrl())
              .sqs(new SqsConfig(1, VISIBILITY_SECONDS, true))
              .build(),
          queuePrefix);
    }

    @Override
    public Broker createBroker(Config config) {
      SqsTestQueues.track(config.defaultQueue());
      return SqsTestQueues.broker(config);
    }

    @Override
    public Backend createBackend(Config config) {
      return RedisBackend.create(config);
    }

    @Override
    public Class<?> childMain() {
      return SqsChildWorkerMain.class;
    }

    @Override
    public String[] childArgs(Config config, Path executions) {
      return new String[] {
        config.broker(),
        config.resultBackend(),
        config.defaultQueue(),
        Integer.toString(CONCURRENCY),
        Integer.toString(VISIBILITY_SECONDS),
        executions.toString()
      };
    }

    @Override
    public void cleanUp(Config config) {
      SqsTestQueues.deleteTracked();
    }
  }
}
