package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A worker process is killed with SIGKILL in the middle of 10,000 tasks; the surviving worker
 * process finishes them. Every task must end SUCCESS and none may be lost; tasks the dead worker
 * was running run twice (counted).
 */
class AmqpWorkerKillIT {
  private static final int TASKS = 10_000;
  private static final int KILL_AFTER = 3_000;

  private final WorkerProcesses children = WorkerProcesses.create();

  @AfterEach
  void killChildren() {
    children.close();
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  @Test
  void killingAWorkerProcessMidRunLosesNoTask() throws Exception {
    String url = TestEndpoints.amqpUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(url).resultBackend(url).build(), "kill_it_");
    RabbitAdmin.track(config.defaultQueue());
    Path dir = Files.createDirectories(Path.of("target", "kill-it", config.defaultQueue()));
    Path victimLog = dir.resolve("victim.executions");
    Path survivorLog = dir.resolve("survivor.executions");
    try (AmqpBroker broker = AmqpBroker.create(config);
        AmqpBackend backend = AmqpBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      // The queue fills first, so the workers run flat out when the victim dies, with tasks in
      // every stage.
      long sendStarted = System.nanoTime();
      AsyncResult[] results = new AsyncResult[TASKS];
      sendAll(server, results);
      double sendSeconds = (System.nanoTime() - sendStarted) / 1e9;
      long started = System.nanoTime();
      Process victim = startWorker(config, victimLog, dir.resolve("victim.out"));
      Process survivor = startWorker(config, survivorLog, dir.resolve("survivor.out"));

      await()
          .atMost(Duration.ofMinutes(2))
          .until(() -> lines(victimLog) + lines(survivorLog) >= KILL_AFTER);
      assertThat(victim.isAlive()).as("the victim worker is running").isTrue();
      int victimRunsAtKill = lines(victimLog);
      children.kill(victim);
      int doneAtKill = victimRunsAtKill + lines(survivorLog);

      await()
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> distinct(victimLog, survivorLog) == TASKS);
      double runSeconds = (System.nanoTime() - started) / 1e9;

      long readStarted = System.nanoTime();
      int successes =
          WorkerProcesses.storedSuccesses(
              server,
              java.util.Arrays.stream(results).map(r -> r.signature().uuid()).toList(),
              Duration.ofSeconds(60));
      double readSeconds = (System.nanoTime() - readStarted) / 1e9;

      int victimRuns = lines(victimLog);
      int survivorRuns = lines(survivorLog);
      int executions = victimRuns + survivorRuns;
      System.out.printf(
          "[AmqpWorkerKillIT] %d tasks sent in %.1f s; victim (pid %d) killed with SIGKILL after %d"
              + " executions (%d by both); all done %.1f s after the workers started; executions: victim %d, survivor %d,"
              + " total %d, distinct %d, duplicates %d; SUCCESS states read: %d in %.1f s%n",
          TASKS,
          sendSeconds,
          victim.pid(),
          victimRunsAtKill,
          doneAtKill,
          runSeconds,
          victimRuns,
          survivorRuns,
          executions,
          distinct(victimLog, survivorLog),
          executions - TASKS,
          successes,
          readSeconds);
      assertThat(successes).as("tasks whose final state is SUCCESS").isEqualTo(TASKS);
      assertThat(distinct(victimLog, survivorLog)).as("tasks run at least once").isEqualTo(TASKS);
      assertThat(executions - TASKS)
          .as("duplicates are bounded by what the victim held")
          .isLessThanOrEqualTo(100);
    }
  }

  /** Sends the tasks, 32 at a time, while the workers already run them. */
  private static void sendAll(Server server, AsyncResult[] results) {
    Semaphore parallel = new Semaphore(32);
    List<Thread> senders = new ArrayList<>(TASKS);
    try {
      for (int i = 0; i < TASKS; i++) {
        int index = i;
        parallel.acquire();
        senders.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        results[index] =
                            server.sendTask(Signature.create("record", Arg.of((long) index)));
                      } finally {
                        parallel.release();
                      }
                    }));
      }
      for (Thread sender : senders) {
        sender.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private Process startWorker(Config config, Path executions, Path output) {
    return children.start(
        ChildWorkerMain.class,
        output,
        config.broker(),
        config.defaultQueue(),
        "10",
        executions.toString());
  }

  private static int lines(Path file) {
    return WorkerProcesses.runs(file).memberRuns();
  }

  private static int distinct(Path... files) {
    return WorkerProcesses.runs(files).members().size();
  }
}
