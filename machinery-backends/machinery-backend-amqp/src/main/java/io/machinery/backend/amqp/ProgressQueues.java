package io.machinery.backend.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.GetResponse;
import io.machinery.TaskProgress;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpOperationException;
import java.util.Map;
import java.util.Optional;

/**
 * Task progress on RabbitMQ: one queue per task, {@code <task uuid>_progress}, that holds the last
 * report.
 *
 * <p>Design notes: the queue is declared (no-wait, on the publishing channel, right before each
 * report) with {@code x-max-length 1} (RabbitMQ drops the older head when a newer report arrives),
 * and the results' {@code x-message-ttl} and {@code x-expires}; it is not durable, like Go's state
 * queues. Reading must not consume, unlike the state queues: the reader takes the head without
 * acknowledging it and rejects it with requeue, so it goes back to the queue. A reader that finds a
 * newer report behind the head (the head was held by another reader while a report arrived, so it
 * escaped the length limit) acknowledges the stale head and reads on. While one reader holds the
 * report, a concurrent reader sees none: progress is for humans and dashboards polling it, not for
 * coordination. Go never declares or reads these queues.
 */
final class ProgressQueues {
  private static final AMQP.BasicProperties PROPERTIES =
      new AMQP.BasicProperties.Builder().contentType("application/json").deliveryMode(1).build();

  private final AmqpClient client;
  private final Map<String, Object> args;

  ProgressQueues(AmqpClient client, int expireMillis) {
    this.client = client;
    this.args = Map.of("x-max-length", 1, "x-message-ttl", expireMillis, "x-expires", expireMillis);
  }

  static String queue(String taskUuid) {
    return taskUuid + "_progress";
  }

  void write(String taskUuid, TaskProgress progress) {
    String name = queue(taskUuid);
    client.publishOrdered(
        name,
        ch -> ch.queueDeclareNoWait(name, false, false, false, args),
        "",
        name,
        PROPERTIES,
        progress.toJson());
  }

  Optional<TaskProgress> read(String taskUuid) {
    String name = queue(taskUuid);
    byte[] json;
    try {
      json =
          client.call(
              "read progress queue '" + name + "'",
              ch -> {
                GetResponse head = ch.basicGet(name, false);
                while (head != null && head.getMessageCount() > 0) {
                  ch.basicAck(
                      head.getEnvelope().getDeliveryTag(),
                      false); // superseded by the report behind it
                  head = ch.basicGet(name, false);
                }
                if (head == null) {
                  return null;
                }
                ch.basicReject(head.getEnvelope().getDeliveryTag(), true);
                return head.getBody();
              });
    } catch (AmqpOperationException e) {
      if (e.replyCode() == AmqpOperationException.NOT_FOUND) {
        return Optional.empty(); // never reported, or expired
      }
      throw e;
    }
    return json == null ? Optional.empty() : Optional.of(TaskProgress.fromJson(json));
  }
}
