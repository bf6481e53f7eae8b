package io.machinery.broker.redis;

import io.machinery.testkit.SagaKillKit;

/**
 * {@link SagaKillKit} on the Redis broker and backend: worker processes ({@link
 * KillableWorkerMain}, lease {@link WorkerKilledIT#LEASE}) killed with SIGKILL every few seconds
 * during 1,000 sagas whose last step fails. A dead worker's messages come back after its lease: a
 * failed step's message whose compensations were not yet sent runs again and sends them.
 */
class RedisSagaKillIT extends SagaKillKit {
  RedisSagaKillIT() {
    super(new RedisChordKillIT.ChildWorkers());
  }
}
