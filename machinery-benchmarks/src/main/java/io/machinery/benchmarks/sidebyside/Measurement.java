package io.machinery.benchmarks.sidebyside;

import org.jspecify.annotations.Nullable;

/**
 * One run of the side-by-side workload by one implementation.
 *
 * @param enqueuePerSecond tasks sent per second ({@code SendTask}: PENDING stored, then published),
 *     one sender
 * @param drainPerSecond tasks finished per second (SUCCESS stored) by a worker started on the full
 *     queue
 * @param p50Millis median send→SUCCESS-stored latency of single tasks sent to the running worker,
 *     or null
 * @param p99Millis 99th percentile of the same, or null
 * @param note what went wrong, if anything (timeouts, errors); empty when the run was clean
 */
record Measurement(
    String impl,
    int tasks,
    int concurrency,
    double enqueuePerSecond,
    double drainPerSecond,
    @Nullable Double p50Millis,
    @Nullable Double p99Millis,
    String note) {

  boolean clean() {
    return note.isEmpty();
  }
}
