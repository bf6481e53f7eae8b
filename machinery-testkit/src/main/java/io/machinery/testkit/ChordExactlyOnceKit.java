package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Chords fire exactly once with several workers racing to complete their groups: {@value #WORKERS}
 * workers, each a server of its own (its own broker and backend connections, as separate processes
 * would be), consume one queue while many chords of three members are sent; the three members of a
 * group wait for each other and finish together, so their workers race to trigger the chord. Every
 * callback must run exactly once, with its arguments in group order. The number of chords is {@code
 * -Dmachinery.chords} (default 1000).
 */
public abstract class ChordExactlyOnceKit {
  static final int WORKERS = 4;
  static final int CONCURRENCY_PER_WORKER = 4;
  static final Duration MEETING_WAIT = Duration.ofMillis(250);

  protected abstract Broker createBroker(Config config);

  protected abstract Backend createBackend(Config config);

  protected abstract Config baseConfig();

  protected int chords() {
    return Integer.getInteger("machinery.chords", 1000);
  }

  @Test
  void everyChordCallbackRunsExactlyOnceInGroupOrder() throws Exception {
    Config config = BrokerContract.uniqueQueue(baseConfig(), "chords_");
    int chords = chords();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    Map<String, CountDownLatch> meetings = new ConcurrentHashMap<>();
    List<String> misordered = new CopyOnWriteArrayList<>();
    List<AutoCloseable> toClose = new ArrayList<>();
    try {
      for (int w = 0; w < WORKERS; w++) {
        Broker broker = createBroker(config);
        Backend backend = createBackend(config);
        Server worker = Server.builder().config(config).broker(broker).backend(backend).build();
        toClose.add(broker);
        toClose.add(backend);
        toClose.add(0, worker); // servers close first
        worker.registerTask(
            "add",
            TaskFunction.withContext(
                List.of(long[].class),
                true,
                (ctx, args) -> {
                  // the members of a group meet before they return, so they finish together on
                  // different workers and
                  // race to trigger the chord (bounded, so members waiting for queued peers never
                  // block the run)
                  CountDownLatch met =
                      meetings.computeIfAbsent(
                          ctx.signature().groupUuid(), g -> new CountDownLatch(3));
                  met.countDown();
                  met.await(MEETING_WAIT.toMillis(), TimeUnit.MILLISECONDS);
                  long sum = 0;
                  for (long n : (long[]) args[0]) {
                    sum += n;
                  }
                  return sum;
                }));
        worker.registerTask(
            "chord_done",
            TaskFunction.withContext(
                List.of(long[].class),
                true,
                (ctx, args) -> {
                  runs.computeIfAbsent(ctx.signature().uuid(), k -> new AtomicInteger())
                      .incrementAndGet();
                  long[] values =
                      (long[]) args[0]; // its own argument, then the group's results in group order
                  if (values.length != 4
                      || values[1] != values[0]
                      || values[2] != values[0] + 1
                      || values[3] != values[0] + 2) {
                    misordered.add(
                        ctx.signature().uuid() + " got " + java.util.Arrays.toString(values));
                  }
                  return null;
                }));
        worker.newWorker("chords-" + w, CONCURRENCY_PER_WORKER).launchAsync();
      }
      Broker senderBroker = createBroker(config);
      Backend senderBackend = createBackend(config);
      Server sender =
          Server.builder().config(config).broker(senderBroker).backend(senderBackend).build();
      toClose.add(0, sender);
      toClose.add(senderBroker);
      toClose.add(senderBackend);

      long started = System.nanoTime();
      ExecutorService sending = Executors.newFixedThreadPool(4);
      List<Future<?>> sent = new ArrayList<>();
      for (int i = 0; i < chords; i++) {
        long base = i * 10L;
        sent.add(
            sending.submit(
                () ->
                    sender.sendChord(
                        Chord.of(
                            Group.of(add(base, 0), add(base, 1), add(base, 2)),
                            // the callback's own argument tells it which results to expect after it
                            Signature.create("chord_done", Arg.of(base))),
                        3)));
      }
      for (Future<?> f : sent) {
        f.get();
      }
      sending.shutdown();

      await().atMost(Duration.ofSeconds(60 + chords / 10)).until(() -> runs.size() == chords);
      System.out.printf(
          "%d chords with %d workers in %.1f s%n",
          chords, WORKERS, (System.nanoTime() - started) / 1e9);
      // a duplicate may still be on its way: watch the counts for two more seconds
      int[] seen = {total(runs)};
      await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                int now = total(runs);
                boolean same = now == seen[0];
                seen[0] = now;
                return same;
              });
      List<String> repeated =
          runs.entrySet().stream()
              .filter(e -> e.getValue().get() != 1)
              .map(e -> e.getKey() + " ran " + e.getValue().get() + " times")
              .toList();
      assertThat(repeated)
          .as("chord callbacks that did not run exactly once (of %d)", chords)
          .isEmpty();
      assertThat(misordered).isEmpty();
    } finally {
      for (AutoCloseable c : toClose) {
        c.close();
      }
    }
  }

  private static int total(Map<String, AtomicInteger> runs) {
    return runs.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  private static Signature add(long base, long offset) {
    return Signature.create("add", Arg.of(base), Arg.of(offset));
  }
}
