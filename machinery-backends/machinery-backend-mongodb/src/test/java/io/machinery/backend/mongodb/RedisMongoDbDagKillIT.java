package io.machinery.backend.mongodb;

import io.machinery.testkit.DagKillKit;

/**
 * {@link DagKillKit} on the Redis broker with results in MongoDB: worker processes killed with
 * SIGKILL every few seconds during {@value #DAGS} DAGs of eight roots and three joins in {@code
 * make test} ({@code -Dmachinery.kill.dags} for more). A dead worker's messages come back after its
 * lease ({@link RedisMongoDbChildWorkers#LEASE}); a re-run dependency whose join was triggered but
 * has no state sends it.
 */
class RedisMongoDbDagKillIT extends DagKillKit {
  /** Few enough for about 20 s here, enough for two kills or more. */
  private static final int DAGS = 150;

  RedisMongoDbDagKillIT() {
    super(new RedisMongoDbChildWorkers(), DAGS);
  }
}
