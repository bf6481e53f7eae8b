package io.machinery.broker.redis;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import io.machinery.testkit.TestEndpoints;

/**
 * Go's integration scenarios with the Redis broker and the Redis backend on the 3-master Redis
 * Cluster.
 */
class RedisClusterAcceptanceIT extends AcceptanceSuite {
  @Override
  protected Config baseConfig() {
    String cluster = TestEndpoints.redisClusterUrl();
    return Config.builder().broker(cluster).resultBackend(cluster).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }
}
