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

  /**
   * Revoked tasks (Server.cancel) need another control plane beside an AMQP-only deployment (see
   * the README).
   */
  @Override
  protected boolean keepsRevokedTasks() {
    return false;
  }

  /** Task events (Worker.Builder.taskEvents) need the Redis or the memory control plane. */
  @Override
  protected boolean keepsTaskEvents() {
    return false;
  }

  /** Task limits set at run time need the Redis or the memory control plane. */
  @Override
  protected boolean keepsTaskLimits() {
    return false;
  }

  /** Breaker openings (Inspection.openBreaker, shared breakers) too. */
  @Override
  protected boolean keepsBreakerOpenings() {
    return false;
  }
}
