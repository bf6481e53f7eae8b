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
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Issue 12's CPU-bound fault test (F5): tasks that compute for {@code -Dmachinery.cpu.seconds}
 * (default 20 s) at the worker's default concurrency (2 x cores: 4 on the 2 cores here) and on its
 * default virtual threads, which a computing task never yields, so the tasks hold every carrier for
 * the whole run. The worker's lease must never expire (its heartbeats run on a platform thread; a
 * platform thread samples the lease's time to live), and a second worker on the queue, whose
 * maintenance would reap an expired lease and run the tasks again, must find nothing: each task
 * runs exactly once and ends SUCCESS.
 */
class CpuBoundTasksIT {
  private static final Duration COMPUTE =
      Duration.ofSeconds(Long.getLong("machinery.cpu.seconds", 20));

  @Test
  void cpuBoundTasksAtDefaultConcurrencyRunOnceAndNoLeaseExpires() throws Exception {
    String url = TestEndpoints.redisUrl();
    String queue = "cpu_it_" + UUID.randomUUID().toString().substring(0, 8);
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(queue).build();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    TaskFunction compute =
        TaskFunction.withContext(
            List.of(),
            false,
            (context, args) -> {
              runs.computeIfAbsent(context.signature().uuid(), k -> new AtomicInteger())
                  .incrementAndGet();
              long end = System.nanoTime() + COMPUTE.toNanos();
              long x = 0;
              while (System.nanoTime() - end < 0) {
                x += System.nanoTime() & 1; // never blocks, never yields its carrier
              }
              return x >= 0 ? null : null;
            });
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        RedisBroker otherBroker = RedisBroker.create(config);
        RedisBackend otherBackend = RedisBackend.create(config);
        Server other =
            Server.builder().config(config).broker(otherBroker).backend(otherBackend).build()) {
      server.registerTask("compute", compute);
      other.registerTask("compute", compute);
      Worker worker = server.workerBuilder("cpu").build(); // default concurrency
      int concurrency = 2 * Runtime.getRuntime().availableProcessors();
      worker.launchAsync();
      List<AsyncResult> results = new ArrayList<>();
      for (int i = 0; i < concurrency; i++) {
        results.add(server.sendTask(Signature.create("compute")));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> !runs.isEmpty());
      List<String> consumers = new ArrayList<>();
      redis
          .await(redis.commands().smembers("{" + queue + "}:consumers"))
          .forEach(id -> consumers.add(new String(id, StandardCharsets.UTF_8)));
      assertThat(consumers).as("the computing worker's consumer").hasSize(1);
      String leaseKey = "{" + queue + "}:lease:" + consumers.get(0);
      other.newWorker("would-reap", 1).launchAsync(); // its maintenance reaps expired leases

      long started = System.nanoTime();
      long[] shortestTtl = {Long.MAX_VALUE};
      int[] expired = {0};
      await()
          .atMost(COMPUTE.multipliedBy(concurrency).plusSeconds(60))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                long ttl =
                    redis.await(
                        redis.commands().pttl(leaseKey)); // sampled on Awaitility's platform thread
                if (ttl < 0) {
                  expired[0]++;
                } else {
                  shortestTtl[0] = Math.min(shortestTtl[0], ttl);
                }
                return results.stream().allMatch(r -> r.state() == State.SUCCESS);
              });
      double seconds = (System.nanoTime() - started) / 1e9;
      int totalRuns = runs.values().stream().mapToInt(AtomicInteger::get).sum();
      System.out.printf(
          "[CpuBoundTasksIT] %d tasks computing %d s each on %d cores at the default concurrency %d"
              + " (virtual threads): all SUCCESS after %.1f s; runs %d (duplicates %d); lease %d ms: shortest time to live"
              + " seen %d ms, samples with the lease gone %d%n",
          concurrency,
          COMPUTE.toSeconds(),
          Runtime.getRuntime().availableProcessors(),
          worker.concurrency(),
          seconds,
          totalRuns,
          totalRuns - runs.size(),
          RedisBroker.DEFAULT_LEASE_TIMEOUT.toMillis(),
          shortestTtl[0],
          expired[0]);
      assertThat(worker.concurrency()).isEqualTo(concurrency);
      assertThat(expired[0]).as("samples where the computing worker's lease had expired").isZero();
      assertThat(runs).hasSize(concurrency);
      assertThat(runs.values())
          .allSatisfy(n -> assertThat(n.get()).as("runs of a task").isEqualTo(1));
    } finally {
      try (RedisSession redis = RedisSession.open(url, config)) {
        List<String> keys =
            new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
        keys.add(queue);
        redis.await(redis.commands().del(keys.toArray(new String[0])));
      }
    }
  }
}
