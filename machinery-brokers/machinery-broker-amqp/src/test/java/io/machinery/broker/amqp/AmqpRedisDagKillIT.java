package io.machinery.broker.amqp;

import io.machinery.testkit.DagKillKit;

/**
 * {@link DagKillKit} on the AMQP broker with the Redis backend (the AMQP backend's reads consume
 * states, so {@code sendDag} refuses it): worker processes killed with SIGKILL every few seconds
 * during 500 DAGs of eight roots and three joins ({@code -Dmachinery.kill.dags} for more). RabbitMQ
 * redelivers a dead worker's unacknowledged messages at once; a re-run dependency whose join was
 * triggered but has no state sends it. Half of the Redis broker's 1,000: on a slow 2-core machine
 * 1,000 took 80 s here (14 kills) against 26 s on Redis, the longest part of {@code make test}'s
 * slowest module.
 */
class AmqpRedisDagKillIT extends DagKillKit {
  AmqpRedisDagKillIT() {
    super(AmqpChildWorkers.withRedisBackend(), 500);
  }
}
