package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Issue 12's CPU-bound fault test (F5), for every broker: tasks that compute for {@code
 * -Dmachinery.cpu.seconds} (default {@link #defaultCompute()}) at the worker's default concurrency
 * (2 x cores) and on its default virtual threads. A computing task never yields its carrier, so the
 * first tasks hold every carrier for the whole computation: a broker thread that keeps the worker's
 * hold on its messages (a Redis lease, an SQS visibility timeout, a Pub/Sub ack deadline, an AMQP
 * connection heartbeat) starves if it is a virtual thread, the hold lapses, and the message is run
 * again elsewhere. Subclass it per broker with a short hold and tasks computing a few times longer.
 *
 * <p>What it checks, from Awaitility's platform thread while the tasks compute: {@link
 * #lapsedMessages} (the computing worker's messages another worker could take now) stays 0; and
 * afterwards each task ran exactly once and ended SUCCESS. A second server with its own broker and
 * a worker of concurrency 1 listens on the queue all along (on Redis its maintenance is the reaper
 * that would return an expired lease's messages), so a lapse also shows as a duplicate run.
 */
public abstract class CpuBoundTasksKit {
  protected abstract Config baseConfig();

  protected abstract Broker createBroker(Config config);

  protected abstract Backend createBackend(Config config);

  /** How long each task computes: a few times the broker's hold (see the class notes). */
  protected abstract Duration defaultCompute();

  /**
   * The computing worker's messages that another worker could take now (its hold on them lapsed, or
   * it has not taken them yet); 0 while it holds them all. Called every 50 ms from a platform
   * thread while the tasks compute, after the first task started: a lapse counts once a first
   * sample said 0 (a worker whose fetching starves before it took every message never gets there,
   * and fails too).
   */
  protected abstract long lapsedMessages(Config config) throws Exception;

  /** The broker's hold and what was seen of it, for the printed figures (called after the run). */
  protected abstract String holdFigures();

  /** Called with the test's config after it ran (to delete queues and keys). */
  protected void cleanUp(Config config) throws Exception {}

  @Test
  void cpuBoundTasksAtDefaultConcurrencyRunOnceAndNoHoldLapses() throws Exception {
    long seconds = Long.getLong("machinery.cpu.seconds", 0);
    Duration compute = seconds > 0 ? Duration.ofSeconds(seconds) : defaultCompute();
    long computeNanos = compute.toNanos();
    Config config = BrokerContract.uniqueQueue(baseConfig(), "cpu_");
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    List<String> runLog = new CopyOnWriteArrayList<>(); // for a failure's message
    long t0 = System.nanoTime();
    Function<String, TaskFunction> task =
        who ->
            TaskFunction.withContext(
                List.of(),
                false,
                (context, args) -> {
                  String uuid = context.signature().uuid();
                  runs.computeIfAbsent(uuid, k -> new AtomicInteger()).incrementAndGet();
                  runLog.add(
                      String.format(
                          "%s on %s at %+.2f s", uuid, who, (System.nanoTime() - t0) / 1e9));
                  long end = System.nanoTime() + computeNanos;
                  long x = 0;
                  while (System.nanoTime() - end < 0) {
                    x += System.nanoTime() & 1; // never blocks, never yields its carrier
                  }
                  return x >= 0 ? null : null;
                });
    try (Broker broker = createBroker(config);
        Backend backend = createBackend(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        Broker otherBroker = createBroker(config);
        Backend otherBackend = createBackend(config);
        Server other =
            Server.builder().config(config).broker(otherBroker).backend(otherBackend).build()) {
      server.registerTask("compute", task.apply("the computing worker"));
      other.registerTask("compute", task.apply("the other worker"));
      Worker worker = server.workerBuilder("cpu").build(); // default concurrency
      int concurrency = 2 * Runtime.getRuntime().availableProcessors();
      worker.launchAsync();
      long started = System.nanoTime();
      List<AsyncResult> results = new ArrayList<>();
      for (int i = 0; i < concurrency; i++) {
        results.add(server.sendTask(Signature.create("compute")));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> !runs.isEmpty());
      other.newWorker("would-run-again", 1).launchAsync();

      long[] lapsed = {0, 0}; // samples with a lapsed hold, most messages lapsed at once
      boolean[] holding = {false}; // the worker held every message once (took all it could)
      int[] finished = {0};
      await()
          .atMost(compute.multipliedBy(concurrency).plusSeconds(60))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                if (finished[0] < results.size()) {
                  long n = lapsedMessages(config);
                  if (!holding[0]) {
                    holding[0] = n == 0;
                  } else if (n > 0) {
                    lapsed[0]++;
                    lapsed[1] = Math.max(lapsed[1], n);
                  }
                }
                finished[0] = 0;
                for (AsyncResult r : results) {
                  if (r.state() == State.SUCCESS) {
                    finished[0]++;
                  }
                }
                return finished[0] == results.size();
              });
      double took = (System.nanoTime() - started) / 1e9;
      int totalRuns = runs.values().stream().mapToInt(AtomicInteger::get).sum();
      String figures =
          String.format(
              "[%s] %d tasks computing %.1f s each on %d cores at the default concurrency %d"
                  + " (virtual threads): all SUCCESS %.1f s after the first was sent; runs %d"
                  + " (duplicates %d); %s; samples with the hold lapsed %d (at most %d messages);"
                  + " runs started (since the test began): %s",
              getClass().getSimpleName(),
              concurrency,
              compute.toMillis() / 1000.0,
              Runtime.getRuntime().availableProcessors(),
              worker.concurrency(),
              took,
              totalRuns,
              totalRuns - runs.size(),
              holdFigures(),
              lapsed[0],
              lapsed[1],
              runLog);
      System.out.println(figures);
      assertThat(worker.concurrency()).isEqualTo(concurrency);
      assertThat(holding[0])
          .as("the workers took every message while the first tasks computed; %s", figures)
          .isTrue();
      assertThat(lapsed[0])
          .as("samples where the computing worker's hold had lapsed; %s", figures)
          .isZero();
      assertThat(runs).as(figures).hasSize(concurrency);
      assertThat(runs.values())
          .as("runs of each task; %s", figures)
          .allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
    } finally {
      cleanUp(config);
    }
  }
}
