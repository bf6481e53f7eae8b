package io.machinery.interop;

import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.DynamoDbConfig;
import io.machinery.testkit.TestEndpoints;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.Message;

/**
 * The AWS emulators' side of the interop tests: SQS queues (Go's broker never creates them) and
 * Go's default DynamoDB tables {@code task_states} / {@code group_metas} (the Go harness and the
 * Java backend both use them).
 */
final class AwsInterop {
  /** Visibility timeout of the interop queues. */
  static final int VISIBILITY_TIMEOUT_SECONDS = 5;

  private static SqsClient sqs;
  private static DynamoDbClient dynamo;
  private static boolean tablesCreated;

  private AwsInterop() {}

  private static synchronized SqsClient sqs() {
    if (sqs == null) {
      sqs = AwsClients.forSqsBroker(TestEndpoints.sqsUrl()).build(SqsClient.builder());
    }
    return sqs;
  }

  /**
   * Creates an interop queue with a {@value #VISIBILITY_TIMEOUT_SECONDS} s visibility timeout
   * (ElasticMQ's default is 30 s). A message that a Go worker received but dropped (Go's SQS worker
   * drops what its last receive brings when it stops) comes back in seconds, not after 30. Java
   * workers keep their messages invisible with a heartbeat (every third of it); the Go harness's
   * tasks all finish well within it.
   */
  static void createQueue(String name) {
    sqs()
        .createQueue(
            r ->
                r.queueName(name)
                    .attributesWithStrings(
                        Map.of("VisibilityTimeout", Integer.toString(VISIBILITY_TIMEOUT_SECONDS))));
  }

  /**
   * Receives up to 10 messages of {@code queue} (long poll of {@code waitSeconds}), hiding them 30
   * s.
   */
  static List<Message> receive(String queue, int waitSeconds) {
    return sqs()
        .receiveMessage(
            r ->
                r.queueUrl(TestEndpoints.sqsUrl() + "/" + queue)
                    .maxNumberOfMessages(10)
                    .waitTimeSeconds(waitSeconds)
                    .visibilityTimeout(30))
        .messages();
  }

  static void deleteQueue(String name) {
    for (String q : new String[] {name, name + "_dead_letters"}) {
      try {
        sqs().deleteQueue(r -> r.queueUrl(TestEndpoints.sqsUrl() + "/" + q));
      } catch (SdkException e) {
        // never created
      }
    }
  }

  static synchronized void createGoTables() {
    if (!tablesCreated) {
      dynamo =
          AwsClients.forDynamoDbBackend(TestEndpoints.dynamoDbEndpoint())
              .build(DynamoDbClient.builder());
      DynamoDbBackend.createTables(dynamo, DynamoDbConfig.DEFAULT);
      tablesCreated = true;
    }
  }
}
