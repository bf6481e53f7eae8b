package io.machinery.backend.memcache;

import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.ChordExactlyOnceKit;
import io.machinery.testkit.TestEndpoints;

/**
 * Chords fire once under four racing workers, with results in memcached (Go's trigger fires some
 * twice).
 */
class MemcacheChordExactlyOnceIT extends ChordExactlyOnceKit {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.redisUrl())
        .resultBackend("memcache://" + TestEndpoints.memcacheAddr())
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return MemcacheBackend.create(config);
  }
}
