package io.machinery.backend.redis;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import io.machinery.testkit.TestEndpoints;
import java.time.Clock;

/** Go's integration scenarios with the embedded memory broker and the Redis backend. */
class MemoryBrokerRedisBackendAcceptanceIT extends AcceptanceSuite {
  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return MemoryBroker.create(config, Clock.systemUTC());
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }
}
