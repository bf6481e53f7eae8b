package io.machinery.interop;

import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.DynamoDbConfig;
import io.machinery.testkit.TestEndpoints;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.sqs.SqsClient;

/**
 * The AWS emulators' side of the interop tests: SQS queues (Go's broker never creates them) and Go's default
 * DynamoDB tables {@code task_states} / {@code group_metas} (the Go harness and the Java backend both use them).
 */
final class AwsInterop {
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

  static void createQueue(String name) {
    sqs().createQueue(r -> r.queueName(name));
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
      dynamo = AwsClients.forDynamoDbBackend(TestEndpoints.dynamoDbEndpoint()).build(DynamoDbClient.builder());
      DynamoDbBackend.createTables(dynamo, DynamoDbConfig.DEFAULT);
      tablesCreated = true;
    }
  }
}
