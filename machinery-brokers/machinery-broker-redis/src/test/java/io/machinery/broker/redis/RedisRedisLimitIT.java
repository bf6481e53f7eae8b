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
 * Task limits, priorities and fairness with the Redis broker (priorities and fairness on), the
 * Redis backend and the cluster-wide Redis task limiter; "several processes" are separate
 * connections and limiters.
 */
class RedisRedisLimitIT extends LimitSuite {
  @Override
  protected Config baseConfig() {
    String redis = TestEndpoints.redisUrl();
    return Config.builder().broker(redis).resultBackend(redis).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.builder(config).priorities(true).fairness(true).build();
  }

  @Override
  protected boolean sharesTurnsBetweenFairnessKeys() {
    return true;
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

  // ------------------------------------------------------------------------------------ fairness

  /**
   * A Go producer (here: a broker without fairness) pushes keyed tasks to the plain list; the
   * fetch's sort window moves them to their lanes, so a key behind a backlog still gets turns.
   */
  /**
   * A weight written by hand that is no number counts as 1: the fetch goes on (a Lua error there
   * would stop every consumer of the queue) and the inspector does not list it.
   */
  @Test
  void aWeightThatIsNoNumberCountsAsOne() {
    String weights = new QueueKeys(config.defaultQueue()).fairWeights();
    try (RedisSession redis = RedisSession.open(config.broker(), config)) {
      redis.await(
          redis
              .commands()
              .hset(weights, "a", "lots".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
    List<AsyncResult> results = new ArrayList<>();
    results.add(sendKeyed("first", "first")); // to the plain list: the ring's order is a, b
    for (int i = 0; i < 3; i++) {
      results.add(sendKeyed("a" + i, "a"));
      results.add(sendKeyed("b" + i, "b"));
    }
    assertThat(io.machinery.Inspection.of(server).fairnessWeights(config.defaultQueue())).isEmpty();
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    assertThat(order).hasSize(7);
    // one at a time, not "lots": b had a turn before a's third task
    assertThat(order.indexOf("b0")).isLessThan(order.indexOf("a2"));
  }

  @Test
  void aGoProducersFairnessKeysInThePlainQueueAreHonoured() {
    List<AsyncResult> results = new ArrayList<>();
    try (RedisBroker goLike = RedisBroker.create(config);
        Server producer = Server.builder().config(config).broker(goLike).backend(backend).build()) {
      for (int i = 0; i < 40; i++) {
        results.add(producer.sendTask(keyed("noisy" + i, "noisy")));
      }
      results.add(producer.sendTask(keyed("a0", "a")));
      results.add(producer.sendTask(keyed("a1", "a")));
      assertThat(length(config.defaultQueue())).isEqualTo(42);
    }
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    // without the sort the two would run after the forty
    assertThat(order.indexOf("a0")).isLessThan(15);
    assertThat(order.indexOf("a1")).isLessThan(15);
  }

  @Test
  void withoutFairnessAKeyedTaskStaysInGosListForGoWorkers() {
    try (RedisBroker goLike = RedisBroker.create(config);
        Server producer = Server.builder().config(config).broker(goLike).backend(backend).build()) {
      producer.sendTask(keyed("k", "tenant"));
    }
    QueueKeys keys = new QueueKeys(config.defaultQueue());
    assertThat(length(config.defaultQueue())).isEqualTo(1);
    assertThat(length(keys.fairLane("tenant"))).isZero();
    sendKeyed("laned", "tenant");
    assertThat(length(keys.fairLane("tenant"))).isEqualTo(1);
    assertThat(length(keys.fairRing())).isEqualTo(1);
  }

  /**
   * At least once for the lanes: a keyed task taken and not settled goes back to the head of its
   * lane when its consumer closes, and the key back into the ring.
   */
  @Test
  void aKeyedTaskTakenAndNotSettledComesBackToItsLaneWhenItsConsumerCloses() throws Exception {
    AsyncResult first = sendKeyed("first", "tenant");
    AsyncResult second = sendKeyed("second", "tenant");
    QueueKeys keys = new QueueKeys(config.defaultQueue());
    RecordingHandler handler = new RecordingHandler(1);
    Consumption consumption = broker.startConsuming("probe", "", handler);
    Delivery taken = handler.next(10);
    assertThat(taken).isNotNull();
    assertThat(WireCodec.decodeSignature(taken.body(), config).args().get(0).value())
        .isEqualTo("first");
    consumption.close(); // unsettled: back to the head of its lane
    assertThat(length(keys.fairLane("tenant"))).isEqualTo(2);
    assertThat(length(keys.fairRing())).isEqualTo(1);
    assertThat(length(config.defaultQueue())).isZero();
    launch(server, 1, Map.of());
    assertThat(first.get(TIMEOUT)).containsExactly("first");
    assertThat(second.get(TIMEOUT)).containsExactly("second");
    assertThat(order).containsExactly("first", "second");
    assertThat(length(keys.fairRing())).isZero();
  }

  /**
   * A keyed task sent while nothing waits goes to the plain queue, where an idle consumer's
   * blocking move takes it at once; the tasks of its key sent right after it go to the lane. The
   * fetch that finds it in the plain queue puts it at the head of its lane, so the key's order
   * holds.
   */
  @Test
  void aKeyedTaskSentToAnEmptyQueueKeepsItsPlaceBeforeTheTasksOfItsKeyThatFollow() {
    QueueKeys keys = new QueueKeys(config.defaultQueue());
    List<AsyncResult> results = new ArrayList<>();
    for (String name : List.of("first", "second", "third")) {
      results.add(sendKeyed(name, "tenant"));
    }
    assertThat(length(config.defaultQueue())).isEqualTo(1);
    assertThat(length(keys.fairLane("tenant"))).isEqualTo(2);
    launch(server, 1, Map.of());
    results.forEach(r -> r.get(TIMEOUT));
    assertThat(order).containsExactly("first", "second", "third");
  }

  /**
   * An idle consumer blocks on the plain queue (here for up to 30 s at a time); a keyed task sent
   * then goes there, not to a lane the consumer would only look at after its blocking move.
   */
  @Test
  void aKeyedTaskSentToAnIdleWorkerIsTakenByItsBlockingMove() {
    Config slow =
        config.toBuilder()
            .redis(
                config.redis().toBuilder()
                    .normalTasksPollPeriod(Duration.ofSeconds(30))
                    .readTimeout(Duration.ofSeconds(60))
                    .build())
            .build();
    try (RedisBroker idle =
            RedisBroker.builder(slow).fairness(true).leaseTimeout(Duration.ofSeconds(90)).build();
        Server second = Server.builder().config(slow).broker(idle).backend(backend).build();
        RedisSession redis = RedisSession.open(config.broker(), config)) {
      registerTasks(second);
      launch(second, 1, Map.of());
      org.awaitility.Awaitility.await()
          .atMost(TIMEOUT)
          .until(() -> redis.await(redis.commands().clientList()).contains("cmd=blmove"));
      AsyncResult late = second.sendTask(keyed("late", "tenant"));
      // far less than the 30 s the blocking move waits
      assertThat(late.get(Duration.ofSeconds(10))).containsExactly("late");
    }
  }

  private static Signature keyed(String name, String key) {
    return Signature.builder("record").args(Arg.of(name)).fairnessKey(key).build();
  }

  /** The README's fairness example, run. */
  @Test
  void readmeFairnessExample() {
    List<String> out = new ArrayList<>();
    // README:fairness:begin
    try (RedisBroker broker = RedisBroker.builder(config).fairness(true).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "report", TaskFunction.of(String.class, tenant -> "report for " + tenant));
      List<Signature> backlog = new ArrayList<>();
      for (int i = 0; i < 1_000; i++) { // one tenant's backlog of a thousand reports
        backlog.add(Signature.builder("report").args(Arg.of("big")).fairnessKey("big").build());
      }
      server.sendTasks(backlog);
      server.newWorker("reports", 4).launchAsync();
      // another tenant's report waits for what the worker fetched ahead, not for the thousand
      Signature report =
          Signature.builder("report").args(Arg.of("small")).fairnessKey("small").build();
      out.add(String.valueOf(server.sendTask(report).get(Duration.ofSeconds(10))));
    }
    // README:fairness:end
    assertThat(out).containsExactly("[report for small]");
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
