package io.machinery.benchmarks;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.BatchPolicy;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Batched tasks beside plain ones against a downstream that serves few calls at once, on the Redis
 * broker and backend, sender and worker in one JVM. The downstream models a bulk API behind a pool
 * of {@code --connections} connections: each call holds a connection for {@code --call-millis},
 * whatever it carries. {@code --count} tasks "store" one number each: a plain task makes one call;
 * a batched task ({@code --batch} per call, or after {@code --batch-delay-millis}) shares one call
 * with its batch. In {@code --rounds} alternating rounds after a warm-up, each sends its tasks with
 * {@code sendTasks} a thousand at a time, awaits and checks every result, and prints tasks per
 * second and downstream calls. The call's hold is a sleep: it stands for time spent in the
 * downstream, not for CPU.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.BatchBenchmark \
 *   --url redis://127.0.0.1:6379/12 --count 20000 --concurrency 50 --batch 50 --connections 4 --rounds 3
 * </pre>
 */
public final class BatchBenchmark {
  private BatchBenchmark() {}

  public static void main(String[] args) throws Exception {
    BenchmarkOptions o = BenchmarkOptions.parse(args);
    String url = o.text("url", "redis://127.0.0.1:6379/12");
    int count = o.integer("count", 20000);
    int concurrency = o.integer("concurrency", 50);
    int batch = o.integer("batch", 50);
    long batchDelayMillis = o.number("batch-delay-millis", 5);
    int connections = o.integer("connections", 4);
    long callMillis = o.number("call-millis", 2);
    int warmup = o.integer("warmup", 2000);
    int rounds = o.integer("rounds", 3);
    Config config =
        BenchmarkOptions.config(url, BenchmarkOptions.freshQueue("batch_bench_")).build();
    Downstream downstream = new Downstream(connections, callMillis);
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "store_one",
          TaskFunction.of(
              Long.class,
              n -> {
                downstream.call();
                return n;
              }));
      server.registerTask(
          "store_batched",
          TaskFunction.batched(
              Long.class,
              BatchPolicy.of(batch, Duration.ofMillis(batchDelayMillis)),
              numbers -> {
                downstream.call();
                return numbers;
              }));
      Worker worker = server.newWorker("batch-bench", concurrency);
      worker.launchAsync();
      try {
        String setup =
            String.format(
                "concurrency %d, a downstream of %d connections, %d ms a call",
                concurrency, connections, callMillis);
        run(server, downstream, "warm-up plain", "store_one", warmup, setup);
        run(server, downstream, "warm-up batched", "store_batched", warmup, setup);
        for (int r = 1; r <= rounds; r++) {
          run(server, downstream, "round " + r + " plain", "store_one", count, setup);
          run(
              server,
              downstream,
              "round " + r + " batched (" + batch + " a call)",
              "store_batched",
              count,
              setup);
        }
      } finally {
        worker.quit();
      }
    }
  }

  /** A bulk API behind a connection pool: a call holds one of the connections for a while. */
  private static final class Downstream {
    private final Semaphore pool;
    private final long callMillis;
    private final AtomicLong calls = new AtomicLong();

    Downstream(int connections, long callMillis) {
      this.pool = new Semaphore(connections, true);
      this.callMillis = callMillis;
    }

    void call() throws InterruptedException {
      pool.acquire();
      try {
        calls.incrementAndGet();
        Thread.sleep(callMillis);
      } finally {
        pool.release();
      }
    }
  }

  /** Sends {@code count} tasks of {@code task}, awaits and checks every result, prints the rate. */
  private static void run(
      Server server, Downstream downstream, String label, String task, int count, String setup) {
    long callsBefore = downstream.calls.get();
    long start = System.nanoTime();
    List<AsyncResult> results = new ArrayList<>(count);
    for (int sent = 0; sent < count; sent += 1000) {
      List<Signature> chunk = new ArrayList<>(1000);
      for (long n = sent; n < Math.min(count, sent + 1000); n++) {
        chunk.add(Signature.create(task, Arg.of(n)));
      }
      results.addAll(server.sendTasks(chunk));
    }
    for (int i = 0; i < count; i++) {
      List<Object> value = results.get(i).get(Duration.ofMinutes(5));
      if (!value.equals(List.of((long) i))) {
        throw new IllegalStateException("task " + i + " returned " + value);
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(
        "redis + redis, %s: %d tasks, %s: done in %.2f s: %.0f tasks/s, %d downstream calls%n",
        label, count, setup, seconds, count / seconds, downstream.calls.get() - callsBefore);
  }
}
