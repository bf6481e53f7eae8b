package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A worker process is killed with SIGKILL in the middle of 10,000 tasks; the surviving worker
 * process finishes them. Every task must end SUCCESS and none may be lost; tasks the dead worker
 * held (running or leased) come back when their ack deadline (10 s here) lapses and may run twice
 * (counted).
 */
class GcpPubSubWorkerKillIT {
  private static final int TASKS = 10_000;
  private static final int KILL_AFTER = 3_000;

  private final WorkerProcesses children = WorkerProcesses.create();
  private final String project = PubSubTestSupport.project();

  @AfterEach
  void killChildrenAndDeleteProject() throws Exception {
    children.close();
    PubSubTestSupport.deleteProject(project);
  }

  @Test
  void killingAWorkerProcessMidRunLosesNoTask() throws Exception {
    String emulator = TestEndpoints.pubsubEmulatorHost();
    Config config =
        PubSubTestSupport.config(
            BrokerContract.uniqueQueue(
                Config.builder().resultBackend(TestEndpoints.redisUrl()).build(), "kill_it_"),
            project);
    Path dir = Files.createDirectories(Path.of("target", "kill-it", config.defaultQueue()));
    Path victimLog = dir.resolve("victim.executions");
    Path survivorLog = dir.resolve("survivor.executions");
    try (GcpPubSubBroker broker = PubSubTestSupport.broker(config).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      // The subscription fills first, so the workers run flat out when the victim dies, with tasks
      // in every stage.
      long sendStarted = System.nanoTime();
      AsyncResult[] results = new AsyncResult[TASKS];
      sendAll(server, results);
      double sendSeconds = (System.nanoTime() - sendStarted) / 1e9;
      long started = System.nanoTime();
      Process victim = startWorker(emulator, config, victimLog, dir.resolve("victim.out"));
      Process survivor = startWorker(emulator, config, survivorLog, dir.resolve("survivor.out"));

      await()
          .atMost(Duration.ofMinutes(3))
          .until(() -> lines(victimLog) + lines(survivorLog) >= KILL_AFTER);
      assertThat(victim.isAlive()).as("the victim worker is running").isTrue();
      int victimRunsAtKill = lines(victimLog);
      children.kill(victim); // SIGKILL: no shutdown hook, no ack, no nack
      int doneAtKill = victimRunsAtKill + lines(survivorLog);

      await()
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> distinct(victimLog, survivorLog) == TASKS);
      double runSeconds = (System.nanoTime() - started) / 1e9;

      int successes =
          WorkerProcesses.storedSuccesses(
              server,
              java.util.Arrays.stream(results).map(r -> r.signature().uuid()).toList(),
              Duration.ofSeconds(60));
      assertThat(survivor.isAlive()).isTrue();

      int victimRuns = lines(victimLog);
      int survivorRuns = lines(survivorLog);
      int executions = victimRuns + survivorRuns;
      System.out.printf(
          "[GcpPubSubWorkerKillIT] %d tasks sent in %.1f s; victim (pid %d) killed with SIGKILL after %d"
              + " executions (%d by both); all done %.1f s after the workers started; executions: victim %d, survivor"
              + " %d, total %d, distinct %d, duplicates %d; SUCCESS states read: %d%n",
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
          successes);
      assertThat(successes).as("tasks whose final state is SUCCESS").isEqualTo(TASKS);
      assertThat(distinct(victimLog, survivorLog)).as("tasks run at least once").isEqualTo(TASKS);
      assertThat(executions - TASKS)
          .as("duplicates are bounded by what the victim held")
          .isLessThanOrEqualTo(100);
    }
  }

  /**
   * A worker process holds a delayed task (its delay pump leased it and waits for the ETA) and is
   * killed with SIGKILL before the ETA: the task still runs, once its lease lapses, on the
   * surviving worker, never early.
   */
  @Test
  void aDelayedTaskHeldByAKilledWorkerStillRunsNeverEarly() throws Exception {
    String emulator = TestEndpoints.pubsubEmulatorHost();
    Config config =
        PubSubTestSupport.config(
            BrokerContract.uniqueQueue(
                Config.builder().resultBackend(TestEndpoints.redisUrl()).build(), "kill_delay_it_"),
            project);
    Path dir = Files.createDirectories(Path.of("target", "kill-it", config.defaultQueue()));
    Path victimLog = dir.resolve("victim.executions");
    PubSubTestSupport.broker(config)
        .build()
        .close(); // creates the topics and subscriptions the workers need
    Path victimOut = dir.resolve("victim.out");
    Process victim = startWorker(emulator, config, victimLog, victimOut);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> Files.exists(victimOut) && Files.readString(victimOut).contains("worker ready"));
    java.time.Instant eta = java.time.Instant.now().plusSeconds(12);
    Signature task =
        Signature.builder("record")
            .args(Arg.of(42L))
            .routingKey(config.defaultQueue())
            .eta(eta)
            .build();
    try (GcpPubSubBroker admin = PubSubTestSupport.broker(config).build()) {
      // published as a Java sender does, but raw: a sending broker would start a delay pump of its
      // own
      admin
          .client()
          .publish(
              GcpPubSubBroker.DEFAULT_DELAY_TOPIC,
              io.machinery.wire.WireCodec.encode(task),
              java.util.Map.of(
                  GcpPubSubBroker.ETA_ATTRIBUTE,
                  Long.toString(eta.toEpochMilli()),
                  GcpPubSubBroker.TOPIC_ATTRIBUTE,
                  config.defaultQueue()));
      // held by the victim, the only pump: the delay subscription stays empty (what a probe pull
      // finds goes back)
      java.util.concurrent.Callable<Boolean> nothingToHandOut =
          () -> {
            var found = GcpPubSubBrokerIT.pullNow(admin, GcpPubSubBroker.DEFAULT_DELAY_TOPIC);
            if (!found.isEmpty()) {
              admin
                  .client()
                  .modifyAckDeadline(
                      GcpPubSubBroker.DEFAULT_DELAY_TOPIC,
                      found.stream().map(com.google.pubsub.v1.ReceivedMessage::getAckId).toList(),
                      0);
            }
            return found.isEmpty();
          };
      await()
          .atMost(Duration.ofSeconds(8))
          .pollInterval(Duration.ofMillis(300))
          .until(nothingToHandOut);
      await()
          .during(Duration.ofSeconds(1))
          .atMost(Duration.ofSeconds(2))
          .pollInterval(Duration.ofMillis(300))
          .until(nothingToHandOut);
    }
    assertThat(java.time.Instant.now()).as("killed before the ETA").isBefore(eta);
    children.kill(victim);
    java.util.concurrent.atomic.AtomicLong ranAt = new java.util.concurrent.atomic.AtomicLong();
    try (GcpPubSubBroker broker = PubSubTestSupport.broker(config).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "record",
          io.machinery.TaskFunction.of(
              Long.class,
              x -> {
                ranAt.compareAndSet(0, System.currentTimeMillis());
                return x;
              }));
      server.newWorker("survivor", 2).launchAsync();
      assertThat(server.asyncResult(task.uuid()).get(Duration.ofSeconds(40))).containsExactly(42L);
      long late = ranAt.get() - eta.toEpochMilli();
      System.out.printf(
          "[GcpPubSubWorkerKillIT] a delayed task held by a worker killed before its ETA ran %d ms after"
              + " the ETA on the surviving worker (victim runs: %d)%n",
          late, lines(victimLog));
      assertThat(lines(victimLog)).as("the victim died before running it").isZero();
      assertThat(late)
          .as("never early; late by the rest of the victim's hold lease (~10 s) plus a pull")
          .isBetween(5_000L, 20_000L);
    }
  }

  /** Sends the tasks, 32 at a time. */
  private static void sendAll(Server server, AsyncResult[] results) throws InterruptedException {
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
  }

  private Process startWorker(String emulator, Config config, Path executions, Path output) {
    return children.start(
        ChildWorkerMain.class,
        output,
        emulator,
        config.broker(),
        config.defaultQueue(),
        config.resultBackend(),
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
