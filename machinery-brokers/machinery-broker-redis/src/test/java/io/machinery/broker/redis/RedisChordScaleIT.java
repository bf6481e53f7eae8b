package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * The chord half of the scale proof of issue #17 item 8 (the figures, also on AMQP: {@code
 * scripts/bench/outside.sh scale}, {@code docs/benchmarks.md}): a chord of 10,000 members on the
 * Redis broker and backend completes with the right result and its callback run exactly once. The
 * runs are counted after every member has finished (a member's post-task handler runs after its
 * chord check, so every member's attempt to fire the chord is over), the worker has stopped (every
 * running task settled) and the queue is empty, so a second callback would have run or would still
 * be queued by then.
 */
class RedisChordScaleIT {
  private static final int MEMBERS = 10_000;

  @Test
  void aTenThousandMemberChordRunsItsCallbackOnceWithTheRightResult() {
    String url = TestEndpoints.redisUrl();
    String queue = "chord_scale_it_" + UUID.randomUUID().toString().substring(0, 8);
    Config config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue(queue)
            .resultsExpireIn(600)
            .build();
    AtomicInteger callbackRuns = new AtomicInteger();
    AtomicInteger membersDone = new AtomicInteger();
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("member", TaskFunction.of(Long.class, i -> i));
      server.registerTask(
          "sum",
          TaskFunction.varargs(
              long[].class,
              xs -> {
                callbackRuns.incrementAndGet();
                return LongStream.of(xs).sum();
              }));
      Worker worker =
          server
              .workerBuilder("chord-scale")
              .concurrency(100)
              .postTaskHandler(
                  sig -> {
                    if (sig.name().equals("member")) {
                      membersDone.incrementAndGet();
                    }
                  })
              .build();
      worker.launchAsync();
      List<Signature> members = new ArrayList<>(MEMBERS);
      for (int i = 0; i < MEMBERS; i++) {
        members.add(Signature.create("member", Arg.of((long) i)));
      }
      List<Object> result =
          server
              .sendChord(Chord.of(Group.of(members), Signature.create("sum")), 0)
              .get(Duration.ofMinutes(3));

      assertThat(result).containsExactly((long) MEMBERS * (MEMBERS - 1) / 2);
      await().atMost(Duration.ofMinutes(1)).until(() -> membersDone.get() == MEMBERS);
      worker.quit();
      assertThat(Inspection.of(server).queue(queue).pending()).as("tasks left queued").isZero();
      assertThat(callbackRuns.get()).as("runs of the chord's callback").isEqualTo(1);
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
