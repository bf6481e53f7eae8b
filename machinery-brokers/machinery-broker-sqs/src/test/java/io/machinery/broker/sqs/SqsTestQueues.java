package io.machinery.broker.sqs;

import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.testkit.TestEndpoints;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.MessageSystemAttributeName;

/**
 * Test access to ElasticMQ: a client of its own, and deletion of the queues a test class created.
 */
final class SqsTestQueues {
  private static final Set<String> created = ConcurrentHashMap.newKeySet();
  private static volatile SqsClient client;

  private SqsTestQueues() {}

  /**
   * A config on ElasticMQ as most tests want it: short receives (a second's wait, so a stopping
   * worker is not held up), the queue's own visibility timeout, standard queues.
   */
  static Config.Builder config() {
    return Config.builder().broker(TestEndpoints.sqsUrl()).sqs(new SqsConfig(1, null, false));
  }

  /** A broker that creates its queues (ElasticMQ starts with none). */
  static SqsBroker broker(Config config) {
    return SqsBroker.builder(config).createQueues(true).build();
  }

  static synchronized SqsClient client() {
    if (client == null) {
      client = AwsClients.forSqsBroker(TestEndpoints.sqsUrl()).build(SqsClient.builder());
    }
    return client;
  }

  static String url(String queue) {
    return TestEndpoints.sqsUrl() + "/" + queue;
  }

  /** Remembers a queue (and its dead-letter queue) for {@link #deleteTracked()}. */
  static void track(String queue) {
    created.add(queue);
    created.add(SqsBroker.deadLetterQueue(queue));
  }

  static void deleteTracked() {
    for (String queue : List.copyOf(created)) {
      try {
        client().deleteQueue(r -> r.queueUrl(url(queue)));
      } catch (SdkException e) {
        // never created
      }
      created.remove(queue);
    }
  }

  /**
   * Receives up to 10 messages of {@code queue} with all attributes, hiding them for {@code
   * visibility} s.
   */
  static List<Message> receive(String queue, int waitSeconds, int visibility) {
    return client()
        .receiveMessage(
            r ->
                r.queueUrl(url(queue))
                    .maxNumberOfMessages(10)
                    .waitTimeSeconds(waitSeconds)
                    .visibilityTimeout(visibility)
                    .messageAttributeNames("All")
                    .messageSystemAttributeNames(MessageSystemAttributeName.ALL))
        .messages();
  }

  static int approximateCount(String queue) {
    var attributes =
        client()
            .getQueueAttributes(
                r ->
                    r.queueUrl(url(queue))
                        .attributeNamesWithStrings(
                            "ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed"))
            .attributesAsStrings();
    return attributes.values().stream().mapToInt(Integer::parseInt).sum();
  }
}
