package io.machinery.broker.gcppubsub;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import org.junit.jupiter.api.extension.RegisterExtension;

class GcpPubSubBrokerContractIT extends BrokerContract {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();

  @Override
  protected Broker createBroker(Config config) {
    return pubsub.broker(config);
  }

  @Override
  protected boolean supportsDelayedTaskInspection() {
    return false;
  }
}
