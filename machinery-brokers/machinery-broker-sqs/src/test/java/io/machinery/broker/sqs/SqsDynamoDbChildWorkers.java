package io.machinery.broker.sqs;

import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * The kill tests' deployment on AWS's pair: the SQS broker of {@link SqsChildWorkers} (ElasticMQ,
 * visibility timeout {@value SqsChildWorkers#VISIBILITY_SECONDS} s) with results in DynamoDB
 * (dynalite), {@link SqsDynamoDbChildWorkerMain} in the child JVMs. Each test gets two tables of
 * its own ({@link DynamoDbTestTables}), created by {@link #uniqueConfig} and deleted with the
 * queues by {@link #cleanUp}. One test at a time.
 */
final class SqsDynamoDbChildWorkers implements ChildWorkerDeployment {
  private final SqsChildWorkers sqs = new SqsChildWorkers();
  private @Nullable DynamoDbTestTables tables;

  @Override
  public Config uniqueConfig(String queuePrefix) {
    tables = DynamoDbTestTables.create(queuePrefix + "kill");
    return sqs.uniqueConfig(queuePrefix).toBuilder()
        .resultBackend(TestEndpoints.dynamoDbEndpoint())
        .dynamoDb(tables.tables())
        .build();
  }

  @Override
  public Broker createBroker(Config config) {
    return sqs.createBroker(config);
  }

  @Override
  public Backend createBackend(Config config) {
    return DynamoDbBackend.create(config);
  }

  @Override
  public Class<?> childMain() {
    return SqsDynamoDbChildWorkerMain.class;
  }

  @Override
  public String[] childArgs(Config config, Path executions) {
    return new String[] {
      config.broker(),
      config.resultBackend(),
      config.dynamoDb().taskStatesTable(),
      config.dynamoDb().groupMetasTable(),
      config.defaultQueue(),
      Integer.toString(SqsChildWorkers.CONCURRENCY),
      Integer.toString(SqsChildWorkers.VISIBILITY_SECONDS),
      executions.toString()
    };
  }

  /**
   * Prints how many messages are still on the queue (a kit that lost a callback leaves the message
   * that should have sent it there), then deletes the queues and tables.
   */
  @Override
  public void cleanUp(Config config) {
    try {
      System.out.printf(
          "[SqsDynamoDbChildWorkers] messages left on %s: %d%n",
          config.defaultQueue(), SqsTestQueues.approximateCount(config.defaultQueue()));
      sqs.cleanUp(config);
    } finally {
      if (tables != null) {
        tables.close();
        tables = null;
      }
    }
  }
}
