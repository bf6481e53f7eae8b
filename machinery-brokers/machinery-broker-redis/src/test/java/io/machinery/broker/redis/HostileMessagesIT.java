package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Hostile messages among good ones, on the paths the Redis broker guards itself (the worker's own
 * guards, such as deep nesting, are the core's): messages far over the size limit in the queue
 * (dead-lettered inside Redis, never transferred), delayed tasks whose RoutingKey names a Redis key
 * that is not a list (a string, a hash, a sorted set, the delayed set itself), and delayed tasks in
 * a layout other than Go's. Every hostile message must be dead-lettered exactly once with a reason,
 * every good task must succeed, the other keys must stay untouched.
 */
class HostileMessagesIT {
  private static final int GOOD = 1_000;
  private static final int OVERSIZED = 100;
  private static final int MISROUTED = 100;

  @Test
  void everyHostileMessageIsDeadLetteredOnceAndEveryGoodTaskSucceeds() throws Exception {
    String url = TestEndpoints.redisUrl();
    String id = UUID.randomUUID().toString().substring(0, 8);
    String queue = "hostile_it_" + id;
    String delayedKey = "delayed_hostile_it_" + id;
    String runsKey = queue + "_runs";
    List<String> foreign = List.of(queue + "_string", queue + "_hash", queue + "_zset", delayedKey);
    Config config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue(queue)
            .maxMessageBytes(16_384)
            .redis(
                RedisConfig.DEFAULT
                    .withDelayedTasksKey(delayedKey)
                    .withDelayedTasksPollPeriod(Duration.ofMillis(100)))
            .build();
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      FaultWork.register(server, redis, runsKey);
      redis.await(redis.commands().set(foreign.get(0), bytes("v")));
      redis.await(redis.commands().hset(foreign.get(1), "f", bytes("v")));
      redis.await(redis.commands().zadd(foreign.get(2), 1.0, bytes("m")));
      List<String> good = new ArrayList<>();
      byte[] huge =
          bytes(
              "{\"UUID\":\"task_huge\",\"Name\":\""
                  + FaultWork.TASK
                  + "\",\"Args\":[{\"Type\":\"string\",\"Value\":\""
                  + "h".repeat(1 << 20)
                  + "\"}]}");
      long overBytes = 0;
      for (int i = 0, over = 0, misrouted = 0; good.size() < GOOD; i++) {
        if (i % 10 == 3 && over < OVERSIZED) { // 1 MiB each, 64 times the limit
          byte[] m = huge.clone();
          m[20] = (byte) ('a' + over % 26);
          m[21] = (byte) ('a' + over / 26);
          redis.await(redis.commands().rpush(queue, m));
          overBytes += m.length;
          over++;
        } else if (i % 10 == 6 && misrouted < MISROUTED) {
          Signature bad =
              Signature.builder(FaultWork.TASK)
                  .routingKey(foreign.get(misrouted % foreign.size()))
                  .build();
          redis.await(redis.commands().zadd(delayedKey, 1.0 + i, WireCodec.encode(bad)));
          misrouted++;
        } else if (i % 10
            == 8) { // a good delayed task in another layout: found by the cjson fallback
          String uuid = "task_" + UUID.randomUUID();
          redis.await(
              redis
                  .commands()
                  .zadd(
                      delayedKey,
                      1.0 + i,
                      bytes(
                          "{\"Name\":\""
                              + FaultWork.TASK
                              + "\",\"RoutingKey\":\""
                              + queue
                              + "\",\"UUID\":\""
                              + uuid
                              + "\"}")));
          good.add(uuid);
        } else {
          good.add(server.sendTask(Signature.create(FaultWork.TASK)).signature().uuid());
        }
      }
      long start = System.nanoTime();
      Worker worker = server.newWorker("hostile", 8);
      worker.launchAsync();
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  FaultWork.states(redis, good).getOrDefault(State.SUCCESS, 0) == GOOD
                      && broker.deadLetters(queue).size() == OVERSIZED + MISROUTED);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      List<DeadLetter> letters = broker.deadLetters(queue);
      Map<String, Long> reasons =
          letters.stream()
              .collect(
                  Collectors.groupingBy(
                      d -> d.reason().replaceAll("\\d+", "N"), Collectors.counting()));
      long keptBytes = letters.stream().mapToLong(d -> d.message().length).sum();
      System.out.printf(
          "[HostileMessagesIT] %d good tasks all SUCCESS (%d ran twice) and %d hostile messages"
              + " dead-lettered once each in %s; %d MiB of over-long messages kept as %d KiB of previews; reasons: %s;"
              + " worker running: %s%n",
          GOOD,
          FaultWork.duplicates(redis, runsKey),
          letters.size(),
          took,
          overBytes >> 20,
          keptBytes >> 10,
          reasons,
          worker.isRunning());
      assertThat(letters)
          .filteredOn(DeadLetter::truncated)
          .hasSize(OVERSIZED)
          .allSatisfy(d -> assertThat(d.size()).isEqualTo(huge.length))
          .extracting(DeadLetter::sha1)
          .doesNotHaveDuplicates();
      assertThat(letters)
          .filteredOn(d -> !d.truncated())
          .hasSize(MISROUTED)
          .allSatisfy(d -> assertThat(d.reason()).contains("not a queue"))
          .extracting(d -> WireCodec.decodeSignature(d.message()).uuid())
          .doesNotHaveDuplicates();
      java.util.Set<String> where = new java.util.HashSet<>(foreign);
      where.add(
          queue); // over-long ones name the queue they were in; misrouted ones the key they named
      assertThat(letters.stream().map(DeadLetter::queue).collect(Collectors.toSet()))
          .isEqualTo(where);
      assertThat(redis.await(redis.commands().get(foreign.get(0)))).isEqualTo(bytes("v"));
      assertThat(redis.await(redis.commands().hget(foreign.get(1), "f"))).isEqualTo(bytes("v"));
      assertThat(redis.await(redis.commands().zcard(foreign.get(2)))).isEqualTo(1L);
      assertThat(redis.await(redis.commands().llen(queue))).isZero();
      // an over-long message never enters a processing list, where no worker would ever
      // acknowledge it
      for (String processing : redis.await(redis.commands().keys("{" + queue + "}:processing:*"))) {
        assertThat(redis.await(redis.commands().lrange(processing, 0, -1)))
            .extracting(m -> m.length)
            .as("the sizes of the messages in %s", processing)
            .allSatisfy(size -> assertThat(size).isLessThanOrEqualTo(16_384));
      }
      assertThat(worker.isRunning()).isTrue();
      worker.quit();
      List<String> keys = new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
      keys.addAll(foreign);
      keys.add(runsKey);
      keys.add(queue);
      redis.await(redis.commands().del(keys.toArray(new String[0])));
      for (int i = 0; i < good.size(); i += 1000) {
        redis.await(
            redis
                .commands()
                .del(good.subList(i, Math.min(good.size(), i + 1000)).toArray(new String[0])));
      }
    }
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
