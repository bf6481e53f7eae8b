package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Server;
import io.machinery.State;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.OwnRedisServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;

/**
 * Redis (a server of this test's own, so the shared one stays up for the tests running beside it)
 * is stopped under a running worker and started again (with its append-only file, as in production:
 * the data is kept). The worker must report the outage (broker errors), reconnect by itself and
 * process the tasks sent after the restart.
 */
class RedisRestartIT {
  /** Redis as scripts/services.sh runs it (append-only file), on a port of this test's own. */
  private static OwnRedisServer startRedis(Path dir, int port) throws IOException {
    return OwnRedisServer.start(
        dir,
        port,
        OwnRedisServer.plainArgs(port, "--appendonly", "yes", "--appendfsync", "everysec"));
  }

  @Test
  void aWorkerReconnectsByItselfAfterRedisRestarts() throws Exception {
    Path dir = Files.createTempDirectory("redis-restart-it");
    int port = OwnRedisServer.freePort();
    OwnRedisServer redisServer = startRedis(dir, port);
    String url = "redis://127.0.0.1:" + port;
    String queue = "restart_it_" + UUID.randomUUID().toString().substring(0, 8);
    String runsKey = queue + "_runs";
    Config config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue(queue)
            .redis(io.machinery.config.RedisConfig.DEFAULT.withReadTimeout(Duration.ofSeconds(1)))
            .build();
    Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker =
            RedisBroker.builder(config).leaseTimeout(Duration.ofSeconds(3)).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      FaultWork.register(server, redis, runsKey);
      Worker worker =
          server.workerBuilder("restart").concurrency(10).errorHandler(errors::add).build();
      worker.launchAsync();
      List<String> before = FaultWork.sendMany(server, 100);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> FaultWork.states(redis, before).getOrDefault(State.SUCCESS, 0) == 100);

      long start = System.nanoTime();
      redisServer.close();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> !errors.isEmpty()); // the worker notices and says so
      Duration noticed = Duration.ofNanos(System.nanoTime() - start);
      redisServer = startRedis(dir, port);
      Duration restartTook = Duration.ofNanos(System.nanoTime() - start);
      // the restart keeps Redis' data (asked once this client has reconnected)
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .until(() -> redis.await(redis.commands().exists(runsKey)) == 1);

      long sentAt = System.nanoTime();
      List<String> after =
          await()
              .atMost(Duration.ofSeconds(60))
              .ignoreExceptions()
              .until(() -> FaultWork.sendMany(server, 200), sent -> sent.size() == 200);
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> FaultWork.states(redis, after).getOrDefault(State.SUCCESS, 0) == 200);
      Duration recovered = Duration.ofNanos(System.nanoTime() - sentAt);
      System.out.printf(
          "[RedisRestartIT] Redis stopped and started again in %s; the worker reported the outage after"
              + " %s (%d broker errors in all, first: %s), reconnected by itself and ran all 200 tasks sent after the"
              + " restart within %s; still running: %s%n",
          restartTook, noticed, errors.size(), errors.peek(), recovered, worker.isRunning());
      assertThat(worker.isRunning()).isTrue();
      worker.quit();
    } finally {
      redisServer.close();
    }
  }

  /**
   * 100,000 delayed tasks become due while Redis is restarted (stop with SIGTERM, start from its
   * append-only file): every one is delivered, none lost; a restart without persistence loses every
   * one still in Redis.
   */
  @Test
  void noDelayedTaskIsLostWhenRedisRestartsWhileTheyBecomeDue() throws Exception {
    Path dir = Files.createTempDirectory("redis-durable-it");
    int port = OwnRedisServer.freePort();
    OwnRedisServer redisServer = startRedis(dir, port);
    String url = "redis://127.0.0.1:" + port;
    String id = UUID.randomUUID().toString().substring(0, 8);
    String queue = "durable_it_" + id;
    String delayedKey = "delayed_durable_it_" + id;
    int total = 100_000;
    Config config =
        Config.builder()
            .broker(url)
            .defaultQueue(queue)
            .redis(
                io.machinery.config.RedisConfig.DEFAULT
                    .withReadTimeout(Duration.ofSeconds(1))
                    .withDelayedTasksKey(delayedKey)
                    .withDelayedTasksPollPeriod(Duration.ofMillis(100)))
            .build();
    java.util.Set<String> delivered = java.util.concurrent.ConcurrentHashMap.newKeySet();
    java.util.concurrent.atomic.AtomicInteger deliveries =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(200);
    io.machinery.spi.DeliveryHandler handler =
        new io.machinery.spi.DeliveryHandler() {
          @Override
          public int reserve(int max) throws InterruptedException {
            slots.acquire();
            int n = 1;
            while (n < max && slots.tryAcquire()) {
              n++;
            }
            return n;
          }

          @Override
          public void release(int n) {
            slots.release(n);
          }

          @Override
          public void handle(io.machinery.spi.Delivery delivery) {
            delivered.add(new String(delivery.body(), java.nio.charset.StandardCharsets.UTF_8));
            deliveries.incrementAndGet();
            delivery.ack();
            slots.release();
          }

          @Override
          public void handleNow(io.machinery.spi.Delivery delivery) {
            handle(delivery);
          }

          @Override
          public void brokerError(Throwable error) {}
        };
    try (RedisSession redis = RedisSession.open(url, config)) {
      long due = RedisBroker.nanos(java.time.Instant.now().plusSeconds(2));
      List<java.util.concurrent.CompletableFuture<Long>> adds = new java.util.ArrayList<>();
      for (int batch = 0; batch < total / 1000; batch++) {
        List<io.lettuce.core.ScoredValue<byte[]>> members = new java.util.ArrayList<>();
        for (int i = batch * 1000; i < (batch + 1) * 1000; i++) {
          byte[] message =
              io.machinery.wire.WireCodec.encode(
                  io.machinery.Signature.builder("t" + i).routingKey(queue).build());
          members.add(io.lettuce.core.ScoredValue.just((double) due + i, message));
        }
        @SuppressWarnings("unchecked")
        io.lettuce.core.ScoredValue<byte[]>[] array =
            members.toArray(new io.lettuce.core.ScoredValue[0]);
        adds.add(redis.commands().zadd(delayedKey, array).toCompletableFuture());
      }
      for (java.util.concurrent.CompletableFuture<Long> add : adds) {
        redis.await(add);
      }
      try (RedisBroker broker =
          RedisBroker.builder(config).leaseTimeout(Duration.ofSeconds(5)).build()) {
        broker.startConsuming("durable", "", handler);
        await().atMost(Duration.ofSeconds(60)).until(() -> delivered.size() >= total / 5);
        int before = delivered.size();
        long start = System.nanoTime();
        redisServer.close();
        redisServer = startRedis(dir, port);
        Duration restart = Duration.ofNanos(System.nanoTime() - start);
        int during = delivered.size();
        await()
            .atMost(Duration.ofSeconds(120))
            .pollInterval(Duration.ofMillis(200))
            .until(() -> delivered.size() == total);
        Duration all = Duration.ofNanos(System.nanoTime() - start);
        System.out.printf(
            "[RedisRestartIT] %d delayed tasks due; Redis restarted (AOF) after %d were delivered, in %s"
                + " (%d delivered meanwhile); all %d delivered %s after the restart began, %d deliveries in all (%d twice),"
                + " 0 lost%n",
            total,
            before,
            restart,
            during - before,
            delivered.size(),
            all,
            deliveries.get(),
            deliveries.get() - delivered.size());
        assertThat(delivered).hasSize(total);
      }
    } finally {
      redisServer.close();
    }
  }
}
