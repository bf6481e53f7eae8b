package io.machinery.testkit;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.Backend;
import java.time.Clock;

class MemoryBackendContractTest extends BackendContract {
  @Override
  protected Backend createBackend(Config config) {
    return MemoryBackend.create(config, Clock.systemUTC());
  }

  @Override
  protected boolean separateInstancesShareState() {
    return false; // each instance is a store of its own
  }
}
