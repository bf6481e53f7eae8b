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

/** The README's AWS example, on ElasticMQ and dynalite instead of AWS (queue and tables made first). */
class SqsAwsReadmeExampleIT {
  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }

  @Test
  void theReadmeExampleRuns() {
    String suffix = UUID.randomUUID().toString().substring(0, 8);
    Config config = Config.builder()
        .broker(TestEndpoints.sqsUrl())
        .resultBackend(TestEndpoints.dynamoDbEndpoint())
        .defaultQueue("readme_" + suffix)
        .dynamoDb(new DynamoDbConfig("readme_states_" + suffix, "readme_groups_" + suffix))
        .build();
    SqsTestQueues.track(config.defaultQueue());
    SqsQueues.create(SqsTestQueues.client(), config.defaultQueue());
    try (DynamoDbClient dynamo = AwsClients.forDynamoDbBackend(config.resultBackend()).build(DynamoDbClient.builder())) {
      DynamoDbBackend.createTables(dynamo, config.dynamoDb());
      try (SqsBroker broker = SqsBroker.create(config);
           DynamoDbBackend backend = DynamoDbBackend.create(config);
           Server server = Server.create(config, broker, backend, EagerLock.create())) {
        server.registerTask("add", TaskFunction.varargs(long[].class, n -> LongStream.of(n).sum()));
        server.newWorker("aws-worker", 10).launchAsync();
        List<Object> result = server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L))).get(Duration.ofSeconds(30));
        assertThat(result).containsExactly(3L);
      } finally {
        dynamo.deleteTable(r -> r.tableName(config.dynamoDb().taskStatesTable()));
        dynamo.deleteTable(r -> r.tableName(config.dynamoDb().groupMetasTable()));
      }
    }
  }
}
