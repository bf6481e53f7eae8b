package io.machinery.backend.amqp;

import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.testkit.ControlPlaneContract;
import io.machinery.testkit.TestEndpoints;

/**
 * The control-plane contract on the real RabbitMQ (state in control queues, listed through the
 * management API).
 */
class AmqpControlPlaneContractIT extends ControlPlaneContract {
  private AmqpBackend backend;

  @Override
  protected ControlPlane createControlPlane() {
    Config config =
        Config.builder()
            .broker(TestEndpoints.amqpUrl())
            .resultBackend(TestEndpoints.amqpUrl())
            .build();
    backend =
        AmqpBackend.builder(config).managementUrl(TestEndpoints.rabbitManagementUrl()).build();
    return backend.controlPlane().orElseThrow();
  }

  @Override
  protected void closeControlPlane() {
    backend.close();
  }

  /** Task events (Worker.Builder.taskEvents) need the Redis or the memory control plane. */
  @Override
  protected boolean keepsTaskEvents() {
    return false;
  }

  /**
   * Shared breakers' windows and trials need an atomic count, which a log of changes in RabbitMQ
   * does not give: the Redis or the memory control plane.
   */
  @Override
  protected boolean keepsBreakerWindows() {
    return false;
  }
}
