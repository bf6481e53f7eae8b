package io.machinery.broker.amqp;

import io.machinery.testkit.BatchKillKit;

/**
 * {@link BatchKillKit} on the AMQP broker with the Redis backend (the AMQP backend would declare a
 * result queue per task): worker processes killed with SIGKILL every second during 20,000 batched
 * tasks ({@code -Dmachinery.kill.batchedTasks} for more). RabbitMQ redelivers a dead worker's
 * unacknowledged messages at once, those waiting for their batch too.
 */
class AmqpRedisBatchKillIT extends BatchKillKit {
  AmqpRedisBatchKillIT() {
    super(AmqpChildWorkers.withRedisBackend());
  }
}
