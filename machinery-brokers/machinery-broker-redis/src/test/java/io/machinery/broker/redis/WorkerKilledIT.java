package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Server;
import io.machinery.State;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A worker process is killed with SIGKILL in the middle of 10,000 tasks; a second worker finishes
 * them. Every task must end SUCCESS (none lost); tasks the dead worker had taken run again once its
 * lease expires (the duplicates are counted and printed).
 */
class WorkerKilledIT {
  private static final int TASKS = 10_000;
  static final Duration LEASE = Duration.ofSeconds(2);

  @Test
  void everyTaskSucceedsAfterAWorkerProcessIsKilledMidRun() throws Exception {
    String url = TestEndpoints.redisUrl();
    String queue = "kill_it_" + UUID.randomUUID().toString().substring(0, 8);
    String runsKey = queue + "_runs";
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(queue).build();
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker = RedisBroker.builder(config).leaseTimeout(LEASE).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      FaultWork.register(server, redis, runsKey);
      List<String> uuids = FaultWork.sendMany(server, TASKS);

      try (WorkerProcesses processes = WorkerProcesses.create()) {
        Kill kill = killMidRunAndFinish(processes, server, redis, queue, runsKey, uuids);
        long inFlight = kill.inFlight();
        long doneBeforeKill = kill.doneBeforeKill();
        Duration recovery = kill.recovery();

        Map<State, Integer> states = FaultWork.states(redis, uuids);
        int duplicates = FaultWork.duplicates(redis, runsKey);
        System.out.printf(
            "[WorkerKilledIT] %d tasks; worker process killed (SIGKILL) after %d had run, holding %d in its"
                + " processing list; all %d SUCCESS %s after the kill (lease %s); %d tasks ran twice; queue left: %d%n",
            TASKS,
            doneBeforeKill,
            inFlight,
            states.get(State.SUCCESS),
            recovery,
            LEASE,
            duplicates,
            redis.await(redis.commands().llen(queue)));
        assertThat(states).containsEntry(State.SUCCESS, TASKS);
        assertThat(redis.await(redis.commands().hlen(runsKey))).isEqualTo(TASKS);
        assertThat(duplicates).isLessThanOrEqualTo((int) inFlight + 10);
        assertThat(redis.await(redis.commands().llen(queue))).isZero();
      } finally {
        deleteKeys(redis, queue, runsKey);
      }
    }
  }

  /**
   * The same with fairness on and every task keyed (20 keys): what a dead worker held goes back to
   * the head of its lane (the reaper's script), and nothing is left in a lane or the ring.
   */
  @Test
  void everyKeyedTaskSucceedsAfterAWorkerProcessWithFairnessIsKilledMidRun() throws Exception {
    String url = TestEndpoints.redisUrl();
    String queue = "kill_fair_" + UUID.randomUUID().toString().substring(0, 8);
    String runsKey = queue + "_runs";
    int tasks = 5_000;
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(queue).build();
    QueueKeys keys = new QueueKeys(queue);
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker =
            RedisBroker.builder(config).leaseTimeout(LEASE).fairness(true).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      FaultWork.register(server, redis, runsKey);
      List<String> uuids =
          FaultWork.sendMany(
              server,
              tasks,
              i ->
                  io.machinery.Signature.builder(FaultWork.TASK)
                      .fairnessKey("tenant-" + i % 20)
                      .build());
      assertThat(redis.await(redis.commands().llen(keys.fairRing()))).isEqualTo(20);
      try (WorkerProcesses processes = WorkerProcesses.create()) {
        Kill kill = killMidRunAndFinish(processes, server, redis, queue, runsKey, uuids, "--fair");
        long inFlight = kill.inFlight();
        long doneBeforeKill = kill.doneBeforeKill();
        int duplicates = FaultWork.duplicates(redis, runsKey);
        System.out.printf(
            "[WorkerKilledIT] %d keyed tasks (20 keys, fairness on); worker process killed after %d had"
                + " run, holding %d in its processing list; all SUCCESS; %d ran twice%n",
            tasks, doneBeforeKill, inFlight, duplicates);
        assertThat(redis.await(redis.commands().hlen(runsKey))).isEqualTo(tasks);
        assertThat(duplicates).isLessThanOrEqualTo(100);
        assertThat(redis.await(redis.commands().llen(keys.fairRing()))).isZero();
        assertThat(redis.await(redis.commands().llen(queue))).isZero();
      } finally {
        deleteKeys(redis, queue, runsKey);
      }
    }
  }

  /** What the kill found and how long the survivor took. */
  private record Kill(long inFlight, long doneBeforeKill, Duration recovery) {}

  /**
   * Starts a worker process ({@code flags} for {@link KillableWorkerMain}), kills it with SIGKILL
   * once a fifth of {@code uuids} ran, then runs a survivor worker of {@code server} until every
   * task's state is SUCCESS.
   */
  private static Kill killMidRunAndFinish(
      WorkerProcesses processes,
      Server server,
      RedisSession redis,
      String queue,
      String runsKey,
      List<String> uuids,
      String... flags)
      throws Exception {
    int tasks = uuids.size();
    Process doomed = startWorkerProcess(processes, TestEndpoints.redisUrl(), queue, runsKey, flags);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> redis.await(redis.commands().hlen(runsKey)) >= tasks / 5);
    long inFlight = inProcessingLists(redis, queue);
    long doneBeforeKill = redis.await(redis.commands().hlen(runsKey));
    long killedAt = System.nanoTime();
    processes.kill(doomed);
    Worker survivor = server.newWorker("survivor", 10);
    survivor.launchAsync();
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofMillis(250))
        .until(() -> FaultWork.states(redis, uuids).getOrDefault(State.SUCCESS, 0) == tasks);
    Duration recovery = Duration.ofNanos(System.nanoTime() - killedAt);
    survivor.quit();
    return new Kill(inFlight, doneBeforeKill, recovery);
  }

  /** Tasks in the processing lists of {@code queue}'s consumers (taken and not settled). */
  private static long inProcessingLists(RedisSession redis, String queue) {
    long inFlight = 0;
    for (String key : redis.await(redis.commands().keys("{" + queue + "}:processing:*"))) {
      inFlight += redis.await(redis.commands().llen(key));
    }
    return inFlight;
  }

  /** Deletes the queue, its tagged keys and the runs hash. */
  private static void deleteKeys(RedisSession redis, String queue, String runsKey) {
    List<String> keys = new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
    keys.add(runsKey);
    keys.add(queue);
    redis.await(redis.commands().del(keys.toArray(new String[0])));
  }

  /**
   * A child JVM running {@link KillableWorkerMain} (10 slots, lease {@link #LEASE}); returns once
   * it consumes.
   */
  static Process startWorkerProcess(
      WorkerProcesses processes, String url, String queue, String runsKey, String... flags)
      throws java.io.IOException {
    Path output =
        Files.createDirectories(Path.of("target", "kill-it"))
            .resolve(queue + "-" + System.nanoTime() + ".out");
    List<String> args = new ArrayList<>(List.of(flags));
    args.addAll(List.of(url, queue, runsKey, "10", Long.toString(LEASE.toMillis())));
    Process process =
        processes.start(KillableWorkerMain.class, output, args.toArray(String[]::new));
    WorkerProcesses.awaitLine(output, "READY", Duration.ofSeconds(60));
    return process;
  }
}
