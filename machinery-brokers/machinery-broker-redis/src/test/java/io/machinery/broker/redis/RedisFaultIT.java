package io.machinery.broker.redis;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.FaultSuite;
import io.machinery.testkit.TestEndpoints;

/** The fault suite on Redis: the Redis broker and the Redis backend on one Redis server. */
class RedisFaultIT extends FaultSuite {
  @Override
  protected Config baseConfig() {
    String redis = TestEndpoints.redisUrl();
    return Config.builder().broker(redis).resultBackend(redis).build();
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
