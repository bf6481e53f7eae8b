package io.machinery.broker.amqp;

import io.machinery.testkit.WorkerKillKit;

/**
 * {@link WorkerKillKit} on the AMQP broker and backend: what the killed worker held comes back when
 * RabbitMQ sees its connection close. 4,000 tasks ({@code -Damqp.kill.tasks=N} for more), as on
 * SQS: the AMQP backend keeps a queue per task state, so sending and reading back cost a queue each
 * (10,000 took 24 s to send and 44 s to read back on a slow 2-core machine, the drain 18 s).
 */
class AmqpWorkerKillIT extends WorkerKillKit {
  AmqpWorkerKillIT() {
    super(new AmqpChildWorkers());
  }

  @Override
  protected int tasks() {
    return Integer.getInteger("amqp.kill.tasks", 4_000);
  }
}
