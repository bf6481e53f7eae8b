package io.machinery.backend.dynamodb;

import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import java.time.Clock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Go's integration scenarios with the embedded memory broker and the DynamoDB backend (dynalite).
 */
class MemoryBrokerDynamoDbAcceptanceIT extends AcceptanceSuite {
  private static DynamoDbConfig tables;

  @BeforeAll
  static void createTables() {
    tables = TestTables.create("acceptance");
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
  protected Broker createBroker(Config config) {
    return MemoryBroker.create(config, Clock.systemUTC());
  }

  @Override
  protected Backend createBackend(Config config) {
    return DynamoDbBackend.create(config);
  }
}
