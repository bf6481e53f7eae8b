package io.machinery.testkit;

import io.machinery.config.Config;
import io.machinery.embedded.EagerBackend;
import io.machinery.spi.Backend;

class EagerBackendContractTest extends BackendContract {
  @Override
  protected Backend createBackend(Config config) {
    return EagerBackend.create();
  }

  @Override
  protected boolean separateInstancesShareState() {
    return false; // each instance is a store of its own
  }

  @Override
  protected boolean carriesTaskNameForward() {
    return false; // Go's eager backend replaces each state whole
  }
}
