package io.machinery.backend.mongodb;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Machinery;
import io.machinery.MigratingBackend;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.BackendMigrationKit;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * A cluster moving its results from Redis to MongoDB ({@link MigratingBackend}), on the test
 * services: the backend contract on the pair, and the migration kit with the Redis broker.
 */
class RedisToMongoDbBackendMigrationIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private static Backend redis(Config config) {
    return RedisBackend.create(config.toBuilder().resultBackend(TestEndpoints.redisUrl()).build());
  }

  private static Backend mongoDb(Config config) {
    return MongoDbBackend.create(
        config.toBuilder().resultBackend(TestEndpoints.mongodbUri()).build());
  }

  /**
   * The README's example: a server moving its results from Redis to MongoDB reads the outcome a
   * process not yet moved stored in Redis alone (its own outcomes go to both: the kit checks that).
   */
  @Test
  void theReadmeExampleReadsWhatIsInRedisAndWritesBoth() {
    String redisUrl = TestEndpoints.redisUrl();
    String mongoDbUrl = TestEndpoints.mongodbUri();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redisUrl).resultBackend(redisUrl).build(), "readme_");
    List<Object> out = new ArrayList<>();
    try (Server notYetMoved =
        Machinery.connect(config, RedisBroker.provider(), RedisBackend.provider())) {
      notYetMoved.registerTask("add", TaskFunction.of(Long.class, Long.class, Long::sum));
      AsyncResult before = notYetMoved.sendTask(Signature.create("add", Arg.of(1L), Arg.of(1L)));
      notYetMoved.newWorker("not-yet-moved", 1).launchAsync();
      before.get(TIMEOUT); // stored in Redis alone

      // README:backend-migration:begin
      Config moving =
          config.toBuilder()
              .resultBackend(mongoDbUrl) // where results move to: a copy of every write
              .migrateFromResultBackend(redisUrl) // where they come from: read until the move ends
              .build();
      try (Server server =
          Machinery.connect(
              moving, RedisBroker.provider(), RedisBackend.provider(), MongoDbBackend.provider())) {
        server.registerTask("add", TaskFunction.of(Long.class, Long.class, Long::sum));
        server.newWorker("worker", 10).launchAsync();
        AsyncResult sum = server.sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L)));
        out.add(sum.getValue(TIMEOUT)); // stored in both, read from Redis
        // run by a process not yet moved: its outcome is in Redis alone, and read from there
        out.add(server.backend().getState(before.taskUuid()).orElseThrow().state());
      }
      // README:backend-migration:end
    }

    assertThat(out)
        .as("the moving server's outcome, and the one stored in Redis before it moved")
        .containsExactly(5L, State.SUCCESS);
  }

  @Nested
  class Contract extends BackendContract {
    @Override
    protected Backend createBackend(Config config) {
      return MigratingBackend.of(redis(config), mongoDb(config));
    }
  }

  @Nested
  class Migration extends BackendMigrationKit {
    @Override
    protected Config baseConfig() {
      return Config.builder().broker(TestEndpoints.redisUrl()).build();
    }

    @Override
    protected Broker createBroker(Config config) {
      return RedisBroker.create(config);
    }

    @Override
    protected Backend createOldBackend(Config config) {
      return redis(config);
    }

    @Override
    protected Backend createNewBackend(Config config) {
      return mongoDb(config);
    }
  }
}
