package io.machinery.broker.sqs;

import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.FaultSuite;
import io.machinery.testkit.TestEndpoints;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/** The fault suite on the SQS broker (ElasticMQ) with results in DynamoDB (dynalite). */
class SqsDynamoDbFaultIT extends FaultSuite {
  private static DynamoDbClient dynamo;
  private static DynamoDbConfig tables;

  @BeforeAll
  static void createTables() {
    dynamo =
        AwsClients.forDynamoDbBackend(TestEndpoints.dynamoDbEndpoint())
            .build(DynamoDbClient.builder());
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    tables = new DynamoDbConfig("fault_task_states_" + suffix, "fault_group_metas_" + suffix);
    DynamoDbBackend.createTables(dynamo, tables);
  }

  @AfterAll
  static void deleteTablesAndQueues() {
    dynamo.deleteTable(r -> r.tableName(tables.taskStatesTable()));
    dynamo.deleteTable(r -> r.tableName(tables.groupMetasTable()));
    dynamo.close();
    SqsTestQueues.deleteTracked();
  }

  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.sqsUrl())
        .resultBackend(TestEndpoints.dynamoDbEndpoint())
        .dynamoDb(tables)
        .sqs(new SqsConfig(1, null, false))
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsTestQueues.broker(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return DynamoDbBackend.create(config);
  }

  @AfterEach
  void trackQueue() {
    SqsTestQueues.track(config.defaultQueue());
  }
}
