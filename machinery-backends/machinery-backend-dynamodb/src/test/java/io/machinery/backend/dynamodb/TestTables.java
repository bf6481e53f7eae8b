package io.machinery.backend.dynamodb;

import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.testkit.TestEndpoints;
import java.util.UUID;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/**
 * Go's two tables under names unique to one test class, created on dynalite with the opt-in helper.
 */
final class TestTables {
  private static DynamoDbClient client;

  private TestTables() {}

  static synchronized DynamoDbClient client() {
    if (client == null) {
      client =
          AwsClients.forDynamoDbBackend(TestEndpoints.dynamoDbEndpoint())
              .build(DynamoDbClient.builder());
    }
    return client;
  }

  static DynamoDbConfig create(String prefix) {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    DynamoDbConfig tables =
        new DynamoDbConfig(prefix + "_task_states_" + suffix, prefix + "_group_metas_" + suffix);
    DynamoDbBackend.createTables(client(), tables);
    return tables;
  }

  static void delete(DynamoDbConfig tables) {
    client().deleteTable(r -> r.tableName(tables.taskStatesTable()));
    client().deleteTable(r -> r.tableName(tables.groupMetasTable()));
  }

  static Config config(DynamoDbConfig tables) {
    return Config.builder()
        .resultBackend(TestEndpoints.dynamoDbEndpoint())
        .dynamoDb(tables)
        .build();
  }
}
