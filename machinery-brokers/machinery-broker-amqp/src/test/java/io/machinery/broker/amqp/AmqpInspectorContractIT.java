package io.machinery.broker.amqp;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.InspectorContract;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/** The inspector contract on the real RabbitMQ, its management API included. */
class AmqpInspectorContractIT extends InspectorContract {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.amqpUrl())
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return AmqpBroker.builder(config).managementUrl(TestEndpoints.rabbitManagementUrl()).build();
  }

  @AfterEach
  void deleteQueues() throws Exception {
    RabbitAdmin.track(config.defaultQueue());
    RabbitAdmin.deleteDelayQueuesOf(config.defaultQueue());
  }

  @AfterAll
  static void deleteTracked() throws Exception {
    RabbitAdmin.deleteTracked();
  }
}
