package io.machinery.broker.gcppubsub;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.testkit.InspectorContract;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The inspector contract on the Pub/Sub test server: pending tasks and dead letters listed,
 * repaired and purged; sizes and delayed listings refused (Pub/Sub's API has neither).
 */
class GcpPubSubInspectorContractIT extends InspectorContract {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();

  @Override
  protected Broker createBroker(Config config) {
    return pubsub.broker(config);
  }

  @Override
  protected boolean countsSizes() {
    return false;
  }

  @Override
  protected boolean listsDelayed() {
    return false;
  }
}
