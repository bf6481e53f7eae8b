package io.machinery.broker.sqs;

import io.machinery.testkit.ChordKillKit;

/**
 * {@link ChordKillKit} on the SQS broker (ElasticMQ) with a Redis backend: worker processes killed
 * with SIGKILL every few seconds during 200 chords of 20 members in {@code make test}. What a
 * killed worker held comes back after the visibility timeout, with a receive count above 1, so a
 * chord member's re-run knows it may be one and sends a dead trigger winner's callback.
 */
class SqsChordKillIT extends ChordKillKit {
  SqsChordKillIT() {
    super(new SqsChildWorkers());
  }

  @Override
  protected int defaultChords() {
    return 200;
  }
}
