package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.ConsumerRefusedException;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.OwnRedisServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * A worker launched while its Redis cannot serve it keeps trying to start (as Go's does) and runs
 * the waiting tasks once Redis can: a redis-server of the test's own, stopped, or out of memory
 * ({@code maxmemory} with {@code noeviction}: the consumer's scripts run, as they write first with
 * commands a full Redis allows (see RedisOutOfMemoryIT), but no result can be stored until memory
 * is freed). Before, the launch's future failed after the first attempt, nothing was logged, and
 * the worker stayed stopped with its queue full (found by trying it). A user Redis refuses the
 * consumer's scripts ({@code NOPERM}) fails the launch at once instead.
 */
class RedisWorkerStartIT {
  private static final int TASKS = 20;
  private static final Duration SETTLED = Duration.ofSeconds(60);

  @Test
  void aWorkerLaunchedWhileItsRedisRefusesWritesStartsOnceMemoryIsFreed() throws Exception {
    Path dir = Files.createTempDirectory("redis-worker-start-oom");
    int port = OwnRedisServer.freePort();
    List<String> args = FullRedis.args(port);
    Config config = config(port);
    try (OwnRedisServer redis = OwnRedisServer.start(dir, port, args);
        RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        RedisSession filler = RedisSession.open(url(port), config)) {
      server.registerTask("work", TaskFunction.of(() -> null));
      List<AsyncResult> results = send(server);
      int fillers = FullRedis.fillUntilRefused(filler);

      Worker worker = server.workerBuilder("start_oom").concurrency(4).build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).as("the launch while Redis refuses writes").isNotDone();
      assertThat(worker.isRunning()).isTrue();

      for (int i = 0; i < fillers; i++) {
        filler.await(filler.commands().del("filler:" + i));
      }
      await()
          .atMost(SETTLED)
          .until(() -> results.stream().allMatch(r -> r.state() == State.SUCCESS));
      worker.quit();
      assertThat(done).isCompleted().isNotCompletedExceptionally();
    }
  }

  @Test
  void aWorkerLaunchedWhileItsRedisIsDownStartsWhenItComesBack() throws Exception {
    Path dir = Files.createTempDirectory("redis-worker-start-down");
    int port = OwnRedisServer.freePort();
    List<String> args =
        OwnRedisServer.plainArgs(port, "--appendonly", "yes", "--appendfsync", "always");
    Config config = config(port);
    OwnRedisServer redis = OwnRedisServer.start(dir, port, args);
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("work", TaskFunction.of(() -> null));
      List<AsyncResult> results = send(server);
      redis.close(); // the tasks stay in its append-only file

      Worker worker = server.workerBuilder("start_down").concurrency(4).build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).as("the launch while Redis is down").isNotDone();
      assertThat(worker.isRunning()).isTrue();

      redis = OwnRedisServer.start(dir, port, args);
      await()
          .atMost(SETTLED)
          .until(() -> results.stream().allMatch(r -> stateOrNull(r) == State.SUCCESS));
      worker.quit();
      assertThat(done).isCompleted().isNotCompletedExceptionally();
    } finally {
      redis.close();
    }
  }

  @Test
  void aWorkerWhoseRedisUserMayNotRunScriptsFailsItsLaunchAtOnce() throws Exception {
    Path dir = Files.createTempDirectory("redis-worker-start-noperm");
    int port = OwnRedisServer.freePort();
    List<String> args =
        OwnRedisServer.plainArgs(
            port, "--user", "noscripts", "on", ">secret", "~*", "&*", "+@all", "-@scripting");
    Config config =
        config(port).toBuilder().broker("redis://noscripts:secret@127.0.0.1:" + port).build();
    try (OwnRedisServer redis = OwnRedisServer.start(dir, port, args);
        RedisBroker broker = RedisBroker.create(config);
        Server server = Server.builder().config(config).broker(broker).build()) {
      Worker worker = server.workerBuilder("start_noperm").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).as("the launch, at once").isCompletedExceptionally();
      assertThatThrownBy(done::join)
          .hasCauseInstanceOf(ConsumerRefusedException.class)
          .hasMessageContaining("NOPERM");
      assertThat(worker.isRunning()).isFalse();
    }
  }

  /** Short timeouts, so that the first attempt against a stopped server fails within seconds. */
  private static Config config(int port) {
    return Config.builder()
        .broker(url(port))
        .resultBackend(url(port))
        .defaultQueue("worker_start")
        .redis(
            RedisConfig.builder()
                .readTimeout(Duration.ofSeconds(2))
                .connectTimeout(Duration.ofSeconds(2))
                .build())
        .build();
  }

  private static String url(int port) {
    return "redis://127.0.0.1:" + port;
  }

  private static List<AsyncResult> send(Server server) {
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < TASKS; i++) {
      results.add(server.sendTask(Signature.create("work")));
    }
    return results;
  }

  /** The state, or null while the backend cannot be read (Redis not up yet). */
  private static State stateOrNull(AsyncResult result) {
    try {
      return result.state();
    } catch (MachineryException e) {
      return null;
    }
  }
}
