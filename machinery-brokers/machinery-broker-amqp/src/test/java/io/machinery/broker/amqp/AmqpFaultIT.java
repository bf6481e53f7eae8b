package io.machinery.broker.amqp;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.FaultSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/** The fault suite on the AMQP broker with results in Redis. */
class AmqpFaultIT extends FaultSuite {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.redisUrl())
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return AmqpBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @AfterEach
  void trackQueue() {
    RabbitAdmin.track(config.defaultQueue());
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }
}
