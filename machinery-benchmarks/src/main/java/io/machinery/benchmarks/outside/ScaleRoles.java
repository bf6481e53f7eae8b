package io.machinery.benchmarks.outside;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.ChordAsyncResult;
import io.machinery.Group;
import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

/**
 * The child-process roles of {@link ScaleBenchmark}: {@code sleepers} and {@code chord}, each in a
 * fresh JVM that sends and works (one worker), printing one JSON line.
 */
final class ScaleRoles {
  private final Map<String, String> o;

  ScaleRoles(Map<String, String> o) {
    this.o = o;
  }

  static String defaultAmqp() {
    String url = System.getenv("AMQP_URL");
    return url == null || url.isBlank() ? "amqp://guest:guest@127.0.0.1:5672/" : url;
  }

  void run(String role) throws Exception {
    switch (role) {
      case "sleepers" -> sleepers();
      case "chord" -> chord();
      default -> throw new IllegalArgumentException("unknown role " + role);
    }
  }

  private int intOption(String name, int fallback) {
    return Integer.parseInt(o.getOrDefault(name, Integer.toString(fallback)));
  }

  /**
   * A server on {@code broker} and {@code backend} (memory, redis or amqp), on a queue of its own.
   * The server owns the broker and backend it is given only when it creates them itself (memory),
   * so the others are returned for closing.
   */
  private record Setup(Server server, List<AutoCloseable> owned, String queue, String amqpUrl)
      implements AutoCloseable {
    @Override
    public void close() throws Exception {
      server.close();
      for (AutoCloseable c : owned.reversed()) {
        c.close();
      }
      if (!amqpUrl.isEmpty()) { // the task queue is durable: leave nothing on a shared RabbitMQ
        ConnectionFactory f = AmqpUrl.parse(amqpUrl).connectionFactory(); // Go's reading of the URL
        try (Connection c = f.newConnection();
            Channel ch = c.createChannel()) {
          ch.queueDelete(queue);
        }
      }
    }
  }

  private Setup setup(String broker, String backend, String queuePrefix) {
    String redis = o.getOrDefault("redis", "redis://127.0.0.1:6379/9");
    String amqp = o.getOrDefault("amqp", defaultAmqp());
    String queue = queuePrefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    if (broker.equals("memory")) {
      return new Setup(
          Server.builder()
              .config(Config.builder().defaultQueue(queue).noUnixSignals(true).build())
              .build(),
          List.of(),
          queue,
          "");
    }
    Config base =
        Config.builder()
            .broker(broker.equals("redis") ? redis : amqp)
            .resultBackend(backend.equals("redis") ? redis : amqp)
            .defaultQueue(queue)
            .resultsExpireIn(Roles.RESULTS_EXPIRE_IN)
            .noUnixSignals(true)
            .build();
    // the queue's own binding key: with Go's default (machinery_task) on the shared exchange, every
    // queue bound with it gets a copy of every task, other people's included
    Config config = base.toBuilder().amqp(base.amqp().withBindingKey(queue)).build();
    List<AutoCloseable> owned = new ArrayList<>();
    Broker b = broker.equals("redis") ? RedisBroker.create(config) : AmqpBroker.create(config);
    owned.add(b);
    Backend be = backend.equals("redis") ? RedisBackend.create(config) : AmqpBackend.create(config);
    owned.add(be);
    return new Setup(
        Server.builder().config(config).broker(b).backend(be).build(),
        owned,
        queue,
        broker.equals("amqp") ? amqp : "");
  }

