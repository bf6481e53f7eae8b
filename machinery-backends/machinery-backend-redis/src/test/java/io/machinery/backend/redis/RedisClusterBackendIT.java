package io.machinery.backend.redis;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.TestEndpoints;

/** The backend contract against the 3-master Redis Cluster. */
class RedisClusterBackendIT extends BackendContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(TestEndpoints.redisClusterUrl()).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }
}
