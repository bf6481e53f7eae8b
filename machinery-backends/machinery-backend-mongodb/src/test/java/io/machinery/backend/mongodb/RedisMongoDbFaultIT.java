package io.machinery.backend.mongodb;

import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.FaultSuite;
import io.machinery.testkit.TestEndpoints;

/** The fault suite on the Redis broker with results in MongoDB. */
class RedisMongoDbFaultIT extends FaultSuite {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.redisUrl())
        .resultBackend(TestEndpoints.mongodbUri())
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return MongoDbBackend.create(config);
  }
}
