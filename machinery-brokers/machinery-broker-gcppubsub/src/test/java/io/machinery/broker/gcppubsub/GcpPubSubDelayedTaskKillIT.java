package io.machinery.broker.gcppubsub;

import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.testkit.DelayedTaskKillKit;

/**
 * {@link DelayedTaskKillKit} on the Pub/Sub broker (the emulator) with a Redis backend: worker
 * processes killed with SIGKILL every 1.5 s while delayed tasks and retries wait on the delay
 * topic, leased by the workers' {@code DelayPump}s until due (and by the test's own server's pump,
 * which sending a delayed task starts). What a killed worker held, due or not, comes back when its
 * ack deadline (10 s) lapses, so each kill pushes the end back by ten seconds or more: two kills in
 * {@code make test} (unlimited kills every 1.5 s took 54 s here, 12 kills; three, 32 s), {@code
 * -Dmachinery.kill.maxKills=N} for more.
 */
class GcpPubSubDelayedTaskKillIT extends DelayedTaskKillKit {
  GcpPubSubDelayedTaskKillIT() {
    super(new GcpPubSubChildWorkers(PubSubProjects.name("machinery-test")));
  }

  @Override
  protected int maxKills() {
    return 2;
  }
}
