package io.machinery.backend.redis;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.TestEndpoints;

/** The backend contract against a single Redis server. */
class RedisBackendIT extends BackendContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }
}
