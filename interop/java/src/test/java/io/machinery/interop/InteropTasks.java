package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Server;
import io.machinery.TaskFunction;
import io.machinery.testkit.AcceptanceTasks;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/** The Java side of the tasks the Go harness registers, and the checks both directions share. */
final class InteropTasks {
  /**
   * Members of the chord that a Go and a Java worker share; each sleeps {@link #MEMBER_DELAY_MS}.
   */
  static final int WIDE_CHORD_SIZE = 30;

  static final long MEMBER_DELAY_MS = 50;

  private InteropTasks() {}

  /**
   * Registers Go's integration-suite tasks and the harness's extras ({@link AcceptanceTasks}) plus
   * {@code slow_add(ms, a, b int64) int64}, which only the interop tests use.
   */
  static AcceptanceTasks registerWith(Server server) {
    AcceptanceTasks tasks = new AcceptanceTasks();
    tasks.registerWith(server);
    server.registerTask(
        "slow_add",
        TaskFunction.of(
            Long.class,
            Long.class,
            Long.class,
            (ms, a, b) -> {
              // The task's work (not a wait for an outcome): it keeps a worker slot busy so that
              // both workers get members.
              Thread.sleep(ms);
              return a + b;
            }));
    return tasks;
  }

  /**
   * The result of the wide chord's callback {@code add(results...)}: the sum of 2i for i = 1..n.
   */
  static long wideChordResult() {
    return (long) WIDE_CHORD_SIZE * (WIDE_CHORD_SIZE + 1);
  }

  /**
   * Checks the messages of a task sent with {@code RetryCount=2} that failed twice, as Go
   * republishes them (spec §2.6): the first retry has RetryCount 1, RetryTimeout 1 and an ETA 1 s
   * after the failure; the second RetryCount 0, RetryTimeout 2 and an ETA 2 s after the second run,
   * which started at the first ETA at the earliest. On Redis, the ZSET score is the ETA in Unix
   * nanoseconds.
   */
  static void assertGoRetrySchedule(List<InteropQueue.Seen> seen, Instant sentAt) {
    List<InteropQueue.Seen> retries =
        seen.stream().filter(s -> s.signature().retryCount() < 2).toList();
    assertThat(retries).as("retry messages seen: %s", seen).hasSize(2);
    var first = retries.get(0).signature();
    var second = retries.get(1).signature();
    assertThat(first.retryCount()).as("RetryCount of the first retry").isEqualTo(1);
    assertThat(first.retryTimeout()).as("RetryTimeout of the first retry").isEqualTo(1);
    assertThat(second.retryCount()).as("RetryCount of the second retry").isEqualTo(0);
    assertThat(second.retryTimeout()).as("RetryTimeout of the second retry").isEqualTo(2);
    assertThat(first.eta()).isNotNull();
    assertThat(second.eta()).isNotNull();
    Instant eta1 = first.eta().toInstant();
    Instant eta2 = second.eta().toInstant();
    // both ETAs come from the same host clock as sentAt; 50 ms allows for rounding of the clocks'
    // resolution
    assertThat(eta1)
        .as("first retry ETA")
        .isAfter(sentAt.plusMillis(1000 - 50))
        .isBefore(sentAt.plusSeconds(15));
    Duration between = Duration.between(eta1, eta2);
    assertThat(between)
        .as("second ETA - first ETA")
        .isGreaterThan(Duration.ofMillis(2000 - 50))
        .isLessThan(Duration.ofSeconds(10));
    for (InteropQueue.Seen s : retries) {
      if (s.score() != null) {
        Instant eta = s.signature().eta().toInstant();
        double nanos = eta.getEpochSecond() * 1e9 + eta.getNano();
        assertThat(Math.abs(s.score() - nanos)).as("ZSET score vs ETA in ns").isLessThan(2048.0);
      }
    }
  }

  /**
   * Polls {@code probe} until two retries of {@code uuid} were seen (at most 20 s); returns all
   * messages seen.
   */
  static List<InteropQueue.Seen> awaitRetries(InteropQueue.Probe probe, String uuid) {
    AtomicReference<List<InteropQueue.Seen>> seen = new AtomicReference<>(List.of());
    await("two retry messages of " + uuid)
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              seen.set(probe.poll(uuid));
              return seen.get().stream().filter(s -> s.signature().retryCount() < 2).count() >= 2;
            });
    return seen.get();
  }
}
