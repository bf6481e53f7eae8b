package io.machinery.broker.amqp;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

class AmqpBrokerContractIT extends BrokerContract {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.amqpUrl())
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return AmqpBroker.create(config);
  }

  @Override
  protected boolean supportsDelayedTaskInspection() {
    return false;
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
