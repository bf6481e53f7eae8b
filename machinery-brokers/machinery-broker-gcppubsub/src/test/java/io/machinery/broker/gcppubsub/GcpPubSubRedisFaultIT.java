package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.FaultSuite;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The fault suite on the Pub/Sub broker (the pstest emulator) with results in Redis. */
class GcpPubSubRedisFaultIT extends FaultSuite {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();

  @Override
  protected Config baseConfig() {
    return PubSubTestProject.redisResults();
  }

  @Override
  protected Broker createBroker(Config config) {
    return pubsub.broker(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }
}
