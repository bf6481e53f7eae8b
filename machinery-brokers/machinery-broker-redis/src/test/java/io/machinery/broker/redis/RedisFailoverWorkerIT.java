package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.DroppingTcpProxy;
import io.machinery.testkit.OwnRedisServer;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;

/**
 * A worker (Redis broker and backend) keeps processing after a failover behind its one address (a
 * managed Redis' primary endpoint): A, the primary, is demoted to a replica of B, and the address
 * leads new connections to B while existing ones stay on A. Before, every fetch, every blocking
 * move and every send was answered {@code READONLY} by A for ever.
 */
class RedisFailoverWorkerIT {
  private static final Duration PATIENCE = Duration.ofSeconds(30);

  @Test
  void aWorkerProcessesTasksSentAfterAFailoverBehindItsAddress() throws Exception {
    int portA = OwnRedisServer.freePort();
    int portB = OwnRedisServer.freePort();
    try (OwnRedisServer a =
            OwnRedisServer.start(
                Files.createTempDirectory("redis-failover-worker-a"),
                portA,
                OwnRedisServer.plainArgs(portA));
        OwnRedisServer b =
            OwnRedisServer.start(
                Files.createTempDirectory("redis-failover-worker-b"),
                portB,
                OwnRedisServer.plainArgs(portB));
        DroppingTcpProxy address = DroppingTcpProxy.start("127.0.0.1", portA)) {
      String url = "redis://127.0.0.1:" + address.port();
      Config config =
          Config.builder()
              .broker(url)
              .resultBackend(url)
              .defaultQueue("failover_tasks")
              .redis(RedisConfig.DEFAULT.withReadTimeout(Duration.ofSeconds(2)))
              .build();
      Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
      try (RedisSession adminA = RedisSession.open(a.url(), config);
          RedisSession adminB = RedisSession.open(b.url(), config);
          RedisBroker broker = RedisBroker.builder(config).build();
          RedisBackend backend = RedisBackend.create(config);
          Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
        server.registerTask("echo", TaskFunction.of(String.class, x -> x));
        Worker worker =
            server.workerBuilder("failover").concurrency(4).errorHandler(errors::add).build();
        worker.launchAsync();
        List<String> before = send(server, 20);
        await()
            .atMost(PATIENCE)
            .until(() -> FaultWork.states(adminA, before).getOrDefault(State.SUCCESS, 0) == 20);

        adminB.await(adminB.commands().replicaofNoOne());
        adminA.await(adminA.commands().replicaof("127.0.0.1", portB));
        address.switchTo("127.0.0.1", portB);

        List<String> after =
            await().atMost(PATIENCE).ignoreExceptions().until(() -> send(server, 50), s -> true);
        await()
            .atMost(PATIENCE)
            .until(() -> FaultWork.states(adminB, after).getOrDefault(State.SUCCESS, 0) == 50);
        assertThat(worker.isRunning()).isTrue();
        worker.quit();
      }
    }
  }

  /** Sends {@code count} tasks one after the other; the first refused send throws. */
  private static List<String> send(Server server, int count) {
    List<String> uuids = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      uuids.add(
          server
              .sendTask(Signature.builder("echo").args(Arg.of("x" + i)).build())
              .signature()
              .uuid());
    }
    return uuids;
  }
}
