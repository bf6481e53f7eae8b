package io.machinery.benchmarks.sidebyside;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Nearest-rank percentiles, the same method as the Go harness's {@code bench -latency}. */
public final class Percentiles {
  private Percentiles() {}

  /** The {@code p}th percentile of {@code nanos}, in milliseconds. */
  public static double millis(List<Long> nanos, int p) {
    List<Long> sorted = new ArrayList<>(nanos);
    Collections.sort(sorted);
    int rank = Math.max(1, (p * sorted.size() + 99) / 100);
    return sorted.get(rank - 1) / 1e6;
  }
}
