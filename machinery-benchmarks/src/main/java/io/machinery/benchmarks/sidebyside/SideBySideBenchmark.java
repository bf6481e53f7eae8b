package io.machinery.benchmarks.sidebyside;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Go Machinery v2 and Machinery for Java, same workload, same servers, same run; prints a markdown
 * table.
 *
 * <pre>
 * cd interop/go &amp;&amp; go build -o bin/machinery-interop . &amp;&amp; cd ../..     # or let the benchmark build it
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.sidebyside.SideBySideBenchmark \
 *     [-n 100000] [--concurrency 1,10,100] [--pairs redis-redis,amqp-redis] [--latency 1000] \
 *     [--redis redis://127.0.0.1:6379] [--amqp amqp://guest:guest@127.0.0.1:5672/] \
 *     [--mongodb mongodb://127.0.0.1:27017] [--memcache memcache://127.0.0.1:11211] (pairs redis-mongodb, redis-memcache) \
 *     [--go-dir interop/go] [--go-binary interop/go/bin/machinery-interop] [--warmup 5000] [--max-seconds 900]
 * </pre>
 *
 * <p>For every broker × backend pair and worker concurrency, each implementation runs the same
 * steps on the same emptied queue ({@code sidebyside_bench}): send N {@code noop} tasks one after
 * another ({@code SendTask}: the PENDING state is stored, then the message published) — the
 * <b>enqueue</b> rate; start a worker of that concurrency on the full queue and count tasks until N
 * have their SUCCESS stored — the <b>drain</b> rate; then send single tasks one at a time to the
 * running worker and time each from the send call to its post-task handler (SUCCESS stored) —
 * <b>latency</b> p50/p99. Go runs first, in its own process (the {@code bench} subcommand of {@code
 * interop/go}, which uses {@code github.com/RichardKnop/machinery/v2}); Java runs in this JVM. On
 * AMQP both use prefetch = concurrency. Before measuring, each pair gets one unmeasured warm-up run
 * per implementation. Results expire after 600 s (both sides) so that Redis does not fill up.
 */
public final class SideBySideBenchmark {
  static final String QUEUE = "sidebyside_bench";
  static final int RESULTS_EXPIRE_IN = 600;

  private SideBySideBenchmark() {}

  public static void main(String[] args) throws Exception {
    int tasks = 100_000;
    int[] concurrencies = {1, 10, 100};
    List<String> pairs = List.of("redis-redis", "amqp-redis");
    int latency = 1000;
    int warmup = -1;
    long maxSeconds = 900;
    String redis = env("REDIS_URL", "redis://127.0.0.1:6379");
    String amqp = env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/");
    String mongodb = env("MONGODB_URI", "mongodb://127.0.0.1:27017");
    String memcache = "memcache://" + env("MEMCACHE_ADDR", "127.0.0.1:11211");
    Path goDir = Path.of("interop/go");
    @Nullable Path goBinary = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "-n", "--tasks" -> tasks = Integer.parseInt(value(args, ++i, a));
        case "--concurrency" ->
            concurrencies =
                Arrays.stream(value(args, ++i, a).split(",")).mapToInt(Integer::parseInt).toArray();
        case "--pairs" -> pairs = List.of(value(args, ++i, a).split(","));
        case "--latency" -> latency = Integer.parseInt(value(args, ++i, a));
        case "--warmup" -> warmup = Integer.parseInt(value(args, ++i, a));
        case "--max-seconds" -> maxSeconds = Long.parseLong(value(args, ++i, a));
        case "--redis" -> redis = value(args, ++i, a);
        case "--amqp" -> amqp = value(args, ++i, a);
        case "--mongodb" -> mongodb = value(args, ++i, a);
        case "--memcache" -> memcache = value(args, ++i, a);
        case "--go-dir" -> goDir = Path.of(value(args, ++i, a));
        case "--go-binary" -> goBinary = Path.of(value(args, ++i, a));
        case "-h", "--help" -> {
          System.out.println(
              "usage: SideBySideBenchmark [-n N] [--concurrency 1,10,100] [--pairs redis-redis,amqp-redis]"
                  + " [--latency L] [--warmup W] [--max-seconds S] [--redis URL] [--amqp URL] [--mongodb URL] [--memcache URL] [--go-dir DIR] [--go-binary FILE]");
          return;
        }
        default -> throw new IllegalArgumentException("unknown argument " + a + " (try --help)");
      }
    }
    if (tasks < 1) {
      throw new IllegalArgumentException("-n must be at least 1");
    }
    if (warmup < 0) {
      warmup = Math.min(tasks, 5_000);
    }
    Path binary =
        GoWorkload.binary(
            goDir.toAbsolutePath(),
            (goBinary != null ? goBinary : goDir.resolve("bin/machinery-interop"))
                .toAbsolutePath());
    Duration maxTime = Duration.ofSeconds(maxSeconds);

    List<Row> rows = new ArrayList<>();
    for (String pair : pairs) {
      Target target =
          switch (pair) {
            case "redis-redis" ->
                new Target("Redis broker + Redis backend", redis, redis, QUEUE, RESULTS_EXPIRE_IN);
            case "amqp-redis" ->
                new Target("AMQP broker + Redis backend", amqp, redis, QUEUE, RESULTS_EXPIRE_IN);
            case "redis-mongodb" ->
                new Target(
                    "Redis broker + MongoDB backend", redis, mongodb, QUEUE, RESULTS_EXPIRE_IN);
            case "redis-memcache" ->
                new Target(
                    "Redis broker + Memcache backend", redis, memcache, QUEUE, RESULTS_EXPIRE_IN);
            case "gcppubsub-redis" ->
                new Target(
                    "GCP Pub/Sub broker + Redis backend",
                    PubSubBench.url(QUEUE),
                    redis,
                    QUEUE,
                    RESULTS_EXPIRE_IN); // on PUBSUB_EMULATOR_HOST
            default ->
                throw new IllegalArgumentException(
                    "unknown pair "
                        + pair
                        + " (redis-redis, amqp-redis, redis-mongodb, redis-memcache, gcppubsub-redis)");
          };
      if (warmup > 0) {
        progress("%s: warm-up, %d tasks per implementation", target.label(), warmup);
        GoWorkload.run(binary, target, warmup, 10, Math.min(latency, 100), maxTime);
        JavaWorkload.run(target, warmup, 10, Math.min(latency, 100), maxTime);
      }
      for (int c : concurrencies) {
        progress("%s, concurrency %d: Go", target.label(), c);
        Measurement go = GoWorkload.run(binary, target, tasks, c, latency, maxTime);
        progress("  go   %s", brief(go));
        progress("%s, concurrency %d: Java", target.label(), c);
        Measurement java = JavaWorkload.run(target, tasks, c, latency, maxTime);
        progress("  java %s", brief(java));
        rows.add(new Row(target.label(), c, go, java));
      }
    }
    System.out.println(table(rows, tasks, latency, warmup, GoWorkload.version(binary), args));
  }

  record Row(String pair, int concurrency, Measurement go, Measurement java) {}

  static String table(
      List<Row> rows, int tasks, int latency, int warmup, String goVersion, String[] args) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "%n%,d no-op tasks per run; latency: %,d single tasks, send → SUCCESS stored;"
                + " warm-up: %,d tasks per pair and implementation.%n",
            tasks,
            latency,
            warmup));
    sb.append(
        String.format(
            Locale.ROOT,
            "Go Machinery v2.0.16 (%s) vs Machinery for Java (Java %s, %s), %d CPUs.%n",
            goVersion,
            Runtime.version(),
            System.getProperty("java.vm.name"),
            Runtime.getRuntime().availableProcessors()));
    sb.append("Arguments: ")
        .append(args.length == 0 ? "(defaults)" : String.join(" ", args))
        .append("\n\n");
    sb.append(
        "| broker + backend | worker concurrency | enqueue/s Go | enqueue/s Java | Java/Go | drain/s Go"
            + " | drain/s Java | Java/Go | p50 ms Go | p50 ms Java | p99 ms Go | p99 ms Java |\n");
    sb.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    List<String> notes = new ArrayList<>();
    for (Row r : rows) {
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n",
              r.pair(),
              r.concurrency(),
              rate(r.go().enqueuePerSecond()),
              rate(r.java().enqueuePerSecond()),
              ratio(r.java().enqueuePerSecond(), r.go().enqueuePerSecond()),
              rate(r.go().drainPerSecond()),
              rate(r.java().drainPerSecond()),
              ratio(r.java().drainPerSecond(), r.go().drainPerSecond()),
              millis(r.go().p50Millis()),
              millis(r.java().p50Millis()),
              millis(r.go().p99Millis()),
              millis(r.java().p99Millis())));
      for (Measurement m : List.of(r.go(), r.java())) {
        if (!m.clean()) {
          notes.add(
              r.pair() + ", concurrency " + r.concurrency() + ", " + m.impl() + ": " + m.note());
        }
      }
    }
    sb.append("\nJava/Go above 1 means Machinery for Java is faster; latency: lower is better.\n");
    for (String note : notes) {
      sb.append("Note: ").append(note).append('\n');
    }
    return sb.toString();
  }

  private static String rate(double perSecond) {
    return String.format(Locale.ROOT, "%,.0f", perSecond);
  }

  private static String ratio(double ours, double theirs) {
    return theirs <= 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", ours / theirs);
  }

  private static String millis(@Nullable Double ms) {
    return ms == null ? "n/a" : String.format(Locale.ROOT, "%.2f", ms);
  }

  private static String brief(Measurement m) {
    return String.format(
        Locale.ROOT,
        "enqueue %s/s, drain %s/s, p50 %s ms, p99 %s ms%s",
        rate(m.enqueuePerSecond()),
        rate(m.drainPerSecond()),
        millis(m.p50Millis()),
        millis(m.p99Millis()),
        m.clean() ? "" : " (" + m.note() + ")");
  }

  private static void progress(String format, Object... args) {
    System.err.printf(Locale.ROOT, format + "%n", args);
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }

  private static String value(String[] args, int i, String flag) {
    if (i >= args.length) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return args[i];
  }
}
