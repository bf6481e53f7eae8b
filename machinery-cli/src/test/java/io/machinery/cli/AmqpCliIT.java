package io.machinery.cli;

import io.machinery.testkit.TestEndpoints;

/**
 * The command end to end on RabbitMQ (AMQP broker and backend; the control plane is the AMQP backend's, the
 * inspector reads the management API at the broker's host).
 */
class AmqpCliIT extends UrlCliScenario {
  @Override
  String url() {
    return TestEndpoints.amqpUrl();
  }
}
