package io.machinery.broker.redis;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.InspectorContract;
import io.machinery.testkit.TestEndpoints;

/** The inspector contract against a 3-master Redis Cluster. */
class RedisClusterInspectorIT extends InspectorContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().broker(TestEndpoints.redisClusterUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }
}
