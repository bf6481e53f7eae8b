package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A worker process killed with SIGKILL in the middle of a run loses no task: the queue is filled
 * with {@link #tasks()} tasks first, two worker processes drain it, and once they ran 30% of them
 * between them (the victim some of them), the victim is killed: no shutdown hook, no ack, no nack.
 * The survivor finishes. Every task must run at least once and end with a stored SUCCESS state;
 * what the victim held (running, or done and not yet acknowledged) comes back by the broker's own
 * means (a closed connection, a lapsed lease, deadline or visibility timeout) and may run twice:
 * the duplicates are counted, printed and bounded by {@link #maxDuplicates()}.
 *
 * <p>Subclass it per broker and backend with the {@link ChildWorkerDeployment} to run. The states
 * of the tasks are purged afterwards (the AMQP backend's state queues would otherwise live on for
 * an hour, one per task).
 */
public abstract class WorkerKillKit {
  private final ChildWorkerDeployment deployment;

  protected WorkerKillKit(ChildWorkerDeployment deployment) {
    this.deployment = deployment;
  }

  /** The deployment this test runs, for a subclass's own tests. */
  protected final ChildWorkerDeployment deployment() {
    return deployment;
  }

  /** How many tasks fill the queue. */
  protected int tasks() {
    return 10_000;
  }

  /** The most runs of a task beyond its first that the run may have. */
  protected int maxDuplicates() {
    return 100;
  }

  /** Checked once every task ran, while the test's broker is still open (the queue is empty). */
  protected void afterDrain(Config config) throws Exception {}

  @Test
  void killingAWorkerProcessMidRunLosesNoTask() throws Exception {
    int tasks = tasks();
    int killAfter = tasks * 3 / 10;
    Config config = deployment.uniqueConfig("kill_it_");
    Path dir = Files.createDirectories(Path.of("target", "kill-it", config.defaultQueue()));
    Path victimLog = dir.resolve("victim.executions");
    Path survivorLog = dir.resolve("survivor.executions");
    String name = getClass().getSimpleName();
    List<String> uuids = List.of();
    try (Broker broker = deployment.createBroker(config);
        Backend backend = deployment.createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        WorkerProcesses children = WorkerProcesses.create()) {
      // The queue fills first, so the workers run flat out when the victim dies, with tasks in
      // every stage.
      long sendStarted = System.nanoTime();
      uuids = sendAll(server, tasks);
      double sendSeconds = (System.nanoTime() - sendStarted) / 1e9;
      long started = System.nanoTime();
      Process victim = startWorker(children, config, victimLog, dir.resolve("victim.out"));
      Process survivor = startWorker(children, config, survivorLog, dir.resolve("survivor.out"));

      await()
          .atMost(Duration.ofMinutes(3))
          .until(() -> runs(victimLog) > 0 && runs(victimLog) + runs(survivorLog) >= killAfter);
      assertThat(victim.isAlive()).as("the victim worker is running").isTrue();
      int victimRunsAtKill = runs(victimLog);
      children.kill(victim);
      int doneAtKill = victimRunsAtKill + runs(survivorLog);

      await()
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> distinct(victimLog, survivorLog) == tasks);
      double runSeconds = (System.nanoTime() - started) / 1e9;
      assertThat(survivor.isAlive()).as("the survivor worker is running").isTrue();

      long readStarted = System.nanoTime();
      int successes = WorkerProcesses.storedSuccesses(server, uuids, Duration.ofSeconds(60));
      double readSeconds = (System.nanoTime() - readStarted) / 1e9;
      int victimRuns = runs(victimLog);
      int survivorRuns = runs(survivorLog);
      int executions = victimRuns + survivorRuns;
      System.out.printf(
          "[%s] %d tasks sent in %.1f s; victim (pid %d) killed with SIGKILL after %d executions (%d"
              + " by both); all done %.1f s after the workers started; executions: victim %d, survivor %d,"
              + " total %d, distinct %d, duplicates %d; SUCCESS states read: %d in %.1f s%n",
          name,
          tasks,
          sendSeconds,
          victim.pid(),
          victimRunsAtKill,
          doneAtKill,
          runSeconds,
          victimRuns,
          survivorRuns,
          executions,
          distinct(victimLog, survivorLog),
          executions - tasks,
          successes,
          readSeconds);
      assertThat(successes).as("tasks whose final state is SUCCESS").isEqualTo(tasks);
      assertThat(distinct(victimLog, survivorLog)).as("tasks run at least once").isEqualTo(tasks);
      assertThat(executions - tasks)
          .as("duplicates are bounded by what the victim held")
          .isLessThanOrEqualTo(maxDuplicates());
      afterDrain(config);
    } finally {
      try {
        purgeStates(config, uuids);
      } finally {
        deployment.cleanUp(config);
      }
    }
  }

  private void purgeStates(Config config, List<String> uuids) throws InterruptedException {
    try (Backend backend = deployment.createBackend(config)) {
      WorkerProcesses.inParallel(uuids.size(), i -> backend.purgeState(uuids.get(i)));
    }
  }

  /** Sends the tasks, 32 at a time; returns their UUIDs in order. */
  private static List<String> sendAll(Server server, int tasks) throws InterruptedException {
    String[] uuids = new String[tasks];
    WorkerProcesses.inParallel(
        tasks,
        i -> uuids[i] = server.sendTask(Signature.create("record", Arg.of((long) i))).taskUuid());
    return List.of(uuids);
  }

  private Process startWorker(
      WorkerProcesses children, Config config, Path executions, Path output) {
    return children.start(deployment.childMain(), output, deployment.childArgs(config, executions));
  }

  private static int runs(Path file) {
    return WorkerProcesses.runs(file).memberRuns();
  }

  private static int distinct(Path... files) {
    return WorkerProcesses.runs(files).members().size();
  }
}
