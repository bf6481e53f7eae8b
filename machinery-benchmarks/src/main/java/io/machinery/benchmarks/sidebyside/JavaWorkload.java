package io.machinery.benchmarks.sidebyside;

import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.memcache.MemcacheBackend;
import io.machinery.backend.mongodb.MongoDbBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The side-by-side workload for Machinery for Java, in this JVM, step for step what the Go
 * harness's {@code bench} does: empty the queue; send N {@code noop} tasks one after another with
 * {@code sendTask}; start a worker of concurrency C on the full queue and count tasks in the
 * post-task handler (which runs after SUCCESS is stored) until N; then, with the worker still
 * running, send single tasks one at a time and time each from the {@code sendTask} call to its
 * post-task handler.
 */
final class JavaWorkload {
  private JavaWorkload() {}

  /** The result backend the URL names: MongoDB, Memcache, else Redis. */
  static Backend backend(Config config) {
    String url = config.resultBackend();
    if (url.startsWith("mongodb://") || url.startsWith("mongodb+srv://")) {
      return MongoDbBackend.create(config);
    }
    if (url.startsWith("memcache://")) {
      return MemcacheBackend.create(config);
    }
    return RedisBackend.create(config);
  }

  static Measurement run(
      Target target, int tasks, int concurrency, int latencySamples, Duration maxTime)
      throws Exception {
    Config config =
        Config.builder()
            .broker(target.brokerUrl())
            .resultBackend(target.backendUrl())
            .defaultQueue(target.queue())
            .resultsExpireIn(target.resultsExpireIn())
            // same as the Go side: routed and bound with the queue's own name, prefetch =
            // concurrency
            .amqp(
                AmqpConfig.DEFAULT
                    .withBindingKey(target.queue())
                    .withPrefetchCount(Math.max(1, concurrency)))
            .noUnixSignals(true)
            .build();
    target.purge();
    long deadline = System.nanoTime() + maxTime.toNanos();
    String note = "";
    try (Broker broker =
            PubSubBench.isPubSub(target.brokerUrl())
                ? PubSubBench.broker(config)
                : target.amqpBroker() ? AmqpBroker.create(config) : RedisBroker.create(config);
        Backend backend = backend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("noop", TaskFunction.of(() -> null));

      // ---- enqueue
      long enqueued = 0;
      long start = System.nanoTime();
      for (int i = 0; i < tasks && System.nanoTime() < deadline; i++) {
        server.sendTask(Signature.create("noop"));
        enqueued++;
      }
      double enqueueSeconds = (System.nanoTime() - start) / 1e9;
      if (enqueued < tasks) {
        note = "enqueue ran out of time after " + enqueued + " tasks";
      }

      // ---- drain
      AtomicLong drained = new AtomicLong();
      CountDownLatch allDone = new CountDownLatch(1);
      long target0 = enqueued;
      Map<String, CountDownLatch> waiters = new ConcurrentHashMap<>();
      Worker worker =
          server
              .workerBuilder("sidebyside-java")
              .concurrency(concurrency)
              .postTaskHandler(
                  signature -> {
                    CountDownLatch waiter = waiters.get(signature.uuid());
                    if (waiter != null) {
                      waiter.countDown();
                    } else if (drained.incrementAndGet() >= target0) {
                      allDone.countDown();
                    }
                  })
              .build();
      if (target0 == 0) {
        allDone.countDown();
      }
      start = System.nanoTime();
      worker.launchAsync();
      if (!allDone.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        note = join(note, "drain ran out of time after " + drained.get() + " tasks");
      }
      double drainSeconds = (System.nanoTime() - start) / 1e9;

      // ---- latency: one task in flight at a time
      List<Long> samples = new ArrayList<>(latencySamples);
      if (note.isEmpty()) {
        for (int i = 0; i < latencySamples && System.nanoTime() < deadline; i++) {
          Signature signature = Signature.create("noop");
          CountDownLatch waiter = new CountDownLatch(1);
          waiters.put(signature.uuid(), waiter);
          long sent = System.nanoTime();
          server.sendTask(signature);
          if (!waiter.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
            note = join(note, "latency phase ran out of time");
            break;
          }
          samples.add(System.nanoTime() - sent);
          waiters.remove(signature.uuid());
        }
      }
      worker.quit();
      Double p50 = samples.isEmpty() ? null : Percentiles.millis(samples, 50);
      Double p99 = samples.isEmpty() ? null : Percentiles.millis(samples, 99);
      return new Measurement(
          "java",
          tasks,
          concurrency,
          enqueued / enqueueSeconds,
          drained.get() / drainSeconds,
          p50,
          p99,
          note);
    } finally {
      target.purge();
    }
  }

  private static String join(String a, String b) {
    return a.isEmpty() ? b : a + "; " + b;
  }
}
