package io.machinery.broker.gcppubsub;

import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.testkit.PausedWorkerKit;

/**
 * {@link PausedWorkerKit} on the Pub/Sub broker (the emulator) with the Redis backend: the paused
 * worker stops extending its ack deadline (10 s), the emulator delivers the message again to the
 * other worker, which runs it; the paused one, resumed, sees that its confirmed extensions no
 * longer cover the time since its pull ({@link PubSubDelivery#stillHeld()}), reads the other run's
 * SUCCESS and records nothing.
 */
class GcpPubSubRedisPausedWorkerIT extends PausedWorkerKit {
  GcpPubSubRedisPausedWorkerIT() {
    super(new GcpPubSubChildWorkers(PubSubProjects.name("machinery-test")).withAckDeadline(10));
  }
}
