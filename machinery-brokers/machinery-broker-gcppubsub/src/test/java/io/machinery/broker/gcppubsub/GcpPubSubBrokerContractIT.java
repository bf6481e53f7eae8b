package io.machinery.broker.gcppubsub;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import org.junit.jupiter.api.AfterAll;

class GcpPubSubBrokerContractIT extends BrokerContract {
  private static final String PROJECT = PubSubTestSupport.project();

  @Override
  protected Broker createBroker(Config config) {
    return PubSubTestSupport.broker(PubSubTestSupport.config(config, PROJECT)).build();
  }

  @Override
  protected boolean supportsDelayedTaskInspection() {
    return false;
  }

  @AfterAll
  static void deleteProject() throws Exception {
    PubSubTestSupport.deleteProject(PROJECT);
  }
}
