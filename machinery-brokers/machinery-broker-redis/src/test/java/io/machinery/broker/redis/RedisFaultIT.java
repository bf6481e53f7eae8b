package io.machinery.broker.redis;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.FaultSuite;
import io.machinery.testkit.TestEndpoints;
import java.util.UUID;

/** The fault suite on Redis: the Redis broker and the Redis backend on one Redis server. */
class RedisFaultIT extends FaultSuite {
  @Override
  protected Config baseConfig() {
    String redis = TestEndpoints.redisUrl();
    // a delayed set of its own: messages without a RoutingKey go to the default queue of whichever
    // worker promotes them
    return Config.builder()
        .broker(redis)
        .resultBackend(redis)
        .redis(
            RedisConfig.DEFAULT.withDelayedTasksKey(
                "delayed_fault_it_" + UUID.randomUUID().toString().substring(0, 8)))
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }
}
