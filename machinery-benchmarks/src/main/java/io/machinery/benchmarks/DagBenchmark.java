package io.machinery.benchmarks;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.stream.LongStream;

/**
 * The cost of a DAG's join beside a chord's callback, on the Redis broker and backend, sender and
 * worker in one JVM: {@code --count} chords of {@code --members} members, then as many DAGs of
 * {@code --members} tasks and one join of them all (the same work: the same tasks, one callback
 * with every result), in {@code --rounds} alternating rounds after {@code --warmup} of each. Each
 * workflow is sent one after the other, then every callback's result is awaited and checked; prints
 * each round's workflows per second from the first send to the last result.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.DagBenchmark \
 *   --url redis://127.0.0.1:6379/12 --count 500 --members 10 --concurrency 10 --rounds 3
 * </pre>
 */
public final class DagBenchmark {
  private DagBenchmark() {}

  public static void main(String[] args) throws Exception {
    BenchmarkOptions o = BenchmarkOptions.parse(args);
    String url = o.text("url", "redis://127.0.0.1:6379/12");
    int count = o.integer("count", 500);
    int members = o.integer("members", 10);
    int concurrency = o.integer("concurrency", 10);
    int warmup = o.integer("warmup", 100);
    int rounds = o.integer("rounds", 3);
    Config config = BenchmarkOptions.config(url, BenchmarkOptions.freshQueue("dag_bench_")).build();
    long expected = (long) members * (members - 1) / 2;
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, x -> LongStream.of(x).sum()));
      Worker worker = server.newWorker("dag-bench", concurrency);
      worker.launchAsync();
      try {
        IntFunction<String> chord =
            c -> {
              List<Signature> group = new ArrayList<>(members);
              for (long m = 0; m < members; m++) {
                group.add(Signature.create("add", Arg.of(m)));
              }
              Chord sent = Chord.of(Group.of(group), Signature.create("add"));
              server.sendChord(sent, 0);
              return sent.callback().uuid();
            };
        IntFunction<String> dag =
            d -> {
              Dag.Builder b = Dag.builder();
              String[] names = new String[members];
              for (int m = 0; m < members; m++) {
                names[m] = "m" + m;
                b.task(names[m], Signature.create("add", Arg.of((long) m)));
              }
              Dag sent = b.task("join", Signature.create("add"), names).build();
              server.sendDag(sent);
              return sent.task("join").uuid();
            };
        run(server, "warm-up chords", warmup, chord, expected, members, concurrency);
        run(server, "warm-up DAGs", warmup, dag, expected, members, concurrency);
        for (int r = 1; r <= rounds; r++) {
          run(server, "round " + r + " chords", count, chord, expected, members, concurrency);
          run(server, "round " + r + " DAGs", count, dag, expected, members, concurrency);
        }
      } finally {
        worker.quit();
      }
    }
  }

  /** Sends {@code count} workflows, awaits every callback and prints the rate. */
  private static void run(
      Server server,
      String label,
      int count,
      IntFunction<String> send,
      long expected,
      int members,
      int concurrency) {
    long start = System.nanoTime();
    List<String> callbacks = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      callbacks.add(send.apply(i));
    }
    double sendSeconds = (System.nanoTime() - start) / 1e9;
    for (String uuid : callbacks) {
      List<Object> sum = server.asyncResult(uuid).get(Duration.ofMinutes(5));
      if (!sum.equals(List.of(expected))) {
        throw new IllegalStateException("a callback returned " + sum + ", not " + expected);
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(
        "redis + redis, %s: %d x %d members + 1 callback, concurrency %d: sent in %.2f s, done in"
            + " %.2f s: %.1f workflows/s, %.0f tasks/s%n",
        label,
        count,
        members,
        concurrency,
        sendSeconds,
        seconds,
        count / seconds,
        count * (members + 1) / seconds);
  }
}
