package io.machinery.broker.redis;

import io.machinery.testkit.DagKillKit;

/**
 * {@link DagKillKit} on the Redis broker and backend: worker processes ({@link KillableWorkerMain},
 * lease {@link WorkerKilledIT#LEASE}) killed with SIGKILL every few seconds during 1,000 DAGs of
 * eight roots and three joins. A dead worker's messages come back after its lease; a re-run
 * dependency whose join was triggered but has no state sends it.
 */
class RedisDagKillIT extends DagKillKit {
  RedisDagKillIT() {
    super(new RedisChordKillIT.ChildWorkers());
  }
}
