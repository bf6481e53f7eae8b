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
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Redis is stopped under a running worker and started again (with its append-only file, as in production: the
 * data is kept). The worker must report the outage (broker errors), reconnect by itself and process the tasks
 * sent after the restart.
 */
class RedisRestartIT {
  private static void run(String script, String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of(script));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("%s: %s", command, output).isZero();
  }

  @Test
  void aWorkerReconnectsByItselfAfterRedisRestarts() throws Exception {
    String url = TestEndpoints.redisUrl();
    String script = TestEndpoints.servicesScript();
    String queue = "restart_it_" + UUID.randomUUID().toString().substring(0, 8);
    String runsKey = queue + "_runs";
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(queue)
        .redis(io.machinery.config.RedisConfig.DEFAULT.withReadTimeout(Duration.ofSeconds(1))).build();
    Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker = RedisBroker.builder(config).leaseTimeout(Duration.ofSeconds(3)).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      FaultWork.register(server, redis, runsKey);
      Worker worker = server.workerBuilder("restart").concurrency(10).errorHandler(errors::add).build();
      worker.launchAsync();
      List<String> before = FaultWork.sendMany(server, 100);
      await().atMost(Duration.ofSeconds(30)).until(() -> FaultWork.states(redis, before).getOrDefault(State.SUCCESS, 0) == 100);

      long start = System.nanoTime();
      run(script, "stop", "redis");
      await().atMost(Duration.ofSeconds(30)).until(() -> !errors.isEmpty()); // the worker notices and says so
      Duration noticed = Duration.ofNanos(System.nanoTime() - start);
      run(script, "start", "redis");
      Duration restartTook = Duration.ofNanos(System.nanoTime() - start);
      // the restart keeps Redis' data (asked once this client has reconnected)
      await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
          .until(() -> redis.await(redis.commands().exists(runsKey)) == 1);

      long sentAt = System.nanoTime();
      List<String> after = await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
          .until(() -> FaultWork.sendMany(server, 200), sent -> sent.size() == 200);
      await().atMost(Duration.ofSeconds(60)).until(() -> FaultWork.states(redis, after).getOrDefault(State.SUCCESS, 0) == 200);
      Duration recovered = Duration.ofNanos(System.nanoTime() - sentAt);
      System.out.printf("[RedisRestartIT] Redis stopped and started again in %s; the worker reported the outage after"
          + " %s (%d broker errors in all, first: %s), reconnected by itself and ran all 200 tasks sent after the"
          + " restart within %s; still running: %s%n", restartTook, noticed, errors.size(), errors.peek(), recovered,
          worker.isRunning());
      assertThat(worker.isRunning()).isTrue();
      worker.quit();
      redis.await(redis.commands().del(runsKey, queue));
    }
  }
}
