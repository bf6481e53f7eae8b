package io.machinery.broker.gcppubsub;

import io.machinery.MigratingBroker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.BrokerMigrationKit;
import io.machinery.testkit.InspectorContract;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A cluster moving from the Redis broker to Pub/Sub (the emulator): the {@link MigratingBroker}
 * between the two real servers passes the broker and inspector contracts and the migration kit.
 */
class RedisToGcpPubSubMigrationIT {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();

  private static Broker redis(Config config) {
    return RedisBroker.create(config.toBuilder().broker(TestEndpoints.redisUrl()).build());
  }

  private static Broker pubSub(Config config) {
    return pubsub.broker(config);
  }

  private static Broker migrating(Config config) {
    return MigratingBroker.of(redis(config), pubSub(config));
  }

  private static Config redisBackend() {
    return PubSubTestProject.redisResults();
  }

  @Nested
  class Contract extends BrokerContract {
    @Override
    protected Config baseConfig() {
      return redisBackend();
    }

    @Override
    protected Broker createBroker(Config config) {
      return migrating(config);
    }

    @Override
    protected boolean supportsDelayedTaskInspection() {
      return false; // Pub/Sub keeps delays in a topic it cannot list
    }
  }

  @Nested
  class Inspection extends InspectorContract {
    @Override
    protected Config baseConfig() {
      return redisBackend();
    }

    @Override
    protected Broker createBroker(Config config) {
      return migrating(config);
    }

    @Override
    protected boolean countsSizes() {
      return false;
    }

    @Override
    protected boolean listsDelayed() {
      return false;
    }
  }

  @Nested
  class Migration extends BrokerMigrationKit {
    @Override
    protected Config baseConfig() {
      return redisBackend();
    }

    @Override
    protected Broker createOldBroker(Config config) {
      return redis(config);
    }

    @Override
    protected Broker createNewBroker(Config config) {
      return pubSub(config);
    }

    @Override
    protected Backend createBackend(Config config) {
      return RedisBackend.create(config);
    }

    @Override
    protected boolean newBrokerShowsDelayedTasks() {
      return false;
    }
  }
}
