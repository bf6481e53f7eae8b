package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.Inspector;
import io.machinery.spi.WorkerStatus;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Workers on a real Redis, seen and steered through the control plane the way the CLI does: two
 * workers of one server are listed with their running tasks; pausing their queue stops both from
 * fetching (the tasks stay in the queue across several heartbeats) and resuming drains it; a worker
 * process killed with SIGKILL stays listed until its announcement's time to live runs out, then
 * disappears.
 */
class RedisControlPlaneEndToEndIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final Duration BEAT = Duration.ofMillis(200);

  private final String url = url();
  private final String queue = "cp_e2e_" + UUID.randomUUID().toString().substring(0, 8);
  private final Config config =
      Config.builder().broker(url).resultBackend(url).defaultQueue(queue).build();
  private final RedisBroker broker = RedisBroker.create(config);
  private final RedisBackend backend = RedisBackend.create(config);
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();
  private final ControlPlane plane = server.controlPlane().orElseThrow();
  private final Inspector inspector = broker.inspector().orElseThrow();
  private final CountDownLatch release = new CountDownLatch(1);

  /** The Redis under test; a subclass runs the same against the cluster. */
  protected String url() {
    return TestEndpoints.redisUrl();
  }

  RedisControlPlaneEndToEndIT() {
    server.registerTask(
        "block",
        TaskFunction.of(
            () -> {
              release.await();
              return "done";
            }));
    server.registerTask("quick", TaskFunction.of(() -> "quick"));
  }

  @AfterEach
  void tearDown() {
    release.countDown();
    plane.resume(queue);
    server.close();
    broker.close();
    backend.close();
  }

  private List<WorkerStatus> workersOfQueue() {
    return plane.workers().stream().filter(w -> w.queue().equals(queue)).toList();
  }

  /**
   * Waits for a heartbeat of each worker taken after now, so what the workers did before is
   * settled.
   */
  private List<WorkerStatus> nextBeats(Worker... workers) {
    Instant now = Instant.now();
    List<String> ids =
        List.of(workers).stream().map(w -> w.controlPlaneId().orElseThrow()).toList();
    return await()
        .atMost(PATIENCE)
        .until(
            () ->
                workersOfQueue().stream()
                    .filter(w -> ids.contains(w.id()) && w.heartbeatAt().isAfter(now))
                    .toList(),
            beats -> beats.size() == ids.size());
  }

  @Test
  void twoWorkersAreListedWithTheirTasksStopFetchingWhenTheQueueIsPausedAndDrainItWhenResumed() {
    Worker first = server.workerBuilder("cp-first").concurrency(1).heartbeatInterval(BEAT).build();
    Worker second =
        server.workerBuilder("cp-second").concurrency(1).heartbeatInterval(BEAT).build();
    first.launchAsync();
    second.launchAsync();
    List<String> blocking =
        List.of(
            server.sendTask(Signature.builder("block").build()).taskUuid(),
            server.sendTask(Signature.builder("block").build()).taskUuid());

    List<WorkerStatus> busy =
        await()
            .atMost(PATIENCE)
            .until(
                () -> nextBeats(first, second),
                beats -> beats.stream().allMatch(w -> w.busy() == 1));
    assertThat(busy).extracting(WorkerStatus::consumerTag).containsExactly("cp-first", "cp-second");
    assertThat(busy)
        .flatExtracting(WorkerStatus::running)
        .extracting(WorkerStatus.RunningTask::uuid)
        .containsExactlyInAnyOrderElementsOf(blocking);
    assertThat(busy)
        .allSatisfy(
            w -> {
              assertThat(w.concurrency()).isEqualTo(1);
              assertThat(w.pid()).isEqualTo(ProcessHandle.current().pid());
              assertThat(w.paused()).isFalse();
            });
    assertThat(backend.controlPlane().orElseThrow().workers())
        .as("the backend's control plane is the same one")
        .extracting(WorkerStatus::id)
        .containsAll(busy.stream().map(WorkerStatus::id).toList());

    plane.pause(queue);
    await()
        .atMost(PATIENCE)
        .until(() -> nextBeats(first, second).stream().allMatch(WorkerStatus::paused));
    release.countDown();
    List<AsyncResult> later = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      later.add(server.sendTask(Signature.builder("quick").build()));
    }
    nextBeats(first, second);
    nextBeats(first, second);
    assertThat(inspector.queue(queue).pending()).as("nothing fetched while paused").isEqualTo(5);
    assertThat(later).allSatisfy(r -> assertThat(r.state()).isEqualTo(State.PENDING));
    assertThat(plane.pausedQueues()).contains(queue);

    plane.resume(queue);
    for (AsyncResult result : later) {
      assertThat(result.get(PATIENCE)).containsExactly("quick");
    }
    assertThat(inspector.queue(queue).pending()).isZero();
    assertThat(nextBeats(first, second)).noneMatch(WorkerStatus::paused);

    first.quitAbruptly();
    second.quit();
    assertThat(workersOfQueue()).as("stopped workers withdraw at once").isEmpty();
  }

  @Test
  void aKilledWorkerProcessDisappearsWhenItsTimeToLiveRunsOut() throws Exception {
    Duration beat =
        Duration.ofSeconds(1); // a time to live of 3 s: long enough to see it listed after the kill
    java.nio.file.Path output =
        java.nio.file.Files.createDirectories(java.nio.file.Path.of("target", "kill-it"))
            .resolve(queue + "-heartbeat.out");
    try (io.machinery.testkit.WorkerProcesses processes =
        io.machinery.testkit.WorkerProcesses.create()) {
      Process doomed =
          processes.start(
              HeartbeatWorkerMain.class, output, url, queue, Long.toString(beat.toMillis()));
      io.machinery.testkit.WorkerProcesses.awaitLine(output, "READY", Duration.ofSeconds(60));
      WorkerStatus status =
          await().atMost(PATIENCE).until(this::workersOfQueue, w -> w.size() == 1).get(0);
      assertThat(status.pid()).isEqualTo(doomed.pid());

      doomed.destroyForcibly();
      doomed.waitFor();
      long killedAt = System.nanoTime();
      assertThat(workersOfQueue()).as("still listed: a killed worker withdraws nothing").hasSize(1);

      await().atMost(PATIENCE).until(() -> workersOfQueue().isEmpty());
      Duration gone = Duration.ofNanos(System.nanoTime() - killedAt);
      System.out.printf(
          "[RedisControlPlaneEndToEndIT] killed worker unlisted %s after SIGKILL (heartbeat %s)%n",
          gone, beat);
    }
  }
}
