package io.machinery.broker.redis;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;

/** The broker contract against the 3-master Redis Cluster. */
class RedisClusterBrokerIT extends BrokerContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().broker(TestEndpoints.redisClusterUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }
}
