package io.machinery.broker.sqs;

import io.machinery.MachineryException;
import java.util.EnumMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.GetQueueAttributesResponse;
import software.amazon.awssdk.services.sqs.model.QueueAttributeName;
import software.amazon.awssdk.services.sqs.model.QueueNameExistsException;

/** Queue administration the broker needs: creation (opt-in) and the visibility timeout. */
final class SqsQueues {
  /** SQS's default visibility timeout, used when the queue's cannot be read. */
  static final int DEFAULT_VISIBILITY_SECONDS = 30;

  private SqsQueues() {}

  /**
   * How long a dead-letter queue the broker creates keeps its messages: SQS's longest, 14 days (its
   * default, 4 days, would drop bad input before a person finds it after a long weekend).
   */
  static final int DEAD_LETTER_RETENTION_SECONDS = 1_209_600;

  static void create(SqsClient client, String queue) {
    create(client, queue, null);
  }

  /** Creates {@code queue}; {@code bound} (when not null) bounds the call. */
  static void create(
      SqsClient client, String queue, @Nullable AwsRequestOverrideConfiguration bound) {
    create(client, queue, Map.of(), bound);
  }

  /**
   * Creates a dead-letter queue with {@link #DEAD_LETTER_RETENTION_SECONDS}. One that exists with
   * other attributes (created before, or by its owner) is used as it is: SQS refuses CreateQueue
   * then with {@code QueueNameExists}. {@code bound} (when not null) bounds the call: it is part of
   * a settlement (see {@link SqsBroker#callBound()}).
   */
  static void createDeadLetterQueue(
      SqsClient client, String queue, @Nullable AwsRequestOverrideConfiguration bound) {
    try {
      create(
          client,
          queue,
          Map.of(
              QueueAttributeName.MESSAGE_RETENTION_PERIOD,
              Integer.toString(DEAD_LETTER_RETENTION_SECONDS)),
          bound);
    } catch (MachineryException e) {
      if (!(e.getCause() instanceof QueueNameExistsException)) {
        throw e;
      }
    }
  }

  private static void create(
      SqsClient client,
      String queue,
      Map<QueueAttributeName, String> attributes,
      @Nullable AwsRequestOverrideConfiguration bound) {
    Map<QueueAttributeName, String> all = new EnumMap<>(QueueAttributeName.class);
    all.putAll(attributes);
    if (SqsBroker.isFifo(queue)) {
      all.put(QueueAttributeName.FIFO_QUEUE, "true");
    }
    try {
      client.createQueue(r -> r.queueName(queue).attributes(all).overrideConfiguration(bound));
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
