package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.testkit.WorkerKillKit;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link WorkerKillKit} on the Pub/Sub broker (the emulator) with a Redis backend: what the killed
 * worker held (running or leased) comes back when its ack deadline (10 s here) lapses. Also: a
 * delayed task held by a worker killed before its ETA still runs, never early.
 */
class GcpPubSubWorkerKillIT extends WorkerKillKit {
  private final WorkerProcesses children = WorkerProcesses.create();

  GcpPubSubWorkerKillIT() {
    super(new GcpPubSubChildWorkers(PubSubProjects.name("machinery-test")));
  }

  @AfterEach
  void killChildren() {
    children.close();
  }

  /**
   * A worker process holds a delayed task (its delay pump leased it and waits for the ETA) and is
   * killed with SIGKILL before the ETA: the task still runs, once its lease lapses, on the
   * surviving worker, never early.
   */
  @Test
  void aDelayedTaskHeldByAKilledWorkerStillRunsNeverEarly() throws Exception {
    Config config = deployment().uniqueConfig("kill_delay_it_");
    try {
      killBeforeTheEta(config);
    } finally {
      deployment().cleanUp(config);
    }
  }

  private void killBeforeTheEta(Config config) throws Exception {
    Path dir = Files.createDirectories(Path.of("target", "kill-it", config.defaultQueue()));
    Path victimLog = dir.resolve("victim.executions");
    PubSubProjects.broker(config)
        .build()
        .close(); // creates the topics and subscriptions the workers need
    Path victimOut = dir.resolve("victim.out");
    Process victim = startWorker(config, victimLog, victimOut);
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
    try (GcpPubSubBroker admin = PubSubProjects.broker(config).build()) {
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
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build();
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
      // Never early, and late by at most the rest of the victim's hold lease (~11 s) plus a pull.
      // Usually 11 s late: the victim had set the hold's deadline past the ETA. When that deadline
      // change did not reach the server before the kill (a starved victim; once in a CI run with
      // three modules at a time), the message comes back at the subscription's 10 s deadline,
      // before the ETA, and the survivor holds it until due: 0.4 s late then. Both are correct.
      assertThat(late)
          .as("never early, at most the victim's hold lease late")
          .isBetween(0L, 20_000L);
    }
  }

  private Process startWorker(Config config, Path executions, Path output) {
    return children.start(
        deployment().childMain(), output, deployment().childArgs(config, executions));
  }

  private static int lines(Path file) {
    return WorkerProcesses.runs(file).memberRuns();
  }
}
