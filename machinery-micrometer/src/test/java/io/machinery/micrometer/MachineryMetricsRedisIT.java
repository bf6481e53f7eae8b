package io.machinery.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * The metrics against a real Redis broker and backend: the headers survive the round trip through
 * Redis.
 */
class MachineryMetricsRedisIT {
  @Test
  void countsAndTimesTasksRunThroughRedis() {
    String redis = TestEndpoints.redisUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), "metrics_");
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MachineryMetrics metrics = MachineryMetrics.builder(registry).build();
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server =
            Server.builder()
                .config(config)
                .broker(broker)
                .backend(backend)
                .listener(metrics)
                .build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
      Worker worker = server.newWorker("metrics-redis", 2);
      metrics.bindWorker(worker);
      worker.launchAsync();

      for (long i = 0; i < 3; i++) {
        assertThat(
                server
                    .sendTask(Signature.create("add", Arg.of(i), Arg.of(1L)))
                    .get(Duration.ofSeconds(20)))
            .containsExactly(i + 1);
      }

      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  registry.get(MachineryMetrics.SUCCEEDED).tags("task", "add").counter().count()
                      == 3);
      assertThat(registry.get(MachineryMetrics.SENT).tags("task", "add").counter().count())
          .isEqualTo(3);
      assertThat(registry.get(MachineryMetrics.RECEIVED).tags("task", "add").counter().count())
          .isEqualTo(3);
      assertThat(registry.get(MachineryMetrics.RUN).tags("task", "add").timer().count())
          .isEqualTo(3);
      assertThat(registry.get(MachineryMetrics.LATENCY).tags("task", "add").timer().count())
          .as("the enqueue time came back from Redis in the message's headers")
          .isEqualTo(3);
      assertThat(
              registry
                  .get(MachineryMetrics.SLOTS)
                  .tags("worker", "metrics-redis", "state", "free")
                  .gauge()
                  .value())
          .isBetween(0.0, 2.0);
      worker.quit();
    }
  }
}
