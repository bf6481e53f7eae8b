package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Chords while worker processes are killed with SIGKILL every few seconds (issue 12's fault test):
 * {@code -Dmachinery.kill.chords} chords (default {@value #DEFAULT_CHORDS}) of {@code
 * -Dmachinery.kill.members} members (default 20) on three worker processes; once the oldest living
 * process has run tasks for {@code -Dmachinery.kill.everyMillis} (default 3,000), it is killed with
 * SIGKILL and a fresh one started, until every member ran. Every member must run and every callback
 * must run at least once, with all its members' results, and end with a stored SUCCESS state;
 * duplicates are counted and printed. Subclass it per broker and backend with the {@link
 * ChildWorkerDeployment} to run.
 */
public abstract class ChordKillKit {

  /**
   * Chords in {@code make test}: the 1,000 (Redis 84 s, AMQP 282 s on two cores shared with
   * other builds). Fewer chords finish before many kills happen (200 took 13 s with one kill on a
   * quiet machine).
   */
  static final int DEFAULT_CHORDS = 1000;

  private final ChildWorkerDeployment deployment;

  protected ChordKillKit(ChildWorkerDeployment deployment) {
    this.deployment = deployment;
  }

  /** How many chords run unless {@code -Dmachinery.kill.chords} says otherwise. */
  protected int defaultChords() {
    return DEFAULT_CHORDS;
  }

  /**
   * Purges the states and group metadata of the chords the test sent, through the backend's own
   * {@link Backend#purgeState} and {@link Backend#purgeGroupMeta}: some backends keep them long
   * after the test (the AMQP backend's queues expire an hour later: some 4,500 queues per 200
   * chords, and a 600-chord run brought the shared RabbitMQ near its memory alarm).
   */
  private void purgeChords(Config config, List<Chord> chords) {
    try (Backend backend = deployment.createBackend(config)) {
      for (Chord chord : chords) {
        chord.group().taskUuids().forEach(backend::purgeState);
        backend.purgeState(chord.callback().uuid());
        backend.purgeGroupMeta(chord.group().groupUuid());
      }
    }
  }

  @Test
  void killingWorkerProcessesEveryFewSecondsLosesNoChordCallback() throws Exception {
    int chords = Integer.getInteger("machinery.kill.chords", defaultChords());
    int members = Integer.getInteger("machinery.kill.members", 20);
    Duration killEvery = Duration.ofMillis(Long.getLong("machinery.kill.everyMillis", 3000));
    Config config = deployment.uniqueConfig("chord_kill_");
    Path dir = Files.createDirectories(Path.of("target", "chord-kill", config.defaultQueue()));
    String name = getClass().getSimpleName();
    List<Chord> sentChords = new ArrayList<>();
    try (Broker broker = deployment.createBroker(config);
        Backend backend = deployment.createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      KilledWorkers.Outcome<Chord> outcome =
          new KilledWorkers(deployment, config, dir)
              .run(
                  () -> send(server, chords, members),
                  chords * members,
                  chords,
                  killEvery,
                  sent ->
                      WorkerProcesses.storedSuccesses(
                          server,
                          sent.stream().map(c -> c.callback().uuid()).toList(),
                          KilledWorkers.STORED_PATIENCE));
      sentChords.addAll(outcome.sent());
      int stored = outcome.stored();
      WorkerProcesses.Runs runs = outcome.runs();
      System.out.printf(
          "[%s] %d chords x %d members; %s; callbacks with a stored SUCCESS state %d%n",
          name, chords, members, outcome.figures(killEvery, "member", "callback", chords), stored);
      assertThat(outcome.kills()).as("processes killed mid-run").isPositive();
      assertThat(runs.members()).as("members run at least once").hasSize(chords * members);
      assertThat(chords - runs.callbacks().size())
          .as("chord callbacks lost with killed workers")
          .isZero();
      assertThat(runs.callbackLines())
          .as("every callback got all its members' results")
          .allSatisfy(line -> assertThat(line).endsWith(":" + members));
      assertThat(stored).as("callbacks whose stored state is SUCCESS").isEqualTo(chords);
    } finally {
      try {
        purgeChords(config, sentChords);
      } finally {
        deployment.cleanUp(config);
      }
    }
  }

  /** Sends the chords from four threads while the workers run; returns them in order. */
  private static List<Chord> send(Server server, int chords, int members) {
    return KilledWorkers.sendFromFourThreads(
        chords,
        chord -> {
          List<Signature> group = new ArrayList<>();
          for (int m = 0; m < members; m++) {
            group.add(Signature.create(WorkerProcesses.RECORD, Arg.of((long) chord * members + m)));
          }
          Chord sent =
              Chord.of(
                  Group.of(group), Signature.create(WorkerProcesses.COLLECT, Arg.of((long) chord)));
          server.sendChord(sent, 0);
          return sent;
        });
  }
}
