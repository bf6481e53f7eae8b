package io.machinery.broker.amqp;

import io.machinery.testkit.ChordKillKit;

/**
 * {@link ChordKillKit} on the AMQP broker and backend: worker processes killed with SIGKILL every
 * few seconds during 200 chords of 20 members in {@code make test}. At 1,000 chords ({@code
 * -Dmachinery.kill.chords=1000}, 8 to 12 minutes on a loaded machine) callbacks were still lost:
 * before session 4, 1 of 1,000 in 2 of 3 runs; after the kept-state recovery fixes and before the
 * recovery looked again, 19 of 1,000 (114 kills: concurrent peeks split the kept states); after, 1
 * of 1,000 (141 kills; its group had the marker, 3 states in the group queue and 23 kept states: a
 * winner died after taking the states and no re-run recovered them); after a member recovers only
 * when the group queue is short with neither a consumer nor a marker, 0 of 1,000 in two runs on a
 * quiet machine (31 kills each, 114 s). Session 8 reproduced losses with {@code
 * -Dmachinery.kill.chords=600 -Dmachinery.kill.everyMillis=1500} beside a CPU hog: 2 of 600 in the
 * third of three runs (124 kills). One chord's re-runs, redelivered together to one worker, split
 * the kept states between their peeks, looked again in step and all gave up; another's re-runs,
 * after its winner died before the callback, filled a fresh group queue, competed for it, found the
 * winner's marker and left. After the fix (recoveries of a group take turns, and a complete group
 * queue beside the marker is recovered from the kept states), six runs lost none of 3,600 (69 to
 * 125 kills, 580 in all). A killed winner's callback is recovered by the re-run of its member (F4:
 * the members keep their states in {@code <group>_chord_states} until the callback is sent). In
 * December 2026 {@code make test} still lost 1 of 200 now and then (5 kills): a member paused
 * between its group state and its kept copy while a winner took the group and died, and the re-run
 * of the winner's member came before the kept copy. Since a living winner consumes the marker until
 * it released the kept states (ChordTrigger), the member whose kept copy lands last recovers; runs
 * of 600 chords with a kill every 1.5 s beside a CPU hog then lost none of 3,600 (six runs, 391
 * kills, with a lock queue in the marker consumer's place) and none of 2,400 (four runs, 305
 * kills).
 */
class AmqpChordKillIT extends ChordKillKit {
  AmqpChordKillIT() {
    super(new AmqpChildWorkers());
  }

  @Override
  protected int defaultChords() {
    return 200;
  }
}
