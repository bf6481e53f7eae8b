package io.machinery.testkit;

import io.machinery.MigratingBackend;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.Backend;
import java.time.Clock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Nested;

/**
 * A {@link MigratingBackend} between two memory backends: the backend contract, and the migration
 * kit (whose two handles on each backend, and the two servers' brokers, are one memory object each
 * here, as two clients of one server would be).
 */
class MemoryBackendMigrationTest {

  @Nested
  class Contract extends BackendContract {
    @Override
    protected Backend createBackend(Config config) {
      return MigratingBackend.of(
          MemoryBackend.create(config, Clock.systemUTC()),
          MemoryBackend.create(config, Clock.systemUTC()));
    }

    @Override
    protected boolean separateInstancesShareState() {
      return false; // each instance is a store of its own
    }
  }

  @Nested
  class Migration extends BackendMigrationKit {
    private @Nullable MemoryBackend old;
    private @Nullable MemoryBackend fresh;

    @Override
    protected Config baseConfig() {
      return Config.DEFAULT;
    }

    @Override
    protected Backend createOldBackend(Config config) {
      if (old == null) {
        old = MemoryBackend.create(config, Clock.systemUTC());
      }
      return old;
    }

    @Override
    protected Backend createNewBackend(Config config) {
      if (fresh == null) {
        fresh = MemoryBackend.create(config, Clock.systemUTC());
      }
      return fresh;
    }
  }
}
