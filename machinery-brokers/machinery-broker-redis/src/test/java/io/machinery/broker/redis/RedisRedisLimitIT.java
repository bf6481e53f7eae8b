package io.machinery.broker.redis;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.lock.redis.RedisTaskLimiter;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.TaskLimiter;
import io.machinery.testkit.LimitSuite;
import io.machinery.testkit.TestEndpoints;

/**
 * Task limits and priorities with the Redis broker (priorities on), the Redis backend and the
 * cluster-wide Redis task limiter; "several processes" are separate connections and limiters.
 */
class RedisRedisLimitIT extends LimitSuite {
  @Override
  protected Config baseConfig() {
    String redis = TestEndpoints.redisUrl();
    return Config.builder().broker(redis).resultBackend(redis).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.builder(config).priorities(true).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Override
  protected TaskLimiter createLimiter() {
    return RedisTaskLimiter.create(config);
  }
}
