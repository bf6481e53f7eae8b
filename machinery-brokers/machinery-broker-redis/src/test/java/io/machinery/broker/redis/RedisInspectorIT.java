package io.machinery.broker.redis;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.InspectorContract;
import io.machinery.testkit.TestEndpoints;

/** The inspector contract against a single Redis server. */
class RedisInspectorIT extends InspectorContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().broker(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }
}
