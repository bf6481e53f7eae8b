package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.lock.redis.RedisTaskLimiter;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.TaskLimiter;
import io.machinery.testkit.LimitSuite;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Task limits and priorities with the Redis broker (priorities on), the Redis backend and the
 * cluster-wide Redis task limiter; "several processes" are separate connections and limiters.
 */
class RedisRedisLimitIT extends LimitSuite {
  @Override
  protected Config baseConfig() {
    String redis = TestEndpoints.redisUrl();
    return Config.builder().broker(redis).resultBackend(redis).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.builder(config).priorities(true).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Override
  protected TaskLimiter createLimiter() {
    return RedisTaskLimiter.create(config);
  }

  private long length(String key) {
    try (RedisSession redis = RedisSession.open(config.broker(), config)) {
      return redis.await(redis.commands().llen(key));
    }
  }

  /**
   * A Go producer pushes every task, prioritized or not, to the plain list (Go ignores Priority).
   */
  @Test
  void aGoProducersPrioritiesInThePlainQueueAreHonoured() {
    List<AsyncResult> results = new ArrayList<>();
    try (RedisBroker goLike = RedisBroker.create(config);
        Server producer = Server.builder().config(config).broker(goLike).backend(backend).build()) {
      for (int i = 0; i < 5; i++) {
        results.add(producer.sendTask(Signature.builder("record").args(Arg.of("low" + i)).build()));
      }
      results.add(
          producer.sendTask(
              Signature.builder("record").args(Arg.of("urgent")).priority(200).build()));
      assertThat(length(config.defaultQueue())).isEqualTo(6);
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    assertThat(order.get(0)).isEqualTo("urgent");
  }

  @Test
  void withoutPrioritiesATaskStaysInGosListForGoWorkers() {
    try (RedisBroker goLike = RedisBroker.create(config);
        Server producer = Server.builder().config(config).broker(goLike).backend(backend).build()) {
      producer.sendTask(Signature.builder("record").args(Arg.of("p")).priority(5).build());
    }
    assertThat(length(config.defaultQueue())).isEqualTo(1);
    assertThat(length(new QueueKeys(config.defaultQueue()).band(5))).isZero();
    sendRecord("banded", 5);
    assertThat(length(new QueueKeys(config.defaultQueue()).band(5))).isEqualTo(1);
  }

  /** At least once for every band: what a consumer took and never settled comes back. */
  @Test
  void aBandMessageTakenAndNotSettledComesBackWhenItsConsumerCloses() throws Exception {
    AsyncResult result = sendRecord("banded", 7);
    RecordingHandler handler = new RecordingHandler(1);
    Consumption consumption = broker.startConsuming("probe", "", handler);
    Delivery taken = handler.next(10);
    assertThat(taken).isNotNull();
    assertThat(WireCodec.decodeSignature(taken.body(), config).priority()).isEqualTo(7);
    consumption.close(); // unsettled: back to the queue
    launch(server, 1, Map.of());
    assertThat(result.get(TIMEOUT)).containsExactly("banded");
  }

  /** The README's example, run. */
  @Test
  void readmeExample() {
    List<String> out = new ArrayList<>();
    // README:limits:begin
    try (RedisBroker broker = RedisBroker.builder(config).priorities(true).build();
        RedisBackend backend = RedisBackend.create(config);
        RedisTaskLimiter limiter = RedisTaskLimiter.create(config); // shared by every worker
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "charge", TaskFunction.of(String.class, customer -> "charged " + customer));
      server
          .workerBuilder("billing")
          .concurrency(20)
          .limiter(limiter)
          .limit(
              "charge",
              TaskLimit.builder()
                  .rate(10, Duration.ofSeconds(1)) // per customer: 10 charges a second,
                  .maxConcurrent(2) // two at once, on all workers together
                  .key(signature -> "customer:" + signature.args().get(0).value())
                  .build())
          .build()
          .launchAsync();
      AsyncResult urgent =
          server.sendTask(Signature.builder("charge").args(Arg.of("c-42")).priority(9).build());
      out.add(String.valueOf(urgent.get(Duration.ofSeconds(10)))); // [charged c-42]
    }
    // README:limits:end
    assertThat(out).containsExactly("[charged c-42]");
  }
}
