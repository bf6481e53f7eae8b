package io.machinery.testkit;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Clock;

/** The fault suite on the embedded default: memory broker and memory backend. */
class MemoryFaultTest extends FaultSuite {
  @Override
  protected Broker createBroker(Config config) {
    return MemoryBroker.create(config, Clock.systemUTC());
  }

  @Override
  protected Backend createBackend(Config config) {
    return MemoryBackend.create(config, Clock.systemUTC());
  }
}
