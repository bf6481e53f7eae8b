package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
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
 * A worker process is killed with SIGKILL in the middle of the run; the surviving worker process
 * finishes. Every task must end SUCCESS; tasks the dead worker held come back after the visibility
 * timeout and may run twice (counted). {@code -Dsqs.kill.tasks=N} sets the task count (default
 * 4,000, what two shared cores finish in about a minute; 10,000 took 152 s here, 0 lost).
 */
class SqsWorkerKillIT {
  private static final int TASKS = Integer.getInteger("sqs.kill.tasks", 4_000);
  private static final int VISIBILITY_SECONDS = 5;
  private static final int CONCURRENCY = 10;

  private final WorkerProcesses children = WorkerProcesses.create();

  @AfterEach
  void killChildren() {
    children.close();
  }

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }

  @Test
  void killingAWorkerProcessMidRunLosesNoTask() throws Exception {
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder()
                .broker(TestEndpoints.sqsUrl())
                .resultBackend(TestEndpoints.redisUrl())
                .sqs(new SqsConfig(1, VISIBILITY_SECONDS, true))
                .build(),
            "kill_it_");
    SqsTestQueues.track(config.defaultQueue());
    Path dir = Files.createDirectories(Path.of("target", "kill-it", config.defaultQueue()));
    Path victimLog = dir.resolve("victim.executions");
    Path survivorLog = dir.resolve("survivor.executions");
    try (SqsBroker broker = SqsTestQueues.broker(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      long sendStarted = System.nanoTime();
      List<String> uuids = sendAll(server);
      double sendSeconds = (System.nanoTime() - sendStarted) / 1e9;
      long started = System.nanoTime();
      Process victim = startWorker(config, victimLog, dir.resolve("victim.out"));
      Process survivor = startWorker(config, survivorLog, dir.resolve("survivor.out"));

      await().atMost(Duration.ofMinutes(2)).until(() -> lines(victimLog) >= TASKS / 5);
      assertThat(victim.isAlive()).as("the victim worker is running").isTrue();
      children.kill(victim); // SIGKILL: no ack, no visibility reset, no goodbye
      int victimRunsAtKill = lines(victimLog);
      int survivorRunsAtKill = lines(survivorLog);

      await()
          .atMost(Duration.ofMinutes(4))
          .pollInterval(Duration.ofMillis(250))
          .until(() -> distinct(victimLog, survivorLog) == TASKS);
      double runSeconds = (System.nanoTime() - started) / 1e9;
      assertThat(survivor.isAlive()).isTrue();

      int successes = WorkerProcesses.storedSuccesses(server, uuids, Duration.ofSeconds(60));
      int victimRuns = lines(victimLog);
      int survivorRuns = lines(survivorLog);
      int executions = victimRuns + survivorRuns;
      System.out.printf(
          "[SqsWorkerKillIT] %d tasks sent in %.1f s; victim (pid %d) killed with SIGKILL after %d"
              + " executions (survivor: %d); all done %.1f s after the workers started (visibility timeout %d s);"
              + " executions: victim %d, survivor %d, total %d, distinct %d, duplicates %d; SUCCESS states: %d, lost: %d%n",
          TASKS,
          sendSeconds,
          victim.pid(),
          victimRunsAtKill,
          survivorRunsAtKill,
          runSeconds,
          VISIBILITY_SECONDS,
          victimRuns,
          survivorRuns,
          executions,
          distinct(victimLog, survivorLog),
          executions - TASKS,
          successes,
          TASKS - successes);
      assertThat(successes).as("tasks whose final state is SUCCESS").isEqualTo(TASKS);
      // A worker of concurrency C holds at most 2C runs whose message is not yet deleted: C slots
      // (functions running) and C settling permits (functions ended, state and delete under way;
      // Worker's design notes). Only those can run again, on the survivor (seen: the victim's
      // last 18 runs).
      assertThat(executions - TASKS)
          .as(
              "duplicates are bounded by what the victim held (%d slots, %d settling)",
              CONCURRENCY, CONCURRENCY)
          .isLessThanOrEqualTo(2 * CONCURRENCY);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> SqsTestQueues.approximateCount(config.defaultQueue()) == 0);
    }
  }

  private static List<String> sendAll(Server server) throws InterruptedException {
    String[] uuids = new String[TASKS];
    Semaphore parallel = new Semaphore(32);
    List<Thread> senders = new ArrayList<>(TASKS);
    for (int i = 0; i < TASKS; i++) {
      int index = i;
      parallel.acquire();
      senders.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      uuids[index] =
                          server
                              .sendTask(Signature.create("record", Arg.of((long) index)))
                              .signature()
                              .uuid();
                    } finally {
                      parallel.release();
                    }
                  }));
    }
    for (Thread sender : senders) {
      sender.join();
    }
    return List.of(uuids);
  }

  private Process startWorker(Config config, Path executions, Path output) {
    return children.start(
        SqsChildWorkerMain.class,
        output,
        config.broker(),
        config.resultBackend(),
        config.defaultQueue(),
        Integer.toString(CONCURRENCY),
        Integer.toString(VISIBILITY_SECONDS),
        executions.toString());
  }

  private static int lines(Path file) {
    return WorkerProcesses.runs(file).memberRuns();
  }

  private static int distinct(Path... files) {
    return WorkerProcesses.runs(files).members().size();
  }
}
