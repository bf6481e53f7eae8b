package io.machinery.backend.mongodb;

import io.machinery.testkit.ChordKillKit;

/**
 * {@link ChordKillKit} on the Redis broker with results in MongoDB: worker processes killed with
 * SIGKILL every few seconds during {@value #CHORDS} chords of 20 members in {@code make test}
 * ({@code -Dmachinery.kill.chords} for more). A dead worker's messages come back after its lease
 * ({@link RedisMongoDbChildWorkers#LEASE}); a re-run member whose chord was triggered but whose
 * callback has no state sends it, through the MongoDB backend's trigger and release.
 */
class RedisMongoDbChordKillIT extends ChordKillKit {
  /** Few enough for about 20 s here, enough for two kills or more. */
  private static final int CHORDS = 100;

  RedisMongoDbChordKillIT() {
    super(new RedisMongoDbChildWorkers());
  }

  @Override
  protected int defaultChords() {
    return CHORDS;
  }
}
