package io.machinery.broker.redis;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.ChordKillKit;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link ChordKillKit} on the Redis broker and backend: worker processes ({@link
 * KillableWorkerMain}, lease {@link WorkerKilledIT#LEASE}) killed with SIGKILL every few seconds
 * during 1,000 chords of 20 members. A dead worker's messages come back after its lease; a re-run
 * member whose chord was triggered but whose callback has no state sends it (F4).
 */
class RedisChordKillIT extends ChordKillKit {
  RedisChordKillIT() {
    super(new ChildWorkers());
  }

  /**
   * Redis broker and backend, {@link KillableWorkerMain} in the child JVMs; {@link RedisDagKillIT}
   * runs on it too.
   */
  static final class ChildWorkers implements ChildWorkerDeployment {
    @Override
    public Config uniqueConfig(String queuePrefix) {
      return BrokerContract.uniqueQueue(
          Config.builder()
              .broker(TestEndpoints.redisUrl())
              .resultBackend(TestEndpoints.redisUrl())
              .build(),
          queuePrefix);
    }

    @Override
    public Broker createBroker(Config config) {
      return RedisBroker.create(config);
    }

    @Override
    public Backend createBackend(Config config) {
      return RedisBackend.create(config);
    }

    @Override
    public Class<?> childMain() {
      return KillableWorkerMain.class;
    }

    @Override
    public String[] childArgs(Config config, Path executions) {
      return new String[] {
        config.broker(),
        config.defaultQueue(),
        config.defaultQueue() + "_runs",
        "10",
        Long.toString(WorkerKilledIT.LEASE.toMillis()),
        executions.toString()
      };
    }

    @Override
    public void cleanUp(Config config) {
      String queue = config.defaultQueue();
      try (RedisSession redis = RedisSession.open(config.broker(), config)) {
        List<String> keys =
            new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
        keys.add(queue);
        keys.add(queue + "_runs");
        redis.await(redis.commands().del(keys.toArray(new String[0])));
      }
    }
  }
}
