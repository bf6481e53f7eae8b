package io.machinery.backend.dynamodb;

import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The backend contract against dynalite. */
class DynamoDbBackendIT extends BackendContract {
  private static DynamoDbConfig tables;

  @BeforeAll
  static void createTables() {
    tables = TestTables.create("kit");
  }

  @AfterAll
  static void deleteTables() {
    TestTables.delete(tables);
  }

  @Override
  protected Config baseConfig() {
    return TestTables.config(tables);
  }

  @Override
  protected Backend createBackend(Config config) {
    return DynamoDbBackend.create(config);
  }
}
