package io.machinery.broker.sqs;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.InspectorContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/** The inspector contract on ElasticMQ: sizes, dead letters and purge; task listings refused. */
class SqsInspectorContractIT extends InspectorContract {
  @Override
  protected Config baseConfig() {
    return SqsTestQueues.config().build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsTestQueues.broker(config);
  }

  @Override
  protected boolean listsPending() {
    return false;
  }

  @Override
  protected boolean listsDelayed() {
    return false;
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
