package io.machinery.broker.amqp;

import io.machinery.testkit.WorkerKillKit;

/**
 * {@link WorkerKillKit} on the AMQP broker and backend: what the killed worker held comes back when
 * RabbitMQ sees its connection close.
 */
class AmqpWorkerKillIT extends WorkerKillKit {
  AmqpWorkerKillIT() {
    super(new AmqpChildWorkers());
  }
}
