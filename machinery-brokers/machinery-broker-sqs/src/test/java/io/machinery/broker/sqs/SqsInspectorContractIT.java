package io.machinery.broker.sqs;

import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Broker;
import io.machinery.testkit.InspectorContract;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/** The inspector contract on ElasticMQ: sizes, dead letters and purge; task listings refused. */
class SqsInspectorContractIT extends InspectorContract {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.sqsUrl())
        .sqs(new SqsConfig(1, null, false))
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsBroker.builder(config).createQueues(true).build();
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
