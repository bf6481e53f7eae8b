package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.TaskListener;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * Issue 12's outage fault test (F3) on real servers: the result backend is a redis-server of this
 * test's own (append-only file on, as in production), stopped for {@code
 * -Dmachinery.outage.seconds} (default 60) while a worker runs tasks from the shared Redis broker,
 * then started again on the same port and data; the worker's post-task handler throws after every
 * task. Each task body must run at most once (a body that returned is never run again for its
 * bookkeeping), and every task must end with a recorded outcome: SUCCESS stored, or, where the
 * bookkeeping ran out of attempts, dead-lettered with the reason. The figures are printed.
 */
class BackendOutageIT {
  private static final int TASKS = 1_000;
  private static final Duration WORK = Duration.ofMillis(50);
  private static final Duration OUTAGE =
      Duration.ofSeconds(Long.getLong("machinery.outage.seconds", 60));

  @Test
  void aBackendDownForAMinuteAndAThrowingPostTaskHandlerRunEachTaskBodyOnce() throws Exception {
    Path dir = Files.createTempDirectory("backend-outage-it");
    int port = OwnRedisServer.freePort();
    List<String> args =
        OwnRedisServer.plainArgs(port, "--appendonly", "yes", "--appendfsync", "always");
    String queue = "outage_it_" + UUID.randomUUID().toString().substring(0, 8);
    Config config =
        Config.builder()
            .broker(TestEndpoints.redisUrl())
            .resultBackend("redis://127.0.0.1:" + port)
            .defaultQueue(queue)
            .build();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    Set<String> deadLettered = ConcurrentHashMap.newKeySet();
    AtomicInteger postHandlerThrows = new AtomicInteger();
    OwnRedisServer backendServer = OwnRedisServer.start(dir, port, args);
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server =
            Server.builder()
                .config(config)
                .broker(broker)
                .backend(backend)
                .listener(
                    new TaskListener() {
                      @Override
                      public void deadLettered(
                          String from, @Nullable Signature signature, String reason) {
                        if (signature != null) {
                          deadLettered.add(signature.uuid());
                        }
                      }
                    })
                .build()) {
      server.registerTask(
          "work",
          TaskFunction.withContext(
              List.of(),
              false,
              (context, a) -> {
                runs.computeIfAbsent(context.signature().uuid(), k -> new AtomicInteger())
                    .incrementAndGet();
                LockSupport.parkNanos(WORK.toNanos());
                return null;
              }));
      List<AsyncResult> results = new ArrayList<>();
      for (int i = 0; i < TASKS; i++) {
        results.add(server.sendTask(Signature.create("work")));
      }
      Worker worker =
          server
              .workerBuilder("outage")
              .concurrency(10)
              .postTaskHandler(
                  s -> {
                    postHandlerThrows.incrementAndGet();
                    throw new AssertionError("post-task handler broke on " + s.uuid());
                  })
              .build();
      worker.launchAsync();

      await().atMost(Duration.ofSeconds(60)).until(() -> runs.size() >= TASKS / 5);
      int ranBeforeOutage = runs.size();
      backendServer.close(); // SIGTERM: the backend is gone
      long down = System.nanoTime();
      await()
          .atMost(OUTAGE.plusSeconds(5))
          .pollInterval(Duration.ofMillis(250))
          .until(() -> System.nanoTime() - down >= OUTAGE.toNanos());
      int ranDuringOutage = runs.size() - ranBeforeOutage;
      backendServer = OwnRedisServer.start(dir, port, args);
      long up = System.nanoTime();

      // every task ends SUCCESS or dead-lettered; the rest must still move, so stop once nothing
      // moved for 60 s
      int[] last = {-1};
      long[] since = {System.nanoTime()};
      await()
          .atMost(Duration.ofMinutes(5))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () -> {
                int settled = settled(results, deadLettered);
                if (settled != last[0]) {
                  last[0] = settled;
                  since[0] = System.nanoTime();
                }
                return settled == TASKS
                    || System.nanoTime() - since[0] > Duration.ofSeconds(60).toNanos();
              });
      double recovery = (System.nanoTime() - up) / 1e9;
      long success = results.stream().filter(r -> r.state() == State.SUCCESS).count();
      int totalRuns = runs.values().stream().mapToInt(AtomicInteger::get).sum();
      System.out.printf(
          "[BackendOutageIT] %d tasks of %d ms, concurrency 10, post-task handler throwing; backend"
              + " redis-server (port %d) stopped for %d s after %d tasks ran (%d ran during the outage), all settled %.1f s"
              + " after it came back: SUCCESS %d, dead-lettered %d, unsettled %d; task bodies run %d (distinct %d,"
              + " duplicates %d); post-task handler threw %d times%n",
          TASKS,
          WORK.toMillis(),
          port,
          OUTAGE.toSeconds(),
          ranBeforeOutage,
          ranDuringOutage,
          recovery,
          success,
          deadLettered.size(),
          TASKS - settled(results, deadLettered),
          totalRuns,
          runs.size(),
          totalRuns - runs.size(),
          postHandlerThrows.get());
      assertThat(runs.values())
          .as("task bodies run more than once")
          .allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
      assertThat(settled(results, deadLettered))
          .as("tasks with a recorded outcome")
          .isEqualTo(TASKS);
      assertThat(success).as("SUCCESS stored").isEqualTo(TASKS - deadLettered.size());
    } finally {
      backendServer.close();
      try (RedisSession redis = RedisSession.open(TestEndpoints.redisUrl(), config)) {
        List<String> keys =
            new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
        keys.add(queue);
        redis.await(redis.commands().del(keys.toArray(new String[0])));
      }
    }
  }

  private static int settled(List<AsyncResult> results, Set<String> deadLettered) {
    int settled = 0;
    for (AsyncResult r : results) {
      if (deadLettered.contains(r.taskUuid()) || r.state() == State.SUCCESS) {
        settled++;
      }
    }
    return settled;
  }
}
