package io.machinery.lock.redis;

import io.machinery.config.Config;
import io.machinery.spi.Lock;
import io.machinery.testkit.LockContract;
import io.machinery.testkit.TestEndpoints;

/** The lock contract against a single Redis server. */
class RedisLockIT extends LockContract {
  @Override
  protected Lock createLock() {
    return RedisLock.create(Config.builder().lock(TestEndpoints.redisUrl()).build());
  }
}
