package io.machinery.backend.dynamodb;

import io.machinery.MigratingBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.BackendMigrationKit;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;

/**
 * A cluster moving its results from Redis to DynamoDB ({@link MigratingBackend}), on the test
 * services (Redis and dynalite): the backend contract on the pair, and the migration kit (its two
 * servers share one in-JVM broker: this module has no broker of its own).
 */
class RedisToDynamoDbBackendMigrationIT {
  private static DynamoDbConfig tables;

  @BeforeAll
  static void createTables() {
    tables = TestTables.create("move");
  }

  @AfterAll
  static void deleteTables() {
    TestTables.delete(tables);
  }

  private static Backend redis(Config config) {
    return RedisBackend.create(config.toBuilder().resultBackend(TestEndpoints.redisUrl()).build());
  }

  private static Backend dynamoDb(Config config) {
    Config tablesConfig = TestTables.config(tables);
    return DynamoDbBackend.create(
        config.toBuilder()
            .resultBackend(tablesConfig.resultBackend())
            .dynamoDb(tablesConfig.dynamoDb())
            .build());
  }

  @Nested
  class Contract extends BackendContract {
    @Override
    protected Backend createBackend(Config config) {
      return MigratingBackend.of(redis(config), dynamoDb(config));
    }
  }

  @Nested
  class Migration extends BackendMigrationKit {

    @Override
    protected Config baseConfig() {
      return Config.DEFAULT;
    }

    @Override
    protected Backend createOldBackend(Config config) {
      return redis(config);
    }

    @Override
    protected Backend createNewBackend(Config config) {
      return dynamoDb(config);
    }
  }
}
