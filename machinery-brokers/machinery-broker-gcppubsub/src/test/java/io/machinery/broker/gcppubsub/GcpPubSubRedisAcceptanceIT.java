package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;

/**
 * Go's integration scenarios on the Pub/Sub broker with results in Redis (Go's gcppubsub + redis
 * pair).
 */
class GcpPubSubRedisAcceptanceIT extends AcceptanceSuite {
  private static final String PROJECT = PubSubTestSupport.project();

  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return PubSubTestSupport.broker(PubSubTestSupport.config(config, PROJECT)).build();
  }

  /**
   * Pub/Sub hands a message to any of the subscription's streams, not to its subscribers in turn.
   */
  @Override
  protected int deliveriesToReachTheOtherWorker() {
    return 10;
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @AfterAll
  static void deleteProject() throws Exception {
    PubSubTestSupport.deleteProject(PROJECT);
  }
}
