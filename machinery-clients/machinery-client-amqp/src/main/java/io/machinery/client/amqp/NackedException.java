package io.machinery.client.amqp;

/**
 * RabbitMQ refused (nacked) a confirmed publish: a queue it was routed to is full and rejects
 * publishes ({@code x-overflow reject-publish}), or the broker failed to store it. Nothing was
 * stored for it in that queue. Worth another try for a task (the queue may have room later), the
 * answer itself for a lock (someone else holds it).
 */
public final class NackedException extends AmqpOperationException {
  private static final long serialVersionUID = 1L;

  public NackedException(String exchange, String routingKey) {
    super(
        "the broker refused (nacked) a message to exchange '"
            + exchange
            + "' with routing key '"
            + routingKey
            + "'",
        0,
        true,
        null);
  }
}
