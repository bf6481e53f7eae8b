package io.machinery.broker.gcppubsub;

import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.testkit.ChordKillKit;

/**
 * {@link ChordKillKit} on the Pub/Sub broker (the emulator) with a Redis backend: worker processes
 * killed with SIGKILL every few seconds during 100 chords of 20 members in {@code make test}; what
 * a killed worker held comes back when its ack deadline lapses.
 */
class GcpPubSubChordKillIT extends ChordKillKit {
  GcpPubSubChordKillIT() {
    super(new GcpPubSubChildWorkers(PubSubProjects.name("machinery-test")));
  }

  @Override
  protected int defaultChords() {
    return 100;
  }
}
