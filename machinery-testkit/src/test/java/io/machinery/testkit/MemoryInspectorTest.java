package io.machinery.testkit;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import java.time.Clock;

/** The memory broker's inspector passes the contract. */
class MemoryInspectorTest extends InspectorContract {
  @Override
  protected Broker createBroker(Config config) {
    return MemoryBroker.create(config, Clock.systemUTC());
  }
}