  /**
   * N tasks that each sleep, pre-filled with {@code sendTasks}, then one worker of concurrency C (N
   * by default) timed from its launch to the Nth task done.
   */
  private void sleepers() throws Exception {
    String broker = o.getOrDefault("broker", "memory");
    int n = intOption("tasks", 100_000);
    int c = intOption("concurrency", n);
    long sleepMs = intOption("sleep-ms", 1_000);
    try (Setup s = setup(broker, broker, "scale_sleepers")) {
      Server server = s.server();
      server.registerTask(
          "sleep",
          TaskFunction.of(
              () -> {
                Thread.sleep(sleepMs); // stands for blocking I/O
                return null;
              }));
      for (int i = 0; i < n; i += Roles.BATCH) {
        List<Signature> batch = new ArrayList<>(Roles.BATCH);
        for (int j = i; j < Math.min(n, i + Roles.BATCH); j++) {
          batch.add(Signature.create("sleep"));
        }
        server.sendTasks(batch);
      }
      double before = HeapSampler.usedAfterFullGcMb();
      AtomicInteger running = new AtomicInteger();
      AtomicInteger maxRunning = new AtomicInteger();
      AtomicLong done = new AtomicLong();
      CountDownLatch all = new CountDownLatch(1);
      Worker worker =
          server
              .workerBuilder("scale-sleepers")
              .concurrency(c)
              .preTaskHandler(
                  sig -> maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max))
              .postTaskHandler(
                  sig -> {
                    running.decrementAndGet();
                    if (done.incrementAndGet() == n) {
                      all.countDown();
                    }
                  })
              .build();
      double seconds;
      double peak;
      double maxAfterGc;
      long cpu0;
      long cpu;
      try (HeapSampler heap = new HeapSampler(1)) {
        cpu0 = ProcCpu.micros(0);
        long t0 = System.nanoTime();
        worker.launchAsync();
        all.await(intOption("timeout-seconds", 600), TimeUnit.SECONDS);
        seconds = (System.nanoTime() - t0) / 1e9;
        cpu = ProcCpu.micros(0) - cpu0;
        peak = HeapSampler.peakMb();
        maxAfterGc = heap.maxAfterGcMb();
      }
      worker.quit();
      double after = HeapSampler.usedAfterFullGcMb();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("event", "sleepers");
      m.put("broker", broker);
      m.put("tasks", n);
      m.put("concurrency", c);
      m.put("sleep_ms", sleepMs);
      m.put("seconds", seconds);
      m.put("done", done.get());
      m.put("cpu_us", cpu);
      m.put("max_running", maxRunning.get());
      m.put("heap_before_mb", before);
      m.put("heap_after_mb", after);
      m.put("heap_peak_mb", peak);
      m.put("heap_max_after_gc_mb", maxAfterGc);
      m.put("heap_max_mb", HeapSampler.maxMb());
      Roles.emit(m);
    }
  }

  /**
   * A chord of N members (each returns its index) whose callback sums them and counts its runs; the
   * runs are read after every member finished, the worker stopped and the queue was found empty, so
   * a second callback would have been published, and run or left in the queue, by then.
   */
  private void chord() throws Exception {
    String[] pair = o.getOrDefault("pair", "redis+redis").split("\\+");
    int n = intOption("members", 10_000);
    try (Setup s = setup(pair[0], pair[1], "scale_chord")) {
      Server server = s.server();
      AtomicInteger callbackRuns = new AtomicInteger();
      AtomicLong membersDone = new AtomicLong();
      CountDownLatch members = new CountDownLatch(n);
      server.registerTask("member", TaskFunction.of(Long.class, i -> i));
      server.registerTask(
          "sum",
          TaskFunction.varargs(
              long[].class,
              xs -> {
                callbackRuns.incrementAndGet();
                return LongStream.of(xs).sum();
              }));
      Worker worker =
          server
              .workerBuilder("scale-chord")
              .concurrency(intOption("concurrency", 100))
              .postTaskHandler(
                  sig -> {
                    if (sig.name().equals("member")) {
                      membersDone.incrementAndGet();
                      members.countDown();
                    }
                  })
              .build();
      worker.launchAsync();
      List<Signature> sigs = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        sigs.add(Signature.create("member", Arg.of((long) i)));
      }
      long t0 = System.nanoTime();
      ChordAsyncResult result =
          server.sendChord(
              Chord.of(Group.of(sigs), Signature.create("sum")),
              intOption("send-concurrency", 100));
      double sendSeconds = (System.nanoTime() - t0) / 1e9;
      Duration timeout = Duration.ofSeconds(intOption("timeout-seconds", 600));
      List<Object> value = result.get(timeout);
      double seconds = (System.nanoTime() - t0) / 1e9;
      members.await(timeout.toSeconds(), TimeUnit.SECONDS);
      worker.quit(); // every running task settles, a duplicate callback would be published by now
      Inspection inspection = Inspection.of(server);
      long left = inspection.canInspectQueues() ? inspection.queue(s.queue()).pending() : -1;
      long expected = (long) n * (n - 1) / 2;
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("event", "chord");
      m.put("pair", String.join("+", pair));
      m.put("members", n);
      m.put("send_concurrency", intOption("send-concurrency", 100));
      m.put("send_seconds", sendSeconds);
      m.put("seconds", seconds);
      m.put("members_done", membersDone.get());
      m.put("callback_runs", callbackRuns.get());
      m.put("queue_left", left);
      m.put("result", value.toString());
      m.put("result_right", value.equals(List.of(expected)));
      Roles.emit(m);
    }
  }
}
