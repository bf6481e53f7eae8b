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
   * Uniqueness needs an atomic set-if-absent that also tells who holds the key: a queue of one
   * message with reject-publish sets atomically (the AMQP lock uses it), but reading the holder
   * with basic.get takes the message out of the count, letting a second claim in (RabbitMQ counts
   * ready messages only, checked on 3.10); and the duplicate's handle would steal states from the
   * first one's, since reading a state consumes it. So the AMQP backend refuses unique tasks.
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
