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
   * Each AMQP heartbeat asks the management API for the paused queues; on a RabbitMQ holding tens
   * of thousands of queues (the shared test server) that takes seconds, so a 100 ms heartbeat's
   * status (living 300 ms) lapses before it is read. Seen here; reported to the AMQP control
   * plane's owner.
   */
  @Override
  Duration heartbeat() {
    return Duration.ofSeconds(3);
  }
}
