package io.machinery.lock.redis;

import io.machinery.config.Config;
import io.machinery.spi.Lock;
import io.machinery.testkit.LockContract;
import io.machinery.testkit.TestEndpoints;

/** The lock contract against the 3-master Redis Cluster. */
class RedisClusterLockIT extends LockContract {
  @Override
  protected Lock createLock() {
    return RedisLock.create(Config.builder().lock(TestEndpoints.redisClusterUrl()).build());
  }
}
