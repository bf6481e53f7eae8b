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
import io.machinery.config.RedisConfig;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.TestEndpoints;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The metrics against a real Redis broker and backend: the headers survive the round trip through
 * Redis; queue gauges follow a rebinding to a new broker, closing the bindings removes the gauges
 * and lets the worker and the broker go, and a Redis that hangs does not hold a scrape (a server of
 * the test's own, paused with {@code CLIENT PAUSE}).
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

  @Test
  void queueGaugesBoundAgainReadTheNewBrokerAndLetTheClosedOneGo() {
    String redis = TestEndpoints.redisUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), "metrics_");
    String queue = config.defaultQueue();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MachineryMetrics metrics =
        MachineryMetrics.builder(registry).queueSampleInterval(Duration.ZERO).build();
    try (RedisBroker first = RedisBroker.create(config)) {
      metrics.bindQueue(first.inspector().orElseThrow(), queue);
      assertThat(pending(registry, queue)).isZero();
    }
    // a context restart: the same queue, a new broker; the first is closed
    try (RedisBroker second = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(second).backend(backend).build()) {
      metrics.bindQueue(second.inspector().orElseThrow(), queue);
      server.sendTask(Signature.create("add", Arg.of(1L)));
      assertThat(pending(registry, queue)).as("read through the new broker").isEqualTo(1);
      second.inspector().orElseThrow().purge(queue);
    }
  }

  /**
   * Nothing unbound: a worker's and a queue's gauges stayed in the registry, which held the worker
   * and the (closed) broker's inspector for as long as it lived. Closing the bindings that {@code
   * bindWorker} and {@code bindQueue} return removes the gauges, and the registry lets both go.
   */
  @Test
  void closingItsBindingsRemovesAWorkersAndAQueuesGaugesAndLetsThemGo() {
    String redis = TestEndpoints.redisUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), "metrics_");
    String queue = config.defaultQueue();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    MachineryMetrics metrics =
        MachineryMetrics.builder(registry).queueSampleInterval(Duration.ZERO).build();
    Bound bound = bindThenCloseTheServer(config, registry, metrics);

    bound.workerGauges().close();
    bound.queueGauges().close();

    assertThat(registry.getMeters())
        .noneMatch(m -> "metrics-unbind".equals(m.getId().getTag("worker")))
        .noneMatch(m -> queue.equals(m.getId().getTag("queue")));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              System.gc();
              return bound.worker().get() == null && bound.inspector().get() == null;
            });
    assertThat(registry.get(MachineryMetrics.SENT).tags("task", "add").counter().count())
        .as("the counters by task stay")
        .isEqualTo(1);
  }

  /** The bindings of a closed server's worker and queue, and weak references to what they read. */
  private record Bound(
      MachineryMetrics.Binding workerGauges,
      MachineryMetrics.Binding queueGauges,
      WeakReference<Worker> worker,
      WeakReference<Inspector> inspector) {}

  /**
   * Binds a worker and the default queue of a Redis broker, checks the gauges read them, and closes
   * the server and the broker. A method of its own: a local variable of the test's frame would keep
   * the worker and the broker reachable whatever the registry holds.
   */
  private static Bound bindThenCloseTheServer(
      Config config, SimpleMeterRegistry registry, MachineryMetrics metrics) {
    String queue = config.defaultQueue();
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server =
            Server.builder()
                .config(config)
                .broker(broker)
                .backend(backend)
                .listener(metrics)
                .build()) {
      Worker worker = server.newWorker("metrics-unbind", 2);
      Inspector inspector = broker.inspector().orElseThrow();
      Bound bound =
          new Bound(
              metrics.bindWorker(worker),
              metrics.bindQueue(inspector, ""),
              new WeakReference<>(worker),
              new WeakReference<>(inspector));
      server.sendTask(Signature.create("add", Arg.of(1L)));
      assertThat(pending(registry, queue)).as("read from Redis").isEqualTo(1);
      assertThat(
              registry
                  .get(MachineryMetrics.SLOTS)
                  .tags("worker", "metrics-unbind", "state", "free")
                  .gauge()
                  .value())
          .isEqualTo(2);
      inspector.purge(queue);
      return bound;
    }
  }

  @Test
  void aRedisThatHangsDoesNotHoldTheScrape(@TempDir Path directory) throws Exception {
    try (OwnRedisServer own = OwnRedisServer.startPlain(directory)) {
      Config config =
          Config.builder()
              .broker(own.url())
              .resultBackend(own.url())
              .redis(RedisConfig.builder().readTimeout(Duration.ofSeconds(5)).build())
              .build();
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      MachineryMetrics metrics =
          MachineryMetrics.builder(registry)
              .queueSampleInterval(Duration.ZERO)
              .queueSampleTimeout(Duration.ofMillis(200))
              .build();
      String queue = config.defaultQueue();
      try (RedisBroker broker = RedisBroker.create(config);
          RedisBackend backend = RedisBackend.create(config);
          Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
        metrics.bindQueue(broker.inspector().orElseThrow(), "");
        assertThat(pending(registry, queue)).isZero();

        clientPause(own.port(), Duration.ofSeconds(4));
        long start = System.nanoTime();
        double[] readings = new double[4];
        readings[0] = pending(registry, queue);
        readings[1] = registry.get(MachineryMetrics.QUEUE_DELAYED).gauge().value();
        readings[2] = registry.get(MachineryMetrics.QUEUE_DEAD_LETTERS).gauge().value();
        readings[3] =
            registry.get(MachineryMetrics.QUEUE_OLDEST_AGE).timeGauge().value(TimeUnit.SECONDS);
        Duration scrape = Duration.ofNanos(System.nanoTime() - start);

        assertThat(scrape)
            .as("one wait of the sample timeout, not a command timeout per gauge")
            .isLessThan(Duration.ofSeconds(2));
        assertThat(readings).as("the last sample stands").containsOnly(0.0);
        // once Redis answers again (the send waits for the pause to end), the gauges read it
        server.sendTask(Signature.create("add", Arg.of(1L)));
        await().atMost(Duration.ofSeconds(20)).until(() -> pending(registry, queue) == 1);
      }
    }
  }

  @Test
  void onceASampleFailedAScrapeDoesNotWaitForTheNext(@TempDir Path directory) throws Exception {
    try (OwnRedisServer own = OwnRedisServer.startPlain(directory)) {
      Config config =
          Config.builder()
              .broker(own.url())
              .resultBackend(own.url())
              .redis(RedisConfig.builder().readTimeout(Duration.ofSeconds(3)).build())
              .build();
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      MachineryMetrics metrics =
          MachineryMetrics.builder(registry)
              .queueSampleInterval(Duration.ZERO)
              .queueSampleTimeout(Duration.ofSeconds(10))
              .build();
      try (RedisBroker broker = RedisBroker.create(config)) {
        metrics.bindQueue(broker.inspector().orElseThrow(), "down");
        assertThat(pending(registry, "down")).isZero();

        clientPause(own.port(), Duration.ofSeconds(30));
        assertThat(pending(registry, "down"))
            .as("the sample failed at the command timeout (3 s), within the wait")
            .isNaN();
        long start = System.nanoTime();
        double next = pending(registry, "down"); // starts a sample that hangs for 3 s again
        Duration scrape = Duration.ofNanos(System.nanoTime() - start);

        assertThat(next).isNaN();
        assertThat(scrape)
            .as("no wait for a broker whose last sample failed")
            .isLessThan(Duration.ofMillis(1500)); // the old code waited the 3 s
      }
    }
  }

  /** Pauses every client of the server at {@code port} (its own: nobody else's traffic stops). */
  private static void clientPause(int port, Duration pause) throws IOException {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket
          .getOutputStream()
          .write(
              ("CLIENT PAUSE " + pause.toMillis() + " ALL\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      byte[] reply = new byte[5];
      assertThat(socket.getInputStream().readNBytes(reply, 0, 5)).isEqualTo(5);
      assertThat(new String(reply, StandardCharsets.US_ASCII)).isEqualTo("+OK\r\n");
    }
  }

  private static double pending(SimpleMeterRegistry registry, String queue) {
    return registry.get(MachineryMetrics.QUEUE_PENDING).tags("queue", queue).gauge().value();
  }
}
