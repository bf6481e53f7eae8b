package io.machinery.broker.amqp;

import io.machinery.testkit.DelayedTaskKillKit;

/**
 * {@link DelayedTaskKillKit} on the AMQP broker and backend: worker processes killed with SIGKILL
 * every 1.5 s while delayed tasks and retries wait in RabbitMQ's delay queue. What a dead worker
 * held comes back when RabbitMQ sees its connection close.
 */
class AmqpDelayedTaskKillIT extends DelayedTaskKillKit {
  AmqpDelayedTaskKillIT() {
    super(new AmqpChildWorkers());
  }
}
