package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.FaultSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;

/** The fault suite on the Pub/Sub broker (the pstest emulator) with results in Redis. */
class GcpPubSubRedisFaultIT extends FaultSuite {
  private static final String PROJECT = PubSubTestSupport.project();

  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return PubSubTestSupport.broker(PubSubTestSupport.config(config, PROJECT)).build();
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
