package io.machinery.backend.amqp;

import io.machinery.config.Config;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * What every test of the AMQP backend against the test RabbitMQ starts from: the tests' setting, a
 * backend that stands for this worker, and RabbitMQ's side to look at and clean up, all closed
 * after each test. RabbitMQ lists the side's connection under the test class's name.
 */
abstract class AmqpBackendFixture {
  Config config;
  AmqpBackend backend;
  RabbitSide rabbit;

  @BeforeEach
  void openBackendAndRabbitSide() throws Exception {
    config = AmqpBackendTesting.testConfig();
    backend = AmqpBackend.create(config);
    rabbit = RabbitSide.open(getClass().getSimpleName());
  }

  @AfterEach
  void closeBackendAndRabbitSide() throws Exception {
    backend.close();
    rabbit.close();
  }
}
