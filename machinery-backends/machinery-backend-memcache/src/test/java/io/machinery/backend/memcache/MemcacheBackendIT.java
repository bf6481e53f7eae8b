package io.machinery.backend.memcache;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.TestEndpoints;

/** The backend contract against the memcached of the test services ({@code MEMCACHE_ADDR}). */
class MemcacheBackendIT extends BackendContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend("memcache://" + TestEndpoints.memcacheAddr()).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return MemcacheBackend.create(config);
  }

  /** Go's Memcache backend replaces a state whole: RECEIVED has no TaskName or CreatedAt. */
  @Override
  protected boolean carriesTaskNameForward() {
    return false;
  }
}
