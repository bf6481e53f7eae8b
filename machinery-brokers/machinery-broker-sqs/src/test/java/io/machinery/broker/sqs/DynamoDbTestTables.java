package io.machinery.broker.sqs;

import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.DynamoDbConfig;
import io.machinery.testkit.TestEndpoints;
import java.util.UUID;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/**
 * Go's two DynamoDB tables under names unique to one test class, on dynalite, for the SQS +
 * DynamoDB pair; closing deletes them.
 */
final class DynamoDbTestTables implements AutoCloseable {
  private final DynamoDbClient client;
  private final DynamoDbConfig tables;

  private DynamoDbTestTables(DynamoDbClient client, DynamoDbConfig tables) {
    this.client = client;
    this.tables = tables;
  }

  static DynamoDbTestTables create(String prefix) {
    DynamoDbClient client =
        AwsClients.forDynamoDbBackend(TestEndpoints.dynamoDbEndpoint())
            .build(DynamoDbClient.builder());
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    DynamoDbConfig tables =
        new DynamoDbConfig(prefix + "_task_states_" + suffix, prefix + "_group_metas_" + suffix);
    DynamoDbBackend.createTables(client, tables);
    return new DynamoDbTestTables(client, tables);
  }

  /** The tables, for {@code Config.Builder#dynamoDb}. */
  DynamoDbConfig tables() {
    return tables;
  }

  @Override
  public void close() {
    client.deleteTable(r -> r.tableName(tables.taskStatesTable()));
    client.deleteTable(r -> r.tableName(tables.groupMetasTable()));
    client.close();
  }
}
