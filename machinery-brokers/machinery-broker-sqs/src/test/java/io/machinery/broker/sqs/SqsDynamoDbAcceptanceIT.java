package io.machinery.broker.sqs;

import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/** Go's integration scenarios on the SQS broker (ElasticMQ) with results in DynamoDB (dynalite). */
class SqsDynamoDbAcceptanceIT extends AcceptanceSuite {
  private static DynamoDbTestTables tables;

  @BeforeAll
  static void createTables() {
    tables = DynamoDbTestTables.create("sqs");
  }

  @AfterAll
  static void deleteTablesAndQueues() {
    tables.close();
    SqsTestQueues.deleteTracked();
  }

  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.sqsUrl())
        .resultBackend(TestEndpoints.dynamoDbEndpoint())
        .dynamoDb(tables.tables())
        .sqs(new SqsConfig(1, null, false))
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsTestQueues.broker(config);
  }

  /** ElasticMQ serves the oldest waiting receive: see the capability's note. */
  @Override
  protected boolean mayKeepReturningATaskToTheWorkerThatHandedItBack() {
    return true;
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
