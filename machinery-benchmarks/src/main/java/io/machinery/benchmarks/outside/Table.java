package io.machinery.benchmarks.outside;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.benchmarks.outside.OutsideBenchmark.Row;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The outside-in benchmark's markdown table: one line per system and concurrency, medians over the
 * rounds.
 */
final class Table {
  private Table() {}

  /** The figures of one row, in table order. */
  record Cells(
      double enqueue,
      double cold,
      double warm,
      double p50,
      double p99,
      double producerCpu,
      double workerCpu,
      double warmWorkerCpu,
      double producerJit,
      double workerJit,
      double warmWorkerJit,
      double redisSendCpu,
      double redisDrainCpu) {
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "enqueue %,.0f/s, drain cold %,.0f/s warm %,.0f/s, p50 %.2f p99 %.2f ms,"
              + " CPU us/task producer %.0f worker %.0f (warm %.0f), JIT %s / %s (%s), redis"
              + " %.0f/%.0f",
          enqueue,
          cold,
          warm,
          p50,
          p99,
          producerCpu,
          workerCpu,
          warmWorkerCpu,
          jit(producerJit),
          jit(workerJit),
          jit(warmWorkerJit),
          redisSendCpu,
          redisDrainCpu);
    }
  }

  static Cells cells(Row r, int tasks) {
    JsonNode p = r.produced();
    JsonNode d = r.drained();
    double n = tasks;
    double warmN = d.path("warm_n").asDouble();
    return new Cells(
        n / p.path("seconds").asDouble(),
        n / d.path("cold_seconds").asDouble(),
        warmN / d.path("warm_seconds").asDouble(),
        r.latency() == null ? Double.NaN : r.latency().path("p50_ms").asDouble(),
        r.latency() == null ? Double.NaN : r.latency().path("p99_ms").asDouble(),
        p.path("cpu_us").asDouble() / n,
        d.path("cpu_us").asDouble() / n,
        d.path("warm_cpu_us").asDouble() / warmN,
        perTask(p, "jit_cpu_us", n),
        perTask(d, "jit_cpu_us", n),
        perTask(d, "warm_jit_cpu_us", warmN),
        p.path("redis_cpu_us").asDouble() / n,
        d.path("redis_cpu_us").asDouble() / n);
  }

  /** A JVM's figure per task; NaN for the Go programs, which report none. */
  private static double perTask(JsonNode event, String field, double n) {
    return event.has(field) ? event.path(field).asDouble() / n : Double.NaN;
  }

  private static String jit(double microsPerTask) {
    return Double.isNaN(microsPerTask) ? "-" : String.format(Locale.ROOT, "%.0f", microsPerTask);
  }

  static String markdown(List<Row> rows, int rounds, int tasks, int latency, String[] args) {
    Map<String, List<Cells>> groups = new LinkedHashMap<>();
    for (Row r : rows) {
      groups
          .computeIfAbsent(r.system() + "\u0000" + r.concurrency(), k -> new ArrayList<>())
          .add(cells(r, tasks));
    }
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT,
            "%n%,d no-op tasks per row, %d round(s) (medians), %d latency samples;"
                + " Java %s, %d CPUs. Arguments: %s%n%n",
            tasks,
            rounds,
            latency,
            Runtime.version(),
            Runtime.getRuntime().availableProcessors(),
            args.length == 0 ? "(defaults)" : String.join(" ", args)));
    sb.append(
        "| system | C | enqueue/s (one by one) | drain/s cold | drain/s warm | enqueue->start p50 / p99 ms (idle)"
            + " | CPU µs/task producer / worker (warm) | of which JIT compiler threads µs/task"
            + " producer / worker (warm) | broker server CPU µs/task send / drain"
            + " (redis-server; RabbitMQ's beam.smp for AMQP rows) |\n");
    sb.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Map.Entry<String, List<Cells>> e : groups.entrySet()) {
      String[] key = e.getKey().split("\u0000");
      List<Cells> cs = e.getValue();
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %,.0f | %,.0f | %,.0f | %.2f / %.2f | %.0f / %.0f (%.0f) | %s / %s (%s)"
                  + " | %.0f / %.0f |%n",
              label(key[0]),
              key[1],
              median(cs, Cells::enqueue),
              median(cs, Cells::cold),
              median(cs, Cells::warm),
              median(cs, Cells::p50),
              median(cs, Cells::p99),
              median(cs, Cells::producerCpu),
              median(cs, Cells::workerCpu),
              median(cs, Cells::warmWorkerCpu),
              jit(median(cs, Cells::producerJit)),
              jit(median(cs, Cells::workerJit)),
              jit(median(cs, Cells::warmWorkerJit)),
              median(cs, Cells::redisSendCpu),
              median(cs, Cells::redisDrainCpu)));
    }
    return sb.toString();
  }

  private static String label(String system) {
    return switch (system) {
      case "java" -> "Machinery for Java";
      case "java-async" -> "Machinery for Java, sendTaskAsync";
      case "java-batch" -> "Machinery for Java, sendTasks (" + Roles.BATCH + " a call)";
      case "java-bounded" -> "Machinery for Java, sendTask to a bounded queue";
      case "java-breaker" -> "Machinery for Java, a closed TaskBreaker on the task";
      case "java-shared-breaker" ->
          "Machinery for Java, a closed shared TaskBreaker (outcomes counted in Redis too)";
      case "java-migrating" -> "Machinery for Java, migrating (the old Redis broker empty)";
      case "java-migrating-results" ->
          "Machinery for Java, moving results (written to two Redis databases)";
      case "java-fair" -> "Machinery for Java, fairness on, " + Roles.FAIR_KEYS + " keys";
      case "java-fair-weighted" ->
          "Machinery for Java, fairness on, " + Roles.FAIR_KEYS + " keys, half of weight 3";
      case "java-before" -> "Machinery for Java (before)";
      case "java-async-before" -> "Machinery for Java, sendTaskAsync (before)";
      case "java-batch-before" ->
          "Machinery for Java, sendTasks (" + Roles.BATCH + " a call) (before)";
      case "java-amqp" -> "Machinery for Java, AMQP broker";
      case "java-amqp-before" -> "Machinery for Java, AMQP broker (before)";
      case "go-machinery" -> "Go Machinery v2";
      case "go-machinery-amqp" -> "Go Machinery v2, AMQP broker";
      case "asynq" -> "Asynq";
      case "lettuce" -> "bare Lettuce (waited RPUSH; LMOVE+SET+LREM)";
      default -> system;
    };
  }

  /** The median of the rounds: the middle value, or the mean of the two middle ones. */
  static double median(List<Cells> cs, Function<Cells, Double> f) {
    List<Double> v = new ArrayList<>(cs.stream().map(f).toList());
    v.sort(Double::compare);
    int mid = v.size() / 2;
    return v.size() % 2 == 1 ? v.get(mid) : (v.get(mid - 1) + v.get(mid)) / 2;
  }
}
