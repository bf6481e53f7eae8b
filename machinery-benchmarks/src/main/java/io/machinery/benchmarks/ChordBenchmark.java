package io.machinery.benchmarks;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.ChordAsyncResult;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;

/**
 * Chords through one broker and backend (Redis + Redis, or AMQP + AMQP), sender and worker in one
 * JVM: {@code --chords} chords of {@code --members} members are sent one after the other with
 * {@code sendChord(chord, 0)}, then every callback's result is awaited (and checked). Prints how
 * long the sends took and the chords per second from the first send to the last callback result,
 * after {@code --warmup} chords done the same way. A chord costs far more than its tasks: each
 * member's group check and the winner's trigger are round trips of their own.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.ChordBenchmark \
 *   --url amqp://guest:guest@127.0.0.1:5672/ --chords 100 --members 10 --concurrency 10
 * </pre>
 */
public final class ChordBenchmark {
  private ChordBenchmark() {}

  public static void main(String[] args) throws Exception {
    BenchmarkOptions o = BenchmarkOptions.parse(args);
    String url = o.text("url", "redis://127.0.0.1:6379/12");
    int chords = o.integer("chords", 100);
    int members = o.integer("members", 10);
    int concurrency = o.integer("concurrency", 10);
    int warmup = o.integer("warmup", 20);
    boolean redis = url.startsWith("redis");
    String queue = BenchmarkOptions.freshQueue("chord_bench_");
    Config config =
        BenchmarkOptions.config(url, queue).amqp(AmqpConfig.DEFAULT.withBindingKey(queue)).build();
    try (Broker broker = redis ? RedisBroker.create(config) : AmqpBroker.create(config);
        Backend backend = redis ? RedisBackend.create(config) : AmqpBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, x -> LongStream.of(x).sum()));
      Worker worker = server.newWorker("chord-bench", concurrency);
      worker.launchAsync();
      try {
        run(server, warmup, members);
        long start = System.nanoTime();
        double sendSeconds = run(server, chords, members);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(
            "%s: %d chords x %d members, concurrency %d: sent in %.2f s, done in %.2f s:"
                + " %.1f chords/s%n",
            redis ? "redis + redis" : "amqp + amqp",
            chords,
            members,
            concurrency,
            sendSeconds,
            seconds,
            chords / seconds);
      } finally {
        worker.quit();
      }
    }
  }

  /** Sends the chords, awaits every callback; returns the seconds the sends took. */
  private static double run(Server server, int chords, int members) {
    long start = System.nanoTime();
    List<ChordAsyncResult> results = new ArrayList<>(chords);
    for (int c = 0; c < chords; c++) {
      List<Signature> group = new ArrayList<>(members);
      for (long m = 0; m < members; m++) {
        group.add(Signature.create("add", Arg.of(m)));
      }
      results.add(server.sendChord(Chord.of(Group.of(group), Signature.create("add")), 0));
    }
    double sendSeconds = (System.nanoTime() - start) / 1e9;
    List<Object> expected = List.of((long) members * (members - 1) / 2);
    for (ChordAsyncResult result : results) {
      List<Object> sum = result.get(Duration.ofMinutes(5));
      if (!sum.equals(expected)) {
        throw new IllegalStateException("a callback returned " + sum + ", not " + expected);
      }
    }
    return sendSeconds;
  }
}
