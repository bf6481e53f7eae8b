package io.machinery.cli;

import io.machinery.Machinery;
import io.machinery.Server;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.util.Map;

/**
 * The command end to end on RabbitMQ (AMQP broker and backend; the control plane is the AMQP backend's, the
 * inspector reads the management API at the broker's host), built from URLs by {@link Machinery#connect}.
 */
class AmqpCliIT extends CliScenario {
  private final String url = TestEndpoints.amqpUrl();

  @Override
  CliRunner cli() {
    return new CliRunner(Map.of("BROKER", url, "RESULT_BACKEND", url, "DEFAULT_QUEUE", queue), Machinery::connect, false);
  }

  @Override
  Server workerServer() {
    return Machinery.connect(Config.builder().broker(url).resultBackend(url).defaultQueue(queue).build());
  }

  @Override
  boolean hasControlPlane() {
    return true;
  }
}
