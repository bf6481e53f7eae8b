package io.machinery.cli;

import io.machinery.testkit.TestEndpoints;
import java.time.Duration;

/**
 * The command end to end on RabbitMQ (AMQP broker and backend; the control plane is the AMQP
 * backend's, the inspector reads the management API at the broker's host).
 */
class AmqpCliIT extends UrlCliScenario {
  @Override
  String url() {
    return TestEndpoints.amqpUrl();
  }

  /**
   * The AMQP control plane lists workers through the management API; on a RabbitMQ holding tens of
   * thousands of queues (the shared test server) a listing takes seconds, so a heartbeat of a few
   * seconds keeps a worker listed between two of them (the heartbeat itself reads its pause marker
   * with one passive declare).
   */
  @Override
  boolean keepsUniqueKeys() {
    return false; // why: AmqpAmqpControlIT#backendKeepsUniqueKeys
  }

  @Override
  boolean readsStates() {
    return false; // reading a state consumes it, as in Go
  }

  @Override
  Duration heartbeat() {
    return Duration.ofSeconds(3);
  }
}
