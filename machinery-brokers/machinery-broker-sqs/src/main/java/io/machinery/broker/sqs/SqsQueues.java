package io.machinery.broker.sqs;

import io.machinery.MachineryException;
import java.util.Map;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.GetQueueAttributesResponse;
import software.amazon.awssdk.services.sqs.model.QueueAttributeName;

/** Queue administration the broker needs: creation (opt-in) and the visibility timeout. */
final class SqsQueues {
  /** SQS's default visibility timeout, used when the queue's cannot be read. */
  static final int DEFAULT_VISIBILITY_SECONDS = 30;

  private SqsQueues() {}

  static void create(SqsClient client, String queue) {
    try {
      client.createQueue(
          r ->
              r.queueName(queue)
                  .attributes(
                      SqsBroker.isFifo(queue)
                          ? Map.of(QueueAttributeName.FIFO_QUEUE, "true")
                          : Map.of()));
    } catch (SdkException e) {
      throw new MachineryException(
          "SQS: could not create queue " + queue + ": " + e.getMessage(), e);
    }
  }

  /**
   * The queue's VisibilityTimeout attribute in seconds, or SQS's default when it cannot be read.
   */
  static int visibilityTimeout(SqsClient client, String queueUrl) {
    try {
      GetQueueAttributesResponse response =
          client.getQueueAttributes(
              r -> r.queueUrl(queueUrl).attributeNames(QueueAttributeName.VISIBILITY_TIMEOUT));
      String value = response.attributes().get(QueueAttributeName.VISIBILITY_TIMEOUT);
      return value == null ? DEFAULT_VISIBILITY_SECONDS : Integer.parseInt(value);
    } catch (SdkException | NumberFormatException e) {
      return DEFAULT_VISIBILITY_SECONDS;
    }
  }
}
