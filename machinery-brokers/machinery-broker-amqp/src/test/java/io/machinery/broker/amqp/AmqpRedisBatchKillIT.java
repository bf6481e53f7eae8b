package io.machinery.broker.amqp;

import io.machinery.testkit.BatchKillKit;

/**
 * {@link BatchKillKit} on the AMQP broker with the Redis backend (the AMQP backend would declare a
 * result queue per task): worker processes killed with SIGKILL every second during 10,000 batched
 * tasks ({@code -Dmachinery.kill.batchedTasks} for more). RabbitMQ redelivers a dead worker's
 * unacknowledged messages at once, those waiting for their batch too. Half of the Redis broker's
 * 20,000: on a slow 2-core machine 20,000 took 81 s here (31 kills) against 39 s on Redis.
 */
class AmqpRedisBatchKillIT extends BatchKillKit {
  AmqpRedisBatchKillIT() {
    super(AmqpChildWorkers.withRedisBackend(), 10_000);
  }
}
