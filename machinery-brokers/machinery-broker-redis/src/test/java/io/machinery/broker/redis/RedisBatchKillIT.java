package io.machinery.broker.redis;

import io.machinery.testkit.BatchKillKit;

/**
 * {@link BatchKillKit} on the Redis broker and backend: worker processes ({@link
 * KillableWorkerMain}, concurrency 10, lease {@link WorkerKilledIT#LEASE}) killed with SIGKILL
 * every second during 20,000 batched tasks. Tasks a dead worker held, waiting for their batch or in
 * one, come back after its lease.
 */
class RedisBatchKillIT extends BatchKillKit {
  RedisBatchKillIT() {
    super(new RedisChordKillIT.ChildWorkers());
  }
}
