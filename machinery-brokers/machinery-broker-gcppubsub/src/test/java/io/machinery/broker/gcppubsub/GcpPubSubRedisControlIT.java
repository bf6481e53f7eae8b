package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.ControlSuite;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The control features on the Pub/Sub broker (emulator) with the Redis backend, whose control plane
 * carries pauses and cancellations between the servers of a test.
 */
class GcpPubSubRedisControlIT extends ControlSuite {
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
