package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Machinery;
import io.machinery.MigratingBroker;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.BrokerMigrationKit;
import io.machinery.testkit.InspectorContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * A cluster moving from the Redis broker to RabbitMQ: the {@link MigratingBroker} between the two
 * real servers passes the broker and inspector contracts and the migration kit.
 */
class RedisToAmqpMigrationIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private static Config amqpConfig() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.redisUrl())
        .build();
  }

  private static Broker redis(Config config) {
    return RedisBroker.create(config.toBuilder().broker(TestEndpoints.redisUrl()).build());
  }

  private static Broker amqp(Config config) {
    return AmqpBroker.builder(config).managementUrl(TestEndpoints.rabbitManagementUrl()).build();
  }

  private static Broker migrating(Config config) {
    return MigratingBroker.of(redis(config), amqp(config));
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  /**
   * The README's example: a server configured to move from Redis to RabbitMQ runs what a process
   * not yet moved left in Redis and sends its own tasks to RabbitMQ.
   */
  @Test
  void theReadmeExampleRunsWhatIsLeftInRedisAndSendsToRabbitMq() {
    String redisUrl = TestEndpoints.redisUrl();
    String rabbitMqUrl = TestEndpoints.amqpUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redisUrl).resultBackend(redisUrl).build(), "readme_");
    RabbitAdmin.track(config.defaultQueue());
    List<Object> out = new ArrayList<>();
    try (Server notYetMoved =
        Machinery.connect(config, RedisBroker.provider(), RedisBackend.provider())) {
      AsyncResult left = notYetMoved.sendTask(Signature.create("add", Arg.of(1L), Arg.of(1L)));

      // README:migration:begin
      Config moving =
          config.toBuilder()
              .broker(rabbitMqUrl) // where the cluster moves to: every send goes there
              .migrateFromBroker(redisUrl) // where it comes from: consumed until nothing is left
              .build();
      try (Server server =
          Machinery.connect(
              moving, AmqpBroker.provider(), RedisBroker.provider(), RedisBackend.provider())) {
        server.registerTask("add", TaskFunction.of(Long.class, Long.class, Long::sum));
        server.newWorker("worker", 10).launchAsync(); // takes tasks from both brokers
        out.add(server.sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L))).getValue(TIMEOUT));
        out.add(left.getValue(TIMEOUT)); // sent to Redis before, by a process not yet moved
      }
      // README:migration:end
    }

    assertThat(out).containsExactly(5L, 2L);
  }

  @Nested
  class Contract extends BrokerContract {
    @Override
    protected Config baseConfig() {
      return amqpConfig();
    }

    @Override
    protected Broker createBroker(Config config) {
      return migrating(config);
    }

    @Override
    protected boolean supportsDelayedTaskInspection() {
      return false; // RabbitMQ cannot list its delay queues
    }

    @AfterEach
    void trackQueue() {
      RabbitAdmin.track(config.defaultQueue());
    }
  }

  @Nested
  class Inspection extends InspectorContract {
    @Override
    protected Config baseConfig() {
      return amqpConfig();
    }

    @Override
    protected Broker createBroker(Config config) {
      return migrating(config);
    }

    @AfterEach
    void trackQueues() throws Exception {
      RabbitAdmin.track(config.defaultQueue());
      RabbitAdmin.deleteDelayQueuesOf(config.defaultQueue());
    }
  }

  @Nested
  class Migration extends BrokerMigrationKit {
    @Override
    protected Config baseConfig() {
      return amqpConfig();
    }

    @Override
    protected Broker createOldBroker(Config config) {
      return redis(config);
    }

    @Override
    protected Broker createNewBroker(Config config) {
      return amqp(config);
    }

    @Override
    protected Backend createBackend(Config config) {
      return RedisBackend.create(config);
    }

    @AfterEach
    void trackQueues() throws Exception {
      RabbitAdmin.track(config.defaultQueue());
      RabbitAdmin.deleteDelayQueuesOf(config.defaultQueue());
    }
  }
}
