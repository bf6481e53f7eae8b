package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A worker that resumes after its broker handed its message to another worker cannot overwrite what
 * that copy stored (the zombie worker of peers' issue trackers). A worker process runs {@link
 * WorkerProcesses#STALL stall(1)} (two retries left) and is stopped with SIGSTOP in the middle of
 * it, as a long collection or a frozen VM would stop it; once its hold lapses (a Redis lease, an
 * AMQP connection's heartbeats, an SQS visibility timeout, a Pub/Sub ack deadline) the broker hands
 * the message to a second worker, whose run succeeds. Then the first resumes, and its run fails.
 * Without the hold check it would store RETRY over the stored SUCCESS and publish a retry; with it
 * the first run records nothing ({@code outcome:RETRY:false}) and the task stays SUCCESS with the
 * second run's result.
 *
 * <p>Subclass it per broker and backend with the {@link ChildWorkerDeployment} to run, whose child
 * main adds {@link WorkerProcesses#outcomeLog} to its server; {@link #withShortHolds} makes the
 * hold short enough for a test.
 */
public abstract class PausedWorkerKit {
  private final ChildWorkerDeployment deployment;

  protected PausedWorkerKit(ChildWorkerDeployment deployment) {
    this.deployment = deployment;
  }

  /**
   * {@code config} with the broker's hold short enough for a test (an AMQP heartbeat of a second,
   * say); the default keeps it (the deployment's own is short).
   */
  protected Config withShortHolds(Config config) {
    return config;
  }

  @Test
  void aWorkerPausedPastItsHoldDoesNotOverwriteWhatTheCopyHandedOutAgainStored() throws Exception {
    Config config = withShortHolds(deployment.uniqueConfig("paused_it_"));
    Path dir = Files.createDirectories(Path.of("target", "paused-it", config.defaultQueue()));
    Path victimLog = dir.resolve("victim.executions");
    Path survivorLog = dir.resolve("survivor.executions");
    Path victimLines = WorkerProcesses.pausedLog(victimLog);
    Path survivorLines = WorkerProcesses.pausedLog(survivorLog);
    String uuid = "";
    try (Broker broker = deployment.createBroker(config);
        Backend backend = deployment.createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        WorkerProcesses children = WorkerProcesses.create()) {
      Process victim =
          children.start(
              deployment.childMain(),
              dir.resolve("victim.out"),
              deployment.childArgs(config, victimLog));
      AsyncResult sent =
          server.sendTask(
              Signature.builder(WorkerProcesses.STALL).args(Arg.of(1L)).retryCount(2).build());
      uuid = sent.taskUuid();
      await()
          .atMost(Duration.ofMinutes(2))
          .until(() -> WorkerProcesses.lines(victimLines).contains("start:1"));

      children.pause(victim);
      List<Object> results;
      try {
        children.start(
            deployment.childMain(),
            dir.resolve("survivor.out"),
            deployment.childArgs(config, survivorLog));
        // the broker hands the message on once the paused worker's hold lapsed
        results = sent.get(Duration.ofMinutes(2));
        Files.createFile(WorkerProcesses.releaseFile(victimLog, 1));
      } finally {
        children.resume(victim);
      }
      assertThat(results).containsExactly(1L);

      await()
          .atMost(Duration.ofMinutes(1))
          .until(
              () ->
                  WorkerProcesses.lines(victimLines).stream()
                      .anyMatch(line -> line.startsWith("outcome:")));
      assertThat(WorkerProcesses.lines(victimLines))
          .as("the paused run failed after its release and recorded nothing")
          .containsExactly("start:1", "end:1", "outcome:" + State.RETRY + ":false");
      assertThat(WorkerProcesses.lines(survivorLines))
          .as("the copy handed out again ran once and recorded its SUCCESS")
          .containsExactly("rerun:1", "outcome:" + State.SUCCESS + ":true");
      TaskState stored = backend.getState(uuid).orElseThrow();
      assertThat(stored.state()).as("the stored state").isEqualTo(State.SUCCESS);
      assertThat(server.asyncResult(uuid).get(Duration.ofSeconds(10))).containsExactly(1L);
      System.out.printf(
          "[%s] the paused worker's run recorded nothing; the task stayed SUCCESS%n",
          getClass().getSimpleName());
    } finally {
      try (Backend backend = deployment.createBackend(config)) {
        if (!uuid.isEmpty()) {
          backend.purgeState(uuid);
        }
      } finally {
        deployment.cleanUp(config);
      }
    }
  }
}
