package io.machinery.broker.redis;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;

/** The broker contract against a single Redis server. */
class RedisBrokerIT extends BrokerContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().broker(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }
}
