package io.machinery.broker.amqp;

import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.ControlSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/**
 * The control features with Go's all-AMQP setup: cancelling travels through the AMQP backend's
 * control plane (its ledger in RabbitMQ), each server of a test over connections of its own.
 */
class AmqpAmqpControlIT extends ControlSuite {

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
  protected Backend createBackend(Config config) {
    return AmqpBackend.create(config);
  }

  /**
   * Uniqueness needs an atomic set-if-absent, which RabbitMQ's queues do not offer: refused
   * clearly.
   */
  @Override
  protected boolean backendKeepsUniqueKeys() {
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
