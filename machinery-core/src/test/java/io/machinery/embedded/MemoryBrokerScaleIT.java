package io.machinery.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The cheap half of the scale proof of issue #17 item 8 (the figures: {@code
 * scripts/bench/outside.sh scale}, {@code docs/benchmarks.md}): 10,000 tasks that block, standing
 * for I/O, on one worker of concurrency 10,000 over the memory broker and backend. Each task blocks
 * on a gate that opens only once all 10,000 are blocked at the same time, so the test shows that
 * the worker runs them all at once on virtual threads (a worker bounded by a pool of platform
 * threads, or one that fetched fewer, would never open the gate) without asserting any time; then
 * each must have run once and ended SUCCESS. An IT rather than a unit test: it takes seconds, and
 * {@code make unit} stays fast.
 */
class MemoryBrokerScaleIT {
  private static final int TASKS = 10_000;

  @Test
  void tenThousandBlockingTasksRunAtOnceOnOneWorkerAndEachEndsSuccess() {
    Config config = Config.builder().defaultQueue("memory_scale_it").build();
    CountDownLatch gate = new CountDownLatch(1);
    AtomicInteger blocked = new AtomicInteger();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    try (Server server = Server.builder().config(config).build()) {
      server.registerTask(
          "block",
          TaskFunction.withContext(
              List.of(),
              false,
              (context, args) -> {
                runs.computeIfAbsent(context.signature().uuid(), k -> new AtomicInteger())
                    .incrementAndGet();
                blocked.incrementAndGet();
                // bounded, so that a failing run ends; the test fails long before it would matter
                if (!gate.await(5, TimeUnit.MINUTES)) {
                  throw new IllegalStateException("the gate never opened");
                }
                return null;
              }));
      List<AsyncResult> results = new ArrayList<>(TASKS);
      List<Signature> batch = new ArrayList<>();
      for (int i = 0; i < TASKS; i++) {
        batch.add(Signature.create("block"));
        if (batch.size() == 1_000) {
          results.addAll(server.sendTasks(batch));
          batch.clear();
        }
      }
      Worker worker = server.workerBuilder("scale").concurrency(TASKS).build();
      worker.launchAsync();
      try {
        await()
            .atMost(Duration.ofMinutes(2))
            .untilAsserted(
                () -> assertThat(blocked.get()).as("tasks blocked at once").isEqualTo(TASKS));
      } finally {
        gate.countDown();
      }
      await()
          .atMost(Duration.ofMinutes(2))
          .until(() -> results.stream().allMatch(r -> r.state() == State.SUCCESS));
      worker.quit();
      assertThat(runs).hasSize(TASKS);
      assertThat(runs.values()).allSatisfy(n -> assertThat(n.get()).as("runs").isEqualTo(1));
    }
  }
}
