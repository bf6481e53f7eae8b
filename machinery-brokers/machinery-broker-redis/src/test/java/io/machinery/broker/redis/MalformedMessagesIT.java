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
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * 1,000 malformed messages mixed into a queue of good tasks: all end in the dead-letter list, every
 * good task succeeds.
 */
class MalformedMessagesIT {
  private static final int BAD = 1_000;
  private static final int GOOD = 2_000;

  private static byte[] malformed(int i) {
    return switch (i % 8) {
      case 0 -> ("not json " + i).getBytes(StandardCharsets.UTF_8);
      case 1 -> ("[" + i + ",2,3]").getBytes(StandardCharsets.UTF_8);
      case 2 -> ("{\"UUID\": " + i + ", \"Name\": \"work\"}").getBytes(StandardCharsets.UTF_8);
      case 3 ->
          ("{\"UUID\":\"task_" + i + "\",\"Name\":\"work\",\"Args\":{}")
              .getBytes(StandardCharsets.UTF_8);
      case 4 -> new byte[] {(byte) 0xff, (byte) 0xfe, (byte) i, 0};
      case 5 -> ("{\"UUID\":\"task_" + i + "\",\"Priority\":300}").getBytes(StandardCharsets.UTF_8);
      case 6 ->
          ("\"" + "x".repeat(5_000) + i + "\"")
              .getBytes(StandardCharsets.UTF_8); // over the size limit
      default -> "".getBytes(StandardCharsets.UTF_8);
    };
  }

  @Test
  void malformedMessagesEndInTheDeadLetterListAndGoodTasksAllSucceed() throws Exception {
    String url = TestEndpoints.redisUrl();
    String queue = "malformed_it_" + UUID.randomUUID().toString().substring(0, 8);
    String runsKey = queue + "_runs";
    Config config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue(queue)
            .maxMessageBytes(4_096)
            .build();
    try (RedisSession redis = RedisSession.open(url, config);
        RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      FaultWork.register(server, redis, runsKey);
      List<String> good = new ArrayList<>();
      for (int i = 0, bad = 0; good.size() < GOOD || bad < BAD; i++) {
        if (i % 3 == 0 && bad < BAD) {
          redis.await(redis.commands().rpush(queue, malformed(bad++)));
        } else if (good.size() < GOOD) {
          good.add(server.sendTask(Signature.create(FaultWork.TASK)).signature().uuid());
        }
      }
      long start = System.nanoTime();
      Worker worker = server.newWorker("malformed", 10);
      worker.launchAsync();
      await()
          .atMost(Duration.ofSeconds(120))
          .pollInterval(Duration.ofMillis(200))
          .until(
              () ->
                  FaultWork.states(redis, good).getOrDefault(State.SUCCESS, 0) == GOOD
                      && broker.deadLetters(queue).size() == BAD);
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      System.out.printf(
          "[MalformedMessagesIT] %d good tasks all SUCCESS and %d malformed messages dead-lettered in %s;"
              + " worker still running: %s; first reason: %s%n",
          GOOD, BAD, took, worker.isRunning(), broker.deadLetters(queue).get(0).reason());
      assertThat(worker.isRunning()).isTrue();
      assertThat(broker.deadLetters(queue)).extracting(DeadLetter::queue).containsOnly(queue);
      // an over-long message is kept as a preview plus its size and SHA-1, never whole
      List<byte[]> expected = new ArrayList<>();
      List<String> expectedHashes = new ArrayList<>();
      for (int i = 0; i < BAD; i++) {
        byte[] raw = malformed(i);
        if (raw.length > config.maxMessageBytes()) {
          expected.add(java.util.Arrays.copyOf(raw, DeadLetter.PREVIEW_BYTES));
          expectedHashes.add(DeadLetter.sha1Hex(raw) + "/" + raw.length);
        } else {
          expected.add(raw);
        }
      }
      List<DeadLetter> letters = broker.deadLetters(queue);
      assertThat(letters)
          .extracting(DeadLetter::message)
          .containsExactlyInAnyOrderElementsOf(expected);
      assertThat(letters)
          .filteredOn(DeadLetter::truncated)
          .extracting(d -> d.sha1() + "/" + d.size())
          .containsExactlyInAnyOrderElementsOf(expectedHashes);
      assertThat(redis.await(redis.commands().llen(queue))).isZero();
      worker.quit();
      List<String> keys = new ArrayList<>(redis.await(redis.commands().keys("{" + queue + "}:*")));
      keys.add(runsKey);
      keys.add(queue);
      redis.await(redis.commands().del(keys.toArray(new String[0])));
    }
  }
}
