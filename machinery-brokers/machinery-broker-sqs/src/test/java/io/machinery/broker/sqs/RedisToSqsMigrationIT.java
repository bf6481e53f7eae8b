package io.machinery.broker.sqs;

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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;

/**
 * A cluster moving from the Redis broker to SQS (ElasticMQ): the {@link MigratingBroker} between
 * the two real servers passes the broker and inspector contracts and the migration kit.
 */
class RedisToSqsMigrationIT {

  private static Config sqsConfig() {
    return SqsTestQueues.config().resultBackend(TestEndpoints.redisUrl()).build();
  }

  private static Broker redis(Config config) {
    return RedisBroker.create(config.toBuilder().broker(TestEndpoints.redisUrl()).build());
  }

  private static Broker migrating(Config config) {
    return MigratingBroker.of(redis(config), SqsTestQueues.broker(config));
  }

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }

  @Nested
  class Contract extends BrokerContract {
    @Override
    protected Config baseConfig() {
      return sqsConfig();
    }

    @Override
    protected Broker createBroker(Config config) {
      return migrating(config);
    }

    @Override
    protected boolean supportsPendingTaskInspection() {
      return false; // SQS cannot list a queue
    }

    @Override
    protected boolean deliversInPublishOrder() {
      return false;
    }

    @Override
    protected boolean supportsDelayedTaskInspection() {
      return false;
    }

    @AfterEach
    void trackQueue() {
      SqsTestQueues.track(config.defaultQueue());
      SqsTestQueues.track(config.defaultQueue() + "_custom");
    }
  }

  @Nested
  class Inspection extends InspectorContract {
    @Override
    protected Config baseConfig() {
      return sqsConfig();
    }

    @Override
    protected Broker createBroker(Config config) {
      return migrating(config);
    }

    @Override
    protected boolean listsPending() {
      return false;
    }

    @Override
    protected boolean listsDelayed() {
      return false;
    }

    @AfterEach
    void trackQueue() {
      SqsTestQueues.track(config.defaultQueue());
    }
  }

  @Nested
  class Migration extends BrokerMigrationKit {
    @Override
    protected Config baseConfig() {
      return sqsConfig();
    }

    @Override
    protected Broker createOldBroker(Config config) {
      return redis(config);
    }

    @Override
    protected Broker createNewBroker(Config config) {
      return SqsTestQueues.broker(config);
    }

    @Override
    protected Backend createBackend(Config config) {
      return RedisBackend.create(config);
    }

    @AfterEach
    void trackQueue() {
      SqsTestQueues.track(config.defaultQueue());
    }
  }
}
