package io.machinery.broker.sqs;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import java.time.Clock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/** Go's integration scenarios on the SQS broker (ElasticMQ) with results kept in this JVM. */
class SqsMemoryAcceptanceIT extends AcceptanceSuite {
  @Override
  protected Config baseConfig() {
    return SqsTestQueues.config().build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsTestQueues.broker(config);
  }

  /** ElasticMQ serves the oldest waiting receive: see the capability's note. */
  @Override
  protected boolean mayKeepReturningATaskToTheWorkerThatHandedItBack() {
    return true;
  }

  @Override
  protected Backend createBackend(Config config) {
    return MemoryBackend.create(config, Clock.systemUTC());
  }

  @AfterEach
  void trackQueue() {
    SqsTestQueues.track(config.defaultQueue());
  }

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }
}
