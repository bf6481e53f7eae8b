package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.AsyncResult;
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
 * Batched tasks ({@link WorkerProcesses#RECORD_BATCHED}, batches of ten) while worker processes are
 * killed with SIGKILL every few seconds ({@link KilledWorkers}): {@code
 * -Dmachinery.kill.batchedTasks} tasks (default {@value #DEFAULT_TASKS}, or the subclass's), sent a
 * hundred per call. A killed process takes tasks waiting for their batch, and batches running, with
 * it; every task must still run at least once and end with a stored SUCCESS state. Subclass it per
 * broker and backend with the {@link ChildWorkerDeployment} to run.
 */
public abstract class BatchKillKit {
  /** Tasks in {@code make test}. */
  static final int DEFAULT_TASKS = 20_000;

  private static final int PER_SEND = 100;

  private final ChildWorkerDeployment deployment;
  private final int defaultTasks;

  protected BatchKillKit(ChildWorkerDeployment deployment) {
    this(deployment, DEFAULT_TASKS);
  }

  /**
   * A kit that sends {@code defaultTasks} unless {@code -Dmachinery.kill.batchedTasks} says.
   *
   * @param deployment the worker processes to run
   * @param defaultTasks how many tasks to send by default
   */
  protected BatchKillKit(ChildWorkerDeployment deployment, int defaultTasks) {
    this.deployment = deployment;
    this.defaultTasks = defaultTasks;
  }

  @Test
  void killingWorkerProcessesEveryFewSecondsLosesNoBatchedTask() throws Exception {
    int tasks = Integer.getInteger("machinery.kill.batchedTasks", defaultTasks);
    // a kill every second: the tasks are short, and a run on a fast machine lasts seconds
    Duration killEvery = Duration.ofMillis(Long.getLong("machinery.kill.everyMillis", 1000));
    Config config = deployment.uniqueConfig("batch_kill_");
    Path dir = Files.createDirectories(Path.of("target", "batch-kill", config.defaultQueue()));
    List<String> uuids = new ArrayList<>();
    try (Broker broker = deployment.createBroker(config);
        Backend backend = deployment.createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      KilledWorkers.Outcome<List<String>> outcome =
          new KilledWorkers(deployment, config, dir)
              .run(
                  () -> send(server, tasks),
                  tasks,
                  0,
                  killEvery,
                  sent ->
                      WorkerProcesses.storedSuccesses(
                          server,
                          sent.stream().flatMap(List::stream).toList(),
                          KilledWorkers.STORED_PATIENCE));
      outcome.sent().forEach(uuids::addAll);
      int stored = outcome.stored();
      List<Integer> batches = WorkerProcesses.batchSizes(outcome.logs());
      System.out.printf(
          "[%s] %d batched tasks (batches of %d, or after %d ms); %s; %d batches of %.1f tasks on"
              + " average; tasks with a stored SUCCESS state %d%n",
          getClass().getSimpleName(),
          tasks,
          WorkerProcesses.RECORD_BATCH.maxSize(),
          WorkerProcesses.RECORD_BATCH.maxDelay().toMillis(),
          outcome.figures(killEvery, "task", "callback", 0),
          batches.size(),
          batches.stream().mapToInt(Integer::intValue).average().orElse(0),
          stored);
      assertThat(outcome.kills()).as("processes killed mid-run").isPositive();
      assertThat(outcome.runs().members()).as("tasks run at least once").hasSize(tasks);
      assertThat(batches)
          .as("batch sizes")
          .allSatisfy(size -> assertThat(size).isBetween(1, WorkerProcesses.RECORD_BATCH.maxSize()))
          .anySatisfy(size -> assertThat(size).isGreaterThan(1));
      assertThat(stored).as("tasks whose stored state is SUCCESS").isEqualTo(tasks);
    } finally {
      try (Backend backend = deployment.createBackend(config)) {
        WorkerProcesses.inParallel(uuids.size(), i -> backend.purgeState(uuids.get(i)));
      } finally {
        deployment.cleanUp(config);
      }
    }
  }

  /** Sends the tasks, a hundred per call, from four threads while the workers run. */
  private static List<List<String>> send(Server server, int tasks) {
    int sends = (tasks + PER_SEND - 1) / PER_SEND;
    return KilledWorkers.sendFromFourThreads(
        sends,
        s -> {
          List<Signature> signatures = new ArrayList<>();
          for (long i = (long) s * PER_SEND; i < Math.min(tasks, (long) (s + 1) * PER_SEND); i++) {
            signatures.add(Signature.create(WorkerProcesses.RECORD_BATCHED, Arg.of(i)));
          }
          return server.sendTasks(signatures).stream().map(AsyncResult::taskUuid).toList();
        });
  }
}
