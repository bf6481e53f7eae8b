package io.machinery.broker.sqs;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Path;

/**
 * The kill tests' deployment on SQS (ElasticMQ): SQS broker, Redis backend, {@link
 * SqsChildWorkerMain} at concurrency {@value #CONCURRENCY} in the child JVMs, a visibility timeout
 * of {@value #VISIBILITY_SECONDS} s; the queues are deleted afterwards.
 */
final class SqsChildWorkers implements ChildWorkerDeployment {
  static final int VISIBILITY_SECONDS = 5;
  static final int CONCURRENCY = 10;

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
