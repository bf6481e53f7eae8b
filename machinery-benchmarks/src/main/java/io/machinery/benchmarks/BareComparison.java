package io.machinery.benchmarks;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the in-JVM broker benchmarks that compare Machinery with a bare client loop (AMQP, Pub/Sub)
 * share: one row of figures, its line while the benchmark runs, the closing Markdown table with
 * each row as a ratio of the bare row before it, and the {@code --name value} options.
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
}
