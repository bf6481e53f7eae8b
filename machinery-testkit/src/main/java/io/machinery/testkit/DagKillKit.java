package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Dag;
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
 * DAGs while worker processes are killed with SIGKILL every few seconds ({@link KilledWorkers}):
 * {@code -Dmachinery.kill.dags} DAGs (default {@value #DEFAULT_DAGS}), each of eight recording
 * roots and three joins: {@code j1} of roots 0-3, {@code j2} of roots 2-5 (two tasks that share
 * dependencies) and {@code j3} of {@code j1}, {@code j2} and root 6 (a join of joins). Every root
 * must run, every join at least once with all its dependencies' results, and every join must end
 * with a stored SUCCESS state; duplicates are counted and printed. Subclass it per broker and
 * backend with the {@link ChildWorkerDeployment} to run.
 */
public abstract class DagKillKit {
  /**
   * DAGs in {@code make test}: 11,000 tasks. On a fast machine 500 DAGs took 10 s on Redis with one
   * kill; this many gives a few.
   */
  static final int DEFAULT_DAGS = 1000;

  private static final int ROOTS = 8;
  private static final int JOINS = 3;

  private final ChildWorkerDeployment deployment;
  private final int defaultDags;

  protected DagKillKit(ChildWorkerDeployment deployment) {
    this(deployment, DEFAULT_DAGS);
  }

  /**
   * A kit that sends {@code defaultDags} DAGs unless {@code -Dmachinery.kill.dags} says.
   *
   * @param deployment the worker processes to run
   * @param defaultDags how many DAGs to send by default
   */
  protected DagKillKit(ChildWorkerDeployment deployment, int defaultDags) {
    this.deployment = deployment;
    this.defaultDags = defaultDags;
  }

  @Test
  void killingWorkerProcessesEveryFewSecondsLosesNoDagTask() throws Exception {
    int dags = Integer.getInteger("machinery.kill.dags", defaultDags);
    Duration killEvery = Duration.ofMillis(Long.getLong("machinery.kill.everyMillis", 3000));
    Config config = deployment.uniqueConfig("dag_kill_");
    Path dir = Files.createDirectories(Path.of("target", "dag-kill", config.defaultQueue()));
    List<Dag> sent = new ArrayList<>();
    try (Broker broker = deployment.createBroker(config);
        Backend backend = deployment.createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      KilledWorkers.Outcome<Dag> outcome =
          new KilledWorkers(deployment, config, dir)
              .run(
                  () -> send(server, dags),
                  dags * ROOTS,
                  dags * JOINS,
                  killEvery,
                  dagsSent ->
                      WorkerProcesses.storedSuccesses(
                          server, joinUuids(dagsSent), KilledWorkers.STORED_PATIENCE));
      sent.addAll(outcome.sent());
      int stored = outcome.stored();
      WorkerProcesses.Runs runs = outcome.runs();
      System.out.printf(
          "[%s] %d DAGs of %d roots and %d joins; %s; joins with a stored SUCCESS state %d%n",
          getClass().getSimpleName(),
          dags,
          ROOTS,
          JOINS,
          outcome.figures(killEvery, "root", "join", dags * JOINS),
          stored);
      assertThat(outcome.kills()).as("processes killed mid-run").isPositive();
      assertThat(runs.members()).as("roots run at least once").hasSize(dags * ROOTS);
      assertThat(dags * JOINS - runs.callbacks().size())
          .as("DAG joins lost with killed workers")
          .isZero();
      assertThat(runs.callbackLines())
          .as("every join got all its dependencies' results")
          .allSatisfy(
              line -> {
                long join = Long.parseLong(line.split(":")[1]);
                assertThat(line).endsWith(join % JOINS == 2 ? ":3" : ":4");
              });
      assertThat(stored).as("joins whose stored state is SUCCESS").isEqualTo(dags * JOINS);
    } finally {
      try {
        purge(config, sent);
      } finally {
        deployment.cleanUp(config);
      }
    }
  }

  /** The joins of each DAG. */
  private static List<String> joinUuids(List<Dag> dags) {
    List<String> uuids = new ArrayList<>();
    for (Dag dag : dags) {
      for (String join : List.of("j1", "j2", "j3")) {
        uuids.add(dag.task(join).uuid());
      }
    }
    return uuids;
  }

  /**
   * Purges the states and dependency groups the test stored, through the backend's own {@link
   * Backend#purgeState} and {@link Backend#purgeGroupMeta}.
   */
  private void purge(Config config, List<Dag> dags) {
    try (Backend backend = deployment.createBackend(config)) {
      for (Dag dag : dags) {
        dag.tasks().values().forEach(task -> backend.purgeState(task.uuid()));
        dag.dependencyGroups().keySet().forEach(backend::purgeGroupMeta);
      }
    }
  }

  /** One DAG: roots {@code RECORD(d * 8 + i)}, joins {@code COLLECT(d * 3 + k)}. */
  private static Dag dag(long d) {
    Dag.Builder b = Dag.builder();
    for (int i = 0; i < ROOTS; i++) {
      b.task("r" + i, Signature.create(WorkerProcesses.RECORD, Arg.of(d * ROOTS + i)));
    }
    return b.task("j1", collect(d * JOINS), "r0", "r1", "r2", "r3")
        .task("j2", collect(d * JOINS + 1), "r2", "r3", "r4", "r5")
        .task("j3", collect(d * JOINS + 2), "j1", "j2", "r6")
        .build();
  }

  private static Signature collect(long join) {
    return Signature.create(WorkerProcesses.COLLECT, Arg.of(join));
  }

  /** Sends the DAGs from four threads while the workers run; returns them in order. */
  private static List<Dag> send(Server server, int dags) {
    return KilledWorkers.sendFromFourThreads(
        dags,
        d -> {
          Dag dag = dag(d);
          server.sendDag(dag);
          return dag;
        });
  }
}
