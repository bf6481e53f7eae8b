package io.machinery.backend.mongodb;

import io.machinery.broker.redis.RedisBroker;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The kill tests' deployment on the Redis broker with results in MongoDB: {@link
 * RedisMongoDbChildWorkerMain} at concurrency {@value #CONCURRENCY} and a lease of {@link #LEASE}
 * in the child JVMs (a killed worker's messages come back once its lease lapses); the queue's Redis
 * keys are deleted afterwards, the MongoDB documents by the kits' purges.
 */
final class RedisMongoDbChildWorkers implements ChildWorkerDeployment {
  static final int CONCURRENCY = 10;

  /** The Redis broker's lease in the children: a dead worker's tasks come back 2 s later. */
  static final Duration LEASE = Duration.ofSeconds(2);

  @Override
  public Config uniqueConfig(String queuePrefix) {
    return BrokerContract.uniqueQueue(
        Config.builder()
            .broker(TestEndpoints.redisUrl())
            .resultBackend(TestEndpoints.mongodbUri())
            .build(),
        queuePrefix);
  }

  @Override
  public Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }

  @Override
  public Backend createBackend(Config config) {
    return MongoDbBackend.create(config);
  }

  @Override
  public Class<?> childMain() {
    return RedisMongoDbChildWorkerMain.class;
  }

  @Override
  public String[] childArgs(Config config, Path executions) {
    return new String[] {
      config.broker(),
      config.resultBackend(),
      config.defaultQueue(),
      Integer.toString(CONCURRENCY),
      Long.toString(LEASE.toMillis()),
      executions.toString()
    };
  }

  @Override
  public void cleanUp(Config config) {
    String queue = config.defaultQueue();
    try (RedisSession redis = RedisSession.open(config.broker(), config)) {
      List<String> keys = new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
      keys.add(queue);
      redis.await(redis.commands().del(keys.toArray(new String[0])));
    }
  }
}
