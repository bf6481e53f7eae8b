package io.machinery.broker.redis;

import io.machinery.testkit.DelayedTaskKillKit;

/**
 * {@link DelayedTaskKillKit} on the Redis broker and backend: worker processes ({@link
 * KillableWorkerMain}, concurrency 10, lease {@link WorkerKilledIT#LEASE}) killed with SIGKILL
 * every 1.5 s while delayed tasks wait in the queue's sorted set, retries wait for their back-off
 * there and the pump moves them when due. What a dead worker held comes back after its lease.
 */
class RedisDelayedTaskKillIT extends DelayedTaskKillKit {
  RedisDelayedTaskKillIT() {
    super(new RedisChordKillIT.ChildWorkers());
  }
}
