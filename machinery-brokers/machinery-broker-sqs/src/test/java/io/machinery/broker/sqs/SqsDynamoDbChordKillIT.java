package io.machinery.broker.sqs;

import io.machinery.testkit.ChordKillKit;

/**
 * {@link ChordKillKit} on the SQS broker (ElasticMQ) with results in DynamoDB (dynalite): worker
 * processes killed with SIGKILL every few seconds during {@value #CHORDS} chords of 20 members in
 * {@code make test} ({@code -Dmachinery.kill.chords} for more). What a killed worker held comes
 * back after the visibility timeout; a re-run member whose chord was triggered but whose callback
 * has no state sends it, through the DynamoDB backend's trigger and release.
 */
class SqsDynamoDbChordKillIT extends ChordKillKit {
  /**
   * About 35 s here with five kills (what a killed worker held comes back after the visibility
   * timeout).
   */
  private static final int CHORDS = 10;

  SqsDynamoDbChordKillIT() {
    super(new SqsDynamoDbChildWorkers());
  }

  @Override
  protected int defaultChords() {
    return CHORDS;
  }
}
