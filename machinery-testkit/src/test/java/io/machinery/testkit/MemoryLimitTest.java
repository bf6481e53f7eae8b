package io.machinery.testkit;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Clock;

/** Task limits and priorities on the embedded default: memory broker and backend. */
class MemoryLimitTest extends LimitSuite {
  @Override
  protected Broker createBroker(Config config) {
    return MemoryBroker.create(config, Clock.systemUTC());
  }

  @Override
  protected Backend createBackend(Config config) {
    return MemoryBackend.create(config, Clock.systemUTC());
  }

  @Override
  protected boolean sharesTurnsBetweenFairnessKeys() {
    return true;
  }

  @Override
  protected boolean separateInstancesShareState() {
    return false;
  }
}
