package io.machinery.broker.amqp;

import io.machinery.testkit.SagaKillKit;

/**
 * {@link SagaKillKit} on the AMQP broker with the Redis backend (the AMQP backend's reads consume
 * states, so {@code sendSaga} refuses it): worker processes killed with SIGKILL every few seconds
 * during 1,000 sagas whose last step fails. RabbitMQ redelivers a dead worker's unacknowledged
 * messages at once.
 */
class AmqpRedisSagaKillIT extends SagaKillKit {
  AmqpRedisSagaKillIT() {
    super(AmqpChildWorkers.withRedisBackend());
  }
}
