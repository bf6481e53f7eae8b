package io.machinery.benchmarks.outside;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.benchmarks.outside.OutsideBenchmark.Driver;
import io.machinery.benchmarks.outside.OutsideBenchmark.Row;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The scale proofs (issue #17 item 8, issue #18 item 6), fault-free, one markdown table each.
 *
 * <pre>
 * scripts/bench/outside.sh scale [--proofs sleepers,drain,chord]
 *     [--sleepers 100000] [--sleep-ms 1000] [--sleeper-brokers memory,redis]
 *     [--drain 100000,1000000] [--drain-concurrency 10] [--drain-rounds 1]
 *     [--chord 10000] [--chord-pairs redis+redis,amqp+redis,amqp+amqp] [--chord-send-concurrency 100]
 *     [--redis redis://127.0.0.1:6379/9] [--amqp amqp://guest:guest@127.0.0.1:5672/] [--java-opts "..."]
 * </pre>
 *
 * <ol>
 *   <li><b>sleepers</b>: one fresh JVM per broker sends N tasks that each sleep (standing for
 *       blocking I/O) with {@code Server.sendTasks}, then launches one worker of concurrency N on
 *       virtual threads and times it from launch to the Nth task done; heap after a forced GC
 *       before and after, the pools' peak while it ran, and the most tasks running at once ({@link
 *       ScaleRoles#sleepers}).
 *   <li><b>drain</b>: the outside-in benchmark's own processes ({@link Driver#measure}, system
 *       {@code java-batch}: a producer process pre-fills the queue with {@code sendTasks}, a fresh
 *       worker process drains it), for each task count in turn in the same run; the worker reports
 *       its used heap after GC per window of {@value Roles#HEAP_WINDOW_SECONDS} s ({@link
 *       HeapSampler}) and the drain rates are compared with the first (smallest) count.
 *   <li><b>chord</b>: one fresh JVM per broker + backend pair sends a chord of N members and runs
 *       it on one worker; the callback counts its runs, read once every member has finished and the
 *       queue is empty ({@link ScaleRoles#chord}).
 * </ol>
 *
 * <p>Redis: the outside-in benchmark's database ({@code REDIS_URL}, database 9), FLUSHed before and
 * after each drain row and each Redis sleeper or chord run: point {@code --redis} at a private
 * server (see {@code docs/benchmarks.md}).
 */
public final class ScaleBenchmark {
  private ScaleBenchmark() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("-h") || args[i].equals("--help")) {
        System.out.println(
            "usage: ScaleBenchmark [sleepers|chord] [--proofs sleepers,drain,chord] [--sleepers N]"
                + " [--sleep-ms MS] [--sleeper-brokers memory,redis] [--drain 100000,1000000]"
                + " [--drain-concurrency C] [--drain-rounds R] [--chord N] [--chord-pairs redis+redis,amqp+redis,amqp+amqp]"
                + " [--chord-send-concurrency S] [--redis URL] [--amqp URL] [--java-opts OPTS]");
        return;
      }
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --option value at " + args[i]);
      }
      o.put(args[i].substring(2), args[++i]);
    }
    String role = o.getOrDefault("role", "run");
    switch (role) {
      case "sleepers", "chord" -> {
        new ScaleRoles(o).run(role);
        System.exit(0); // a worker's non-daemon threads must not keep the process
      }
      case "run" -> run(o, args);
      default -> throw new IllegalArgumentException("unknown role " + role);
    }
  }

  private static void run(Map<String, String> o, String[] args) throws Exception {
    Driver outside = new Driver();
    outside.redis = o.getOrDefault("redis", outside.redis);
    outside.latency = 0;
    if (o.containsKey("java-opts")) {
      outside.javaOpts = List.of(o.get("java-opts").trim().split("\\s+"));
    }
    outside.redisPid = outside.localRedisPid();
    List<String> proofs = List.of(o.getOrDefault("proofs", "sleepers,drain,chord").split(","));
    StringBuilder out = new StringBuilder();
    out.append("`scripts/bench/outside.sh scale ").append(String.join(" ", args)).append("`, ");
    out.append(
        String.format(
            Locale.ROOT,
            "%d cores, Java %s, load average at the start %s%n%n",
            Runtime.getRuntime().availableProcessors(),
            Runtime.version(),
            loadAverage()));
    if (proofs.contains("sleepers")) {
      out.append(sleepers(outside, o)).append('\n');
    }
    if (proofs.contains("drain")) {
      out.append(drain(outside, o)).append('\n');
    }
    if (proofs.contains("chord")) {
      out.append(chord(outside, o)).append('\n');
    }
    out.append("load average at the end ").append(loadAverage()).append('\n');
    System.out.println(out);
  }

  private static String sleepers(Driver outside, Map<String, String> o) throws Exception {
    String n = o.getOrDefault("sleepers", "100000");
    String sleepMs = o.getOrDefault("sleep-ms", "1000");
    StringBuilder t = new StringBuilder();
    t.append("| broker + backend | tasks | concurrency | each task | wall s (launch to last done)")
        .append(" | tasks/s | worker JVM CPU s (µs/task) | most running at once")
        .append(" | heap MiB before / after (forced GC)")
        .append(
            " | heap MiB highest after a GC while running | heap MiB peak (pools) / max | all done |\n")
        .append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (String broker : o.getOrDefault("sleeper-brokers", "memory,redis").split(",")) {
      OutsideBenchmark.progress("sleepers: %s tasks of %s ms on %s", n, sleepMs, broker);
      outside.flush("java");
      JsonNode r =
          child(
              outside,
              "sleepers",
              "sleepers-" + broker,
              "--broker",
              broker,
              "--tasks",
              n,
              "--sleep-ms",
              sleepMs,
              "--concurrency",
              o.getOrDefault("sleeper-concurrency", n));
      outside.flush("java");
      OutsideBenchmark.progress("  %s", r);
      t.append(
          String.format(
              Locale.ROOT,
              "| %s | %,d | %,d | sleeps %s ms | %.2f | %,.0f | %.1f (%.0f) | %,d | %.0f / %.0f | %.0f | %.0f / %.0f | %s |%n",
              broker.equals("memory") ? "memory + memory" : broker + " + " + broker,
              r.path("tasks").asInt(),
              r.path("concurrency").asInt(),
              sleepMs,
              r.path("seconds").asDouble(),
              r.path("tasks").asDouble() / r.path("seconds").asDouble(),
              r.path("cpu_us").asDouble() / 1e6,
              r.path("cpu_us").asDouble() / r.path("tasks").asDouble(),
              r.path("max_running").asInt(),
              r.path("heap_before_mb").asDouble(),
              r.path("heap_after_mb").asDouble(),
              r.path("heap_max_after_gc_mb").asDouble(),
              r.path("heap_peak_mb").asDouble(),
              r.path("heap_max_mb").asDouble(),
              r.path("done").asInt() == r.path("tasks").asInt() ? "yes" : "NO: " + r.path("done")));
    }
    return t.toString();
  }

  private static String drain(Driver outside, Map<String, String> o) throws Exception {
    int c = Integer.parseInt(o.getOrDefault("drain-concurrency", "10"));
    int rounds = Integer.parseInt(o.getOrDefault("drain-rounds", "1"));
    int[] counts =
        Arrays.stream(o.getOrDefault("drain", "100000,1000000").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();
    StringBuilder t = new StringBuilder();
    t.append("| round | tasks (Redis + Redis) | C | pre-fill/s (sendTasks, 1000 a call)")
        .append(" | drain/s cold | drain/s warm | cold / warm vs the round's first row")
        .append(" | worker CPU µs/task (warm half) | worker heap MiB after GC, lowest per ")
        .append((int) Roles.HEAP_WINDOW_SECONDS)
        .append(" s window | highest after a GC | heap MiB peak (pools) / max |\n")
        .append("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n");
    for (int round = 1; round <= rounds; round++) {
      double firstCold = Double.NaN;
      double firstWarm = Double.NaN;
      for (int n : counts) {
        OutsideBenchmark.progress("drain round %d: %,d tasks at concurrency %d", round, n, c);
        outside.tasks = n;
        Row row = outside.measure("java-batch", c);
        Table.Cells cells = Table.cells(row, n);
        JsonNode d = row.drained();
        OutsideBenchmark.progress("  %s; heap %s", cells, d.path("heap_after_gc_mb"));
        if (Double.isNaN(firstCold)) {
          firstCold = cells.cold();
          firstWarm = cells.warm();
        }
        List<String> heap = new ArrayList<>();
        d.path("heap_after_gc_mb").forEach(v -> heap.add(v.asText()));
        t.append(
            String.format(
                Locale.ROOT,
                "| %d | %,d | %d | %,.0f | %,.0f | %,.0f | %.2f / %.2f | %.0f (%.0f) | %s | %d | %d / %d |%n",
                round,
                n,
                c,
                cells.enqueue(),
                cells.cold(),
                cells.warm(),
                cells.cold() / firstCold,
                cells.warm() / firstWarm,
                cells.workerCpu(),
                cells.warmWorkerCpu(),
                String.join(" ", heap),
                d.path("heap_max_after_gc_mb").asLong(),
                d.path("heap_peak_mb").asLong(),
                d.path("heap_max_mb").asLong()));
      }
    }
    return t.toString();
  }

  private static String chord(Driver outside, Map<String, String> o) throws Exception {
    String n = o.getOrDefault("chord", "10000");
    StringBuilder t = new StringBuilder();
    t.append("| broker + backend | members | send s (sendChord, ")
        .append(o.getOrDefault("chord-send-concurrency", "100"))
        .append(" publishes at once) | send to callback result s")
        .append(" | members run | callback runs | left in queue after | result right |\n")
        .append("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for (String pair :
        o.getOrDefault("chord-pairs", "redis+redis,amqp+redis,amqp+amqp").split(",")) {
      OutsideBenchmark.progress("chord: %s members on %s", n, pair);
      outside.flush("java");
      JsonNode r;
      try {
        r =
            child(
                outside,
                "chord",
                "chord-" + pair,
                "--pair",
                pair,
                "--members",
                n,
                "--amqp",
                o.getOrDefault("amqp", ScaleRoles.defaultAmqp()),
                "--send-concurrency",
                o.getOrDefault("chord-send-concurrency", "100"),
                "--timeout-seconds",
                o.getOrDefault("chord-timeout-seconds", "600"));
      } catch (IllegalStateException e) {
        t.append(
            String.format(
                Locale.ROOT, "| %s | %s | failed: %s | | | | | |%n", pair, n, e.getMessage()));
        continue;
      }
      outside.flush("java");
      OutsideBenchmark.progress("  %s", r);
      t.append(
          String.format(
              Locale.ROOT,
              "| %s | %,d | %.2f | %.2f | %,d | %d | %d | %s |%n",
              pair.replace("+", " + "),
              r.path("members").asInt(),
              r.path("send_seconds").asDouble(),
              r.path("seconds").asDouble(),
              r.path("members_done").asLong(),
              r.path("callback_runs").asInt(),
              r.path("queue_left").asLong(),
              r.path("result_right").asBoolean() ? "yes" : "NO: " + r.path("result")));
    }
    return t.toString();
  }

  /** Runs a role of {@link ScaleRoles} in a fresh JVM and returns the JSON line it printed. */
  private static JsonNode child(Driver outside, String role, String log, String... args)
      throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(outside.javaOpts);
    cmd.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            ScaleBenchmark.class.getName(),
            "--role",
            role,
            "--redis",
            outside.redis));
    cmd.addAll(List.of(args));
    Path logFile = outside.logs.resolve(log.replace('+', '-') + ".log");
    Process p = new ProcessBuilder(cmd).redirectError(logFile.toFile()).start();
    return outside.lastJson(p, role);
  }

  private static String loadAverage() {
    try {
      String[] f = java.nio.file.Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+", 4);
      return f[0] + " " + f[1] + " " + f[2];
    } catch (java.io.IOException e) {
      return "n/a";
    }
  }
}
