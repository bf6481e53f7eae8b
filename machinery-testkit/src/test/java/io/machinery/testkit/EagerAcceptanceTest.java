package io.machinery.testkit;

import io.machinery.config.Config;
import io.machinery.embedded.EagerBackend;
import io.machinery.embedded.EagerBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;

/** The acceptance suite on Go's eager pair: every task runs inside sendTask. */
class EagerAcceptanceTest extends AcceptanceSuite {
  @Override
  protected Broker createBroker(Config config) {
    return EagerBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return EagerBackend.create();
  }

  @Override
  protected boolean brokerHonoursEta() {
    return false;
  }

  @Override
  protected boolean brokerRequeues() {
    return false;
  }
}
