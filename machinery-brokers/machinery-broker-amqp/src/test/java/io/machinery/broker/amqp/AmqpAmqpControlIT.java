package io.machinery.broker.amqp;

import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryControlPlane;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.ControlPlane;
import io.machinery.testkit.ControlSuite;
import io.machinery.testkit.TestEndpoints;
import java.time.Clock;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/**
 * The control features with Go's all-AMQP setup. Neither keeps a control plane, so the servers of a
 * test share a {@link MemoryControlPlane} (a deployment would give them the Redis one).
 */
class AmqpAmqpControlIT extends ControlSuite {
  private final ControlPlane plane = MemoryControlPlane.create(Clock.systemUTC());

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

  @Override
  protected Optional<ControlPlane> sharedControlPlane() {
    return Optional.of(plane);
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
