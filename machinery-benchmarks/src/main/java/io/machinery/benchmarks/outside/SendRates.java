package io.machinery.benchmarks.outside;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.wire.WireCodec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Sending from one thread of one (warmed-up) process, every way this library offers, beside a bare
 * Lettuce loop doing one waited {@code RPUSH} per call (the limit of any sender that waits for each
 * send):
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.outside.SendRates \
 *     [--tasks 50000] [--redis redis://127.0.0.1:6379/9] [--amqp amqp://guest:guest@127.0.0.1:5672/]
 * </pre>
 *
 * <p>Each way runs once unmeasured (warm-up) and once measured on an emptied queue, in every round;
 * the table has the medians. CPU µs/send is this process's utime+stime over the measured pass. AMQP
 * rows store results in Redis too. {@code --rounds 3} by default.
 */
public final class SendRates {
  private SendRates() {}

  interface Way {
    void send(int n) throws Exception;
  }

  public static void main(String[] args) throws Exception {
    int tasks = 50_000;
    int rounds = 3;
    String redis =
        System.getenv().getOrDefault("REDIS_URL", "redis://127.0.0.1:6379").replaceAll("/+$", "")
            + "/9";
    String amqp = System.getenv().getOrDefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/");
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--tasks" -> tasks = Integer.parseInt(args[i + 1]);
        case "--redis" -> redis = args[i + 1];
        case "--amqp" -> amqp = args[i + 1];
        case "--rounds" -> rounds = Integer.parseInt(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    String queue = "send_rates";
    Config redisConfig =
        Config.builder()
            .broker(redis)
            .resultBackend(redis)
            .defaultQueue(queue)
            .resultsExpireIn(600)
            .noUnixSignals(true)
            .build();
    Config amqpConfig =
        Config.builder()
            .broker(amqp)
            .resultBackend(redis)
            .defaultQueue(queue)
            .resultsExpireIn(600)
            .amqp(AmqpConfig.DEFAULT.withBindingKey(queue))
            .noUnixSignals(true)
            .build();
    RedisClient client = RedisClient.create(redis);
    try (StatefulRedisConnection<String, byte[]> c =
        client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE))) {
      RedisCommands<String, byte[]> sync = c.sync();
      byte[] message = WireCodec.encode(Signature.create("noop"));
      for (int round = 0; round < rounds; round++) {
        row(
            "bare Lettuce, one waited RPUSH per call",
            tasks,
            () -> sync.del(queue),
            n -> {
              for (int i = 0; i < n; i++) {
                sync.rpush(queue, message);
              }
            });
        try (RedisBroker broker = RedisBroker.create(redisConfig);
            RedisBackend backend = RedisBackend.create(redisConfig);
            Server server =
                Server.builder().config(redisConfig).broker(broker).backend(backend).build()) {
          ways(
              "Redis + Redis",
              server,
              tasks,
              () -> {
                sync.flushdb();
              });
        }
        try (RedisBroker broker = RedisBroker.create(redisConfig);
            io.machinery.client.redis.RedisSession own =
                io.machinery.client.redis.RedisSession.open(redis, redisConfig);
            RedisBackend backend = RedisBackend.builder(redisConfig).session(own).build();
            Server server =
                Server.builder().config(redisConfig).broker(broker).backend(backend).build()) {
          row(
              "Redis + Redis on two connections: sendTask (PENDING waited, then the push: two round trips)",
              tasks,
              () -> {
                sync.flushdb();
              },
              n -> {
                for (int i = 0; i < n; i++) {
                  server.sendTask(Signature.create("noop"));
                }
              });
        }
        try (Broker broker = AmqpBroker.create(amqpConfig);
            RedisBackend backend = RedisBackend.create(amqpConfig);
            Server server =
                Server.builder().config(amqpConfig).broker(broker).backend(backend).build()) {
          ways(
              "AMQP + Redis",
              server,
              tasks,
              () -> {
                sync.flushdb();
                purgeAmqp(amqpConfig, queue);
              });
        }
      }
      sync.flushdb();
      System.out.printf(
          Locale.ROOT,
          "%n%,d sends per row from one thread, after a warm-up pass of the same size;"
              + " medians of %d rounds (each round runs every row in this order).%n%n",
          tasks,
          rounds);
      System.out.println("| sender | sends/s | CPU µs/send (this process) | sends/s per round |");
      System.out.println("|---|---:|---:|---|");
      for (Map.Entry<String, List<double[]>> e : RESULTS.entrySet()) {
        List<double[]> runs = e.getValue();
        System.out.printf(
            Locale.ROOT,
            "| %s | %,.0f | %.0f | %s |%n",
            e.getKey(),
            median(runs, 0),
            median(runs, 1),
            String.join(
                ", ", runs.stream().map(r -> String.format(Locale.ROOT, "%,.0f", r[0])).toList()));
      }
    } finally {
      client.shutdown();
    }
  }

  private static void purgeAmqp(Config config, String queue) throws Exception {
    io.machinery.client.amqp.AmqpUrl url = io.machinery.client.amqp.AmqpUrl.parse(config.broker());
    try (com.rabbitmq.client.Connection c =
            url.connectionFactory().newConnection("send-rates-purge");
        com.rabbitmq.client.Channel ch = c.createChannel()) {
      ch.queueDeclare(queue, true, false, false, null);
      ch.queuePurge(queue);
    }
  }

  interface Reset {
    void run() throws Exception;
  }

  private static void ways(String label, Server server, int tasks, Reset reset) throws Exception {
    row(
        label + ": sendTask",
        tasks,
        reset,
        n -> {
          for (int i = 0; i < n; i++) {
            server.sendTask(Signature.create("noop"));
          }
        });
    row(
        label + ": sendTaskAsync",
        tasks,
        reset,
        n -> {
          CompletableFuture<?>[] all = new CompletableFuture<?>[n];
          for (int i = 0; i < n; i++) {
            all[i] = server.sendTaskAsync(Signature.create("noop"));
          }
          CompletableFuture.allOf(all).join();
        });
    row(
        label + ": sendTasks, " + Roles.BATCH + " a call",
        tasks,
        reset,
        n -> {
          for (int i = 0; i < n; i += Roles.BATCH) {
            List<Signature> batch = new ArrayList<>(Roles.BATCH);
            for (int j = i; j < Math.min(n, i + Roles.BATCH); j++) {
              batch.add(Signature.create("noop"));
            }
            server.sendTasks(batch);
          }
        });
  }

  private static void row(String label, int tasks, Reset reset, Way way) throws Exception {
    reset.run();
    way.send(tasks); // warm-up
    reset.run();
    long cpu0 = ProcCpu.micros(0);
    long t0 = System.nanoTime();
    way.send(tasks);
    double seconds = (System.nanoTime() - t0) / 1e9;
    long cpu = ProcCpu.micros(0) - cpu0;
    RESULTS
        .computeIfAbsent(label, k -> new ArrayList<>())
        .add(new double[] {tasks / seconds, (double) cpu / tasks});
    System.err.printf(
        Locale.ROOT, "%s: %,.0f/s, %.0f us/send%n", label, tasks / seconds, (double) cpu / tasks);
    reset.run();
  }

  private static final Map<String, List<double[]>> RESULTS = new LinkedHashMap<>();

  private static double median(List<double[]> runs, int field) {
    double[] v = runs.stream().mapToDouble(r -> r[field]).sorted().toArray();
    return v[v.length / 2];
  }
}
