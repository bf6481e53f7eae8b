package io.machinery.testkit;

import io.machinery.MigratingBroker;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Clock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Nested;

/**
 * A {@link MigratingBroker} between two memory brokers: the broker and inspector contracts, and the
 * migration kit (whose two handles on the old broker are one memory broker here, as two clients of
 * one server would be).
 */
class MemoryMigrationTest {

  private static Broker memoryPair(Config config) {
    return MigratingBroker.of(
        MemoryBroker.create(config, Clock.systemUTC()),
        MemoryBroker.create(config, Clock.systemUTC()));
  }

  @Nested
  class Contract extends BrokerContract {
    @Override
    protected Broker createBroker(Config config) {
      return memoryPair(config);
    }
  }

  @Nested
  class Inspection extends InspectorContract {
    @Override
    protected Broker createBroker(Config config) {
      return memoryPair(config);
    }
  }

  @Nested
  class Migration extends BrokerMigrationKit {
    private @Nullable MemoryBroker old;

    @Override
    protected Config baseConfig() {
      return Config.DEFAULT;
    }

    @Override
    protected Broker createOldBroker(Config config) {
      if (old == null) {
        old = MemoryBroker.create(config, Clock.systemUTC());
      }
      return old;
    }

    @Override
    protected Broker createNewBroker(Config config) {
      return MemoryBroker.create(config, Clock.systemUTC());
    }

    @Override
    protected Backend createBackend(Config config) {
      return MemoryBackend.create(config, Clock.systemUTC());
    }
  }
}
