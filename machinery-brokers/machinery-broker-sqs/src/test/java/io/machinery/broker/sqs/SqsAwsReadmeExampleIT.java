package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.embedded.EagerLock;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;

/**
 * The README's AWS example, on ElasticMQ and dynalite instead of AWS (queue and tables made first).
 */
class SqsAwsReadmeExampleIT {
  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }

  @Test
  void theReadmeExampleRuns() {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    String sqsAccountUrl = TestEndpoints.sqsUrl();
    String dynamoDbUrl = TestEndpoints.dynamoDbEndpoint();
    String queue = "readme_" + suffix;
    DynamoDbConfig tables =
        new DynamoDbConfig("readme_states_" + suffix, "readme_groups_" + suffix);
    SqsTestQueues.track(queue);
    SqsQueues.create(SqsTestQueues.client(), queue);
    List<Object> result;
    try (DynamoDbClient dynamo =
        AwsClients.forDynamoDbBackend(dynamoDbUrl).build(DynamoDbClient.builder())) {
      DynamoDbBackend.createTables(dynamo, tables);
      try {
        // README:aws:begin
        Config config =
            Config.builder()
                .broker(sqsAccountUrl) // Go's account URL:
                // https://sqs.eu-west-1.amazonaws.com/123456789012; queues must
                // exist
                .resultBackend(dynamoDbUrl) // https://dynamodb.eu-west-1.amazonaws.com; Go's tables
                // task_states, group_metas
                .defaultQueue(queue) // Go's default: machinery_tasks
                .dynamoDb(tables) // Go's default: new DynamoDbConfig("task_states", "group_metas")
                .build();
        try (SqsBroker broker =
                SqsBroker.create(config); // or SqsBroker.builder(config).client(mySqsClient)
            DynamoDbBackend backend =
                DynamoDbBackend.create(
                    config); // or DynamoDbBackend.builder(config).client(myClient)
            Server server = Server.create(config, broker, backend, EagerLock.create())) {
          server.registerTask(
              "add", TaskFunction.varargs(long[].class, n -> LongStream.of(n).sum()));
          server.newWorker("aws-worker", 10).launchAsync();
          result =
              server
                  .sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)))
                  .get(Duration.ofSeconds(30));
        }
        // README:aws:end
      } finally {
        dynamo.deleteTable(r -> r.tableName(tables.taskStatesTable()));
        dynamo.deleteTable(r -> r.tableName(tables.groupMetasTable()));
      }
    }
    assertThat(result).containsExactly(3L);
  }
}
