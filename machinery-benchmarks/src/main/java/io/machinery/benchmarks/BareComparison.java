package io.machinery.benchmarks;

import static io.machinery.benchmarks.Drivers.awaitCount;
import static io.machinery.benchmarks.Drivers.percentile;
import static io.machinery.benchmarks.Drivers.runConcurrently;
import static io.machinery.benchmarks.Drivers.seconds;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.NullBackend;
import io.machinery.spi.Backend;
import java.time.Clock;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * What the in-JVM broker benchmarks that compare Machinery with a bare client loop (AMQP, Pub/Sub)
 * share: one row of figures, its line while the benchmark runs, the closing Markdown table with
 * each row as a ratio of the bare row before it, the {@code --name value} options, the result
 * backends to run with, and the Machinery side's measurement ({@link #measure}).
 */
public final class BareComparison {
  private BareComparison() {}

  /**
   * One setup's figures.
   *
   * @param setup what ran ({@code bare …} for the baseline rows)
   * @param concurrency worker threads or slots
   * @param enqueueRate tasks sent per second
   * @param drainRate tasks finished per second
   * @param p50Millis send-to-finish median
   * @param p99Millis send-to-finish 99th percentile
   */
  public record Result(
      String setup,
      int concurrency,
      double enqueueRate,
      double drainRate,
      double p50Millis,
      double p99Millis) {

    boolean isBare() {
      return setup.startsWith("bare");
    }
  }

  /** Prints {@code r} as one progress line, with its ratios to {@code bare}. */
  public static void printLine(Result r, Result bare) {
    System.out.printf(
        Locale.ROOT,
        "  %-32s c=%-3d enqueue %,9.0f/s  drain %,9.0f/s  p50 %7.2f ms  p99 %8.2f ms  (vs bare:"
            + " %.2f / %.2f)%n",
        r.setup(),
        r.concurrency(),
        r.enqueueRate(),
        r.drainRate(),
        r.p50Millis(),
        r.p99Millis(),
        r.enqueueRate() / bare.enqueueRate(),
        r.drainRate() / bare.drainRate());
  }

  /**
   * Prints the results as a Markdown table; each row's ratios are to the last bare row before it.
   */
  public static void printTable(List<Result> results) {
    System.out.println();
    System.out.println(
        "| setup | concurrency | enqueue (tasks/s) | drain (tasks/s) | latency p50 (ms) | latency p99"
            + " (ms) | enqueue vs bare | drain vs bare |");
    System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
    Result bare = null;
    for (Result r : results) {
      if (r.isBare()) {
        bare = r;
      }
      System.out.printf(
          Locale.ROOT,
          "| %s | %d | %,.0f | %,.0f | %.2f | %.2f | %s | %s |%n",
          r.setup(),
          r.concurrency(),
          r.enqueueRate(),
          r.drainRate(),
          r.p50Millis(),
          r.p99Millis(),
          ratio(r.enqueueRate(), bare == null ? Double.NaN : bare.enqueueRate()),
          ratio(r.drainRate(), bare == null ? Double.NaN : bare.drainRate()));
    }
  }

  private static String ratio(double value, double bare) {
    return Double.isNaN(bare) ? "-" : String.format(Locale.ROOT, "%.2f", value / bare);
  }

  /**
   * The {@code --name value} pairs of {@code args}.
   *
   * @throws IllegalArgumentException with {@code usage} when an argument is not such a pair
   */
  public static Map<String, String> options(String[] args, String usage) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("usage: " + usage);
      }
      options.put(args[i].substring(2), args[++i]);
    }
    return options;
  }

  /** The environment variable {@code name}, or {@code fallback} when it is unset or blank. */
  public static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }

  /** The {@code --concurrency} option (comma-separated), {@code 1,10,100} by default. */
  public static int[] concurrencies(Map<String, String> options) {
    return Arrays.stream(options.getOrDefault("concurrency", "1,10,100").split(","))
        .mapToInt(s -> Integer.parseInt(s.trim()))
        .toArray();
  }

  /**
   * The {@code --backends} option (comma-separated, trimmed): by default {@code null,memory}, and
   * {@code redis} too when {@code redisUrl} is not empty.
   */
  public static List<String> backends(Map<String, String> options, String redisUrl) {
    String defaults = redisUrl.isEmpty() ? "null,memory" : "null,memory,redis";
    return Arrays.stream(options.getOrDefault("backends", defaults).split(","))
        .map(String::trim)
        .toList();
  }

  /**
   * Makes the result backend named {@code name} for {@code config}: {@code null} stores nothing
   * (the broker path alone), {@code memory} in this JVM, {@code redis} at the config's result
   * backend URL.
   */
  public static Supplier<Backend> backend(String name, Config config) {
    return switch (name) {
      case "memory" -> () -> MemoryBackend.create(config, Clock.systemUTC());
      case "redis" -> () -> RedisBackend.create(config);
      case "null" -> NullBackend::create;
      default ->
          throw new IllegalArgumentException(
              "unknown backend " + name + " (memory, redis or null)");
    };
  }

  /**
   * The Machinery side of a row, on {@code server} (its broker and backend the caller's): {@code
   * warmUp} no-op tasks sent and run by a worker of their own, then {@code tasks} sent by {@code
   * concurrency} threads (the enqueue rate), drained by a fresh worker of that concurrency (the
   * drain rate), and a tenth as many sent while it idles, timed from send to run.
   */
  public static Result measure(String setup, Server server, int tasks, int concurrency, int warmUp)
      throws Exception {
    AtomicLong done = new AtomicLong();
    long[] latencies = new long[Math.max(1, tasks / 10)];
    AtomicInteger latencyCount = new AtomicInteger();
    server.registerTask("noop", TaskFunction.of(() -> null));
    server.registerTask(
        "timed",
        TaskFunction.of(
            Long.class,
            sent -> {
              int i = latencyCount.getAndIncrement();
              if (i < latencies.length) {
                latencies[i] = System.nanoTime() - sent;
              }
              return null;
            }));
    Worker warm = worker(server, "warm-up", concurrency, done);
    warm.launchAsync();
    runConcurrently(concurrency, warmUp, i -> server.sendTask(Signature.create("noop")));
    awaitCount(done, warmUp);
    warm.quit();

    long start = System.nanoTime();
    runConcurrently(concurrency, tasks, i -> server.sendTask(Signature.create("noop")));
    double enqueue = tasks / seconds(start);

    Worker worker = worker(server, "bench", concurrency, done);
    done.set(0);
    start = System.nanoTime();
    worker.launchAsync();
    awaitCount(done, tasks);
    double drain = tasks / seconds(start);

    done.set(0);
    runConcurrently(
        concurrency,
        latencies.length,
        i -> server.sendTask(Signature.create("timed", Arg.of(System.nanoTime()))));
    awaitCount(done, latencies.length);
    worker.quit();
    return new Result(
        setup,
        concurrency,
        enqueue,
        drain,
        percentile(latencies, 0.50),
        percentile(latencies, 0.99));
  }

  private static Worker worker(Server server, String tag, int concurrency, AtomicLong done) {
    return server
        .workerBuilder(tag)
        .concurrency(concurrency)
        .postTaskHandler(s -> done.incrementAndGet())
        .build();
  }
}
