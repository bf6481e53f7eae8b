package io.machinery.broker.sqs;

import io.machinery.testkit.PausedWorkerKit;

/**
 * {@link PausedWorkerKit} on the SQS broker (ElasticMQ) with the Redis backend: the paused worker's
 * visibility heartbeat stops, the message becomes visible after {@value
 * SqsChildWorkers#VISIBILITY_SECONDS} s and the other worker receives and runs it; the paused one,
 * resumed, sees that its confirmed extensions no longer cover the time since it received the
 * message ({@link SqsDelivery#stillHeld()}) and records nothing.
 */
class SqsRedisPausedWorkerIT extends PausedWorkerKit {
  SqsRedisPausedWorkerIT() {
    super(new SqsChildWorkers());
  }
}
