package io.machinery.benchmarks.redis;

import io.lettuce.core.LMoveArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * No-op tasks through the Redis broker and the Redis backend, against a bare Lettuce program doing
 * the least Redis work a reliable task queue needs per task, as the ceiling.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.redis.RedisBenchmark \
 *     [--url redis://127.0.0.1:6379] [--tasks 100000] [--concurrency 1,10,100] [--rounds 3] [--jfr DIR]
 * </pre>
 *
 * <p>Per concurrency level, on a fresh queue:
 *
 * <ul>
 *   <li><b>enqueue</b>: {@code sendTask} from 64 virtual threads with the worker stopped (PENDING
 *       state stored, then RPUSH); tasks/s.
 *   <li><b>drain</b>: a worker of that concurrency started on the full queue, until every task's
 *       SUCCESS is stored (RECEIVED, STARTED, SUCCESS written; acknowledged); tasks/s.
 *   <li><b>enqueue→start latency</b>: with the worker running, tasks sent at a quarter of the
 *       measured drain rate (sending costs as much CPU as running on this 2-core box); time from
 *       the {@code sendTask} call to the task starting, p50/p99.
 *   <li><b>idle pickup</b>: one task at a time to an idle worker (blocked in BLMOVE); send to
 *       start, p50/p99.
 * </ul>
 *
 * <p>The ceiling does per task what any reliable Redis queue must: RPUSH (enqueue, 64 threads),
 * then with {@code concurrency} threads on one shared connection: LMOVE queue → processing list,
 * SET the result with an expiry, LREM from the processing list. The table prints our rate as a
 * share of it.
 *
 * <p>Each round runs ours and then the ceiling at each concurrency; the table shows medians over
 * the rounds (default 3), because other work on a small machine moves single figures a lot.
 * Diagnostics (CPU time per task of this JVM and of Redis, per round) go to stderr.
 *
 * <p>Size: a benchmark program (scenarios, baselines side by side, the printed table), not library
 * code.
 */
public final class RedisBenchmark {
  private static final int SENDERS = 64;

  /** The share of the measured drain rate at which tasks are sent for the latency figures. */
  private static final double LATENCY_LOAD = 0.25;

  /**
   * With {@code --jfr <dir>}: a flight recording of each drain phase of ours (for profiling), else
   * null.
   */
  private static java.nio.file.@org.jspecify.annotations.Nullable Path jfrDirectory;

  private final String url;
  private final int tasks;

  private RedisBenchmark(String url, int tasks) {
    this.url = url;
    this.tasks = tasks;
  }

  public static void main(String[] args) throws Exception {
    String url = System.getenv().getOrDefault("REDIS_URL", "redis://127.0.0.1:6379");
    int tasks = 100_000;
    int rounds = 3;
    List<Integer> levels = List.of(1, 10, 100);
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--url" -> url = args[++i];
        case "--tasks" -> tasks = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--jfr" -> jfrDirectory = java.nio.file.Path.of(args[++i]);
        case "--concurrency" ->
            levels =
                Arrays.stream(args[++i].split(","))
                    .map(String::trim)
                    .map(Integer::valueOf)
                    .toList();
        default ->
            throw new IllegalArgumentException(
                "unknown argument " + args[i] + " (use --url, --tasks, --concurrency, --rounds)");
      }
    }
    RedisBenchmark bench = new RedisBenchmark(url, tasks);
    System.out.printf(
        Locale.ROOT,
        "Redis %s, %d no-op tasks per run, %d processors, Java %s%n%n",
        url,
        tasks,
        Runtime.getRuntime().availableProcessors(),
        Runtime.version());
    bench.warmUp();
    java.util.Map<Integer, List<Result[]>> runs = new java.util.LinkedHashMap<>();
    for (int round = 0; round < rounds; round++) {
      for (int concurrency : levels) {
        Result ours = bench.machinery(concurrency);
        Result ceiling = bench.ceiling(concurrency);
        runs.computeIfAbsent(concurrency, c -> new ArrayList<>()).add(new Result[] {ours, ceiling});
        System.err.printf(
            Locale.ROOT,
            "round %d, concurrency %d: drain %,.0f/s, ceiling %,.0f/s (%.0f%%)%n",
            round + 1,
            concurrency,
            ours.drainRate,
            ceiling.drainRate,
            100 * ours.drainRate / ceiling.drainRate);
      }
    }
    System.out.println(
        "| concurrency | enqueue tasks/s | ceiling enqueue/s | drain tasks/s | ceiling drain/s"
            + " | drain vs ceiling | enqueue→start p50 / p99 ms (at ¼ drain rate) | idle pickup p50 / p99 ms |");
    System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|");
    runs.forEach(
        (concurrency, pairs) ->
            System.out.printf(
                Locale.ROOT,
                "| %d | %,.0f | %,.0f | %,.0f | %,.0f | %.0f%% | %.2f / %.2f | %.2f / %.2f |%n",
                concurrency,
                median(pairs, p -> p[0].enqueueRate),
                median(pairs, p -> p[1].enqueueRate),
                median(pairs, p -> p[0].drainRate),
                median(pairs, p -> p[1].drainRate),
                100 * median(pairs, p -> p[0].drainRate / p[1].drainRate),
                median(pairs, p -> p[0].latencyP50),
                median(pairs, p -> p[0].latencyP99),
                median(pairs, p -> p[0].idleP50),
                median(pairs, p -> p[0].idleP99)));
    if (rounds > 1) {
      System.out.printf(
          "%nMedians of %d rounds; each round runs ours, then the ceiling, at each concurrency."
              + " Per round (drain vs ceiling):%n",
          rounds);
      runs.forEach(
          (concurrency, pairs) ->
              System.out.printf(
                  Locale.ROOT,
                  "- concurrency %d: %s%n",
                  concurrency,
                  String.join(
                      ", ",
                      pairs.stream()
                          .map(
                              p ->
                                  String.format(
                                      Locale.ROOT,
                                      "%,.0f vs %,.0f",
                                      p[0].drainRate,
                                      p[1].drainRate))
                          .toList())));
    }
  }

  private static double median(
      List<Result[]> pairs, java.util.function.ToDoubleFunction<Result[]> value) {
    double[] values = pairs.stream().mapToDouble(value).sorted().toArray();
    int n = values.length;
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  }

  private record Result(
      double enqueueRate,
      double drainRate,
      double latencyP50,
      double latencyP99,
      double idleP50,
      double idleP99) {}

  private Config config(String queue) {
    return Config.builder()
        .broker(url)
        .resultBackend(url)
        .defaultQueue(queue)
        .resultsExpireIn(600)
        .build();
  }

  /** A short run of each path so the JIT has compiled them before anything is measured. */
  private void warmUp() throws Exception {
    RedisBenchmark small = new RedisBenchmark(url, Math.min(tasks, 20_000));
    small.machinery(10);
    small.ceiling(10);
  }

  // ------------------------------------------------------------------------------------------------- ours

  private Result machinery(int concurrency) throws Exception {
    String queue = "bench_" + UUID.randomUUID().toString().substring(0, 8);
    Config config = config(queue);
    Map<String, Long> sentAt = new ConcurrentHashMap<>();
    Map<String, Long> startedAt = new ConcurrentHashMap<>();
    AtomicLong finished = new AtomicLong();
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("noop", TaskFunction.of(() -> null));

      long t0 = System.nanoTime();
      sendAll(server, tasks);
      double enqueueRate = tasks / seconds(System.nanoTime() - t0);

      Worker worker =
          server
              .workerBuilder("bench")
              .concurrency(concurrency)
              .preTaskHandler(
                  s -> {
                    Long sent = sentAt.get(s.uuid());
                    if (sent != null) {
                      startedAt.put(s.uuid(), System.nanoTime() - sent);
                    }
                  })
              .postTaskHandler(s -> finished.incrementAndGet())
              .build();
      long t1 = System.nanoTime();
      long cpu1 = jvmCpuNanos();
      double redisCpu1 = redisCpuSeconds();
      jdk.jfr.Recording recording = startRecording();
      worker.launchAsync();
      awaitCount(finished, tasks);
      double drainRate = tasks / seconds(System.nanoTime() - t1);
      stopRecording(recording, "drain-" + concurrency);
      System.err.printf(
          Locale.ROOT,
          "  drain at concurrency %d: JVM %.1f us CPU/task, Redis %.1f us CPU/task%n",
          concurrency,
          (jvmCpuNanos() - cpu1) / 1e3 / tasks,
          (redisCpuSeconds() - redisCpu1) * 1e6 / tasks);
      checkStored(backend, server, finished, tasks + 1L);

      // enqueue→start latency at a quarter of the drain rate (sending costs CPU too), worker
      // running
      int latencyTasks = Math.min(tasks / 5, 20_000);
      long before = finished.get();
      paced(server, latencyTasks, drainRate * LATENCY_LOAD, sentAt);
      awaitCount(finished, before + latencyTasks);
      double[] latency = percentiles(startedAt.values(), 50, 99);

      // idle pickup: one task at a time
      startedAt.clear();
      sentAt.clear();
      int idleTasks = 200;
      for (int i = 0; i < idleTasks; i++) {
        long target = finished.get() + 1;
        Signature s = Signature.create("noop");
        String uuid = "task_" + UUID.randomUUID();
        sentAt.put(uuid, System.nanoTime());
        server.sendTask(s.toBuilder().uuid(uuid).build());
        awaitCount(finished, target);
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
      }
      double[] idle = percentiles(startedAt.values(), 50, 99);
      worker.quit();
      return new Result(enqueueRate, drainRate, latency[0], latency[1], idle[0], idle[1]);
    }
  }

  private static void sendAll(Server server, int count) throws InterruptedException {
    AtomicInteger next = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(SENDERS);
    for (int t = 0; t < SENDERS; t++) {
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  while (next.getAndIncrement() < count) {
                    server.sendTask(Signature.create("noop"));
                  }
                } finally {
                  done.countDown();
                }
              });
    }
    done.await();
  }

  /** Sends {@code count} tasks at {@code rate} per second, each from its own virtual thread. */
  private static void paced(Server server, int count, double rate, Map<String, Long> sentAt)
      throws InterruptedException {
    long interval = (long) (1e9 / rate);
    long start = System.nanoTime();
    Semaphore inFlight = new Semaphore(1_000);
    for (int i = 0; i < count; i++) {
      long due = start + i * interval;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
      inFlight.acquire();
      Thread.ofVirtual()
          .start(
              () -> {
                try {
                  String uuid = "task_" + UUID.randomUUID();
                  sentAt.put(uuid, System.nanoTime());
                  server.sendTask(Signature.create("noop").toBuilder().uuid(uuid).build());
                } finally {
                  inFlight.release();
                }
              });
    }
  }

  /** Checks that results really are in Redis: one more task, read back from the backend. */
  private static void checkStored(
      RedisBackend backend, Server server, AtomicLong finished, long expected) {
    AsyncResult probe = server.sendTask(Signature.create("noop"));
    probe.get(Duration.ofSeconds(30));
    TaskState state = backend.getState(probe.signature().uuid()).orElseThrow();
    if (!state.isSuccess()) {
      throw new IllegalStateException("a benchmark task did not end SUCCESS: " + state);
    }
    awaitCount(finished, expected);
  }

  // ----------------------------------------------------------------------------------------------
  // ceiling

  /**
   * The least a reliable Redis task queue does per task, with the same threads and one shared
   * connection.
   */
  private Result ceiling(int concurrency) throws Exception {
    String queue = "ceiling_" + UUID.randomUUID().toString().substring(0, 8);
    RedisClient client = RedisClient.create(RedisURI.create(url));
    try (StatefulRedisConnection<String, byte[]> connection =
        client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE))) {
      RedisAsyncCommands<String, byte[]> redis = connection.async();
      byte[] message =
          WireCodec.encode(
              Signature.create("noop").toBuilder().routingKey(queue).headers(Map.of()).build());
      byte[] result =
          WireCodec.encode(
              TaskState.success(Signature.create("noop"), List.<TaskResult>of())
                  .withCarriedForward(
                      TaskState.pending(
                          Signature.create("noop"), OffsetDateTime.now(ZoneOffset.UTC))));
      SetArgs ex = SetArgs.Builder.ex(600);

      AtomicInteger next = new AtomicInteger();
      CountDownLatch sent = new CountDownLatch(SENDERS);
      long t0 = System.nanoTime();
      for (int t = 0; t < SENDERS; t++) {
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    while (next.getAndIncrement() < tasks) {
                      redis.rpush(queue, message).get();
                    }
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  } finally {
                    sent.countDown();
                  }
                });
      }
      sent.await();
      double enqueueRate = tasks / seconds(System.nanoTime() - t0);

      AtomicLong done = new AtomicLong();
      CountDownLatch workers = new CountDownLatch(concurrency);
      long t1 = System.nanoTime();
      long cpu1 = jvmCpuNanos();
      double redisCpu1 = redisCpuSeconds();
      for (int w = 0; w < concurrency; w++) {
        String processing = "{" + queue + "}:processing:" + w;
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    while (true) {
                      byte[] m =
                          redis.lmove(queue, processing, LMoveArgs.Builder.leftRight()).get();
                      if (m == null) {
                        break;
                      }
                      redis.set("ceiling_task_" + done.incrementAndGet(), result, ex).get();
                      redis.lrem(processing, 1, m).get();
                    }
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  } finally {
                    workers.countDown();
                  }
                });
      }
      workers.await();
      double drainRate = tasks / seconds(System.nanoTime() - t1);
      System.err.printf(
          Locale.ROOT,
          "  ceiling drain at concurrency %d: JVM %.1f us CPU/task, Redis %.1f us CPU/task%n",
          concurrency,
          (jvmCpuNanos() - cpu1) / 1e3 / tasks,
          (redisCpuSeconds() - redisCpu1) * 1e6 / tasks);
      List<String> keys = new ArrayList<>();
      for (long i = 1; i <= done.get(); i++) {
        keys.add("ceiling_task_" + i);
        if (keys.size() == 1000) {
          redis.unlink(keys.toArray(new String[0])).get();
          keys.clear();
        }
      }
      if (!keys.isEmpty()) {
        redis.unlink(keys.toArray(new String[0])).get();
      }
      return new Result(enqueueRate, drainRate, 0, 0, 0, 0);
    } finally {
      client.shutdown();
    }
  }

  // -----------------------------------------------------------------------------------------------
  // helpers

  private static void awaitCount(AtomicLong counter, long target) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (counter.get() < target) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("stuck at " + counter.get() + " of " + target);
      }
      LockSupport.parkNanos(100_000);
    }
  }

  private static jdk.jfr.@org.jspecify.annotations.Nullable Recording startRecording() {
    if (jfrDirectory == null) {
      return null;
    }
    try {
      jdk.jfr.Recording recording =
          new jdk.jfr.Recording(jdk.jfr.Configuration.getConfiguration("profile"));
      recording.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(1));
      recording.start();
      return recording;
    } catch (java.io.IOException | java.text.ParseException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void stopRecording(
      jdk.jfr.@org.jspecify.annotations.Nullable Recording recording, String name) {
    if (recording == null) {
      return;
    }
    try {
      recording.dump(jfrDirectory.resolve(name + ".jfr"));
      recording.close();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static long jvmCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
            java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Redis' own CPU time (user + system), from INFO cpu. */
  private double redisCpuSeconds() {
    RedisClient client = RedisClient.create(RedisURI.create(url));
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      double total = 0;
      for (String line : c.sync().info("cpu").split("\r?\n")) {
        if (line.startsWith("used_cpu_sys:") || line.startsWith("used_cpu_user:")) {
          total += Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
        }
      }
      return total;
    } finally {
      client.shutdown();
    }
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }

  /** Percentiles of nanosecond values, in milliseconds. */
  private static double[] percentiles(java.util.Collection<Long> nanos, double... ps) {
    long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
    double[] out = new double[ps.length];
    for (int i = 0; i < ps.length; i++) {
      if (sorted.length == 0) {
        out[i] = Double.NaN;
        continue;
      }
      int index = (int) Math.min(sorted.length - 1, Math.ceil(ps[i] / 100 * sorted.length) - 1);
      out[i] = sorted[Math.max(0, index)] / 1e6;
    }
    return out;
  }
}
