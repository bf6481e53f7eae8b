package io.machinery.broker.amqp;

import io.machinery.testkit.DagKillKit;

/**
 * {@link DagKillKit} on the AMQP broker with the Redis backend (the AMQP backend's reads consume
 * states, so {@code sendDag} refuses it): worker processes killed with SIGKILL every few seconds
 * during 1,000 DAGs of eight roots and three joins. RabbitMQ redelivers a dead worker's
 * unacknowledged messages at once; a re-run dependency whose join was triggered but has no state
 * sends it.
 */
class AmqpRedisDagKillIT extends DagKillKit {
  AmqpRedisDagKillIT() {
    super(AmqpChildWorkers.withRedisBackend());
  }
}
