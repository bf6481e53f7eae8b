package io.machinery.broker.sqs;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

class SqsBrokerContractIT extends BrokerContract {
  @Override
  protected Config baseConfig() {
    return SqsTestQueues.config().build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsTestQueues.broker(config);
  }

  @Override
  protected boolean supportsPendingTaskInspection() {
    return false;
  }

  /** Standard queues order best-effort; ElasticMQ reorders messages sent within one millisecond. */
  @Override
  protected boolean deliversInPublishOrder() {
    return false;
  }

  @Override
  protected boolean supportsDelayedTaskInspection() {
    return false;
  }

  @AfterEach
  void trackQueue() {
    SqsTestQueues.track(config.defaultQueue());
    SqsTestQueues.track(config.defaultQueue() + "_custom");
  }

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }
}
