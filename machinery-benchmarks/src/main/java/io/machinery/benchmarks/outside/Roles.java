package io.machinery.benchmarks.outside;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.lettuce.core.LMoveArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.machinery.Arg;
import io.machinery.MigratingBackend;
import io.machinery.MigratingBroker;
import io.machinery.QueueBound;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskBreaker;
import io.machinery.TaskFunction;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.benchmarks.sidebyside.Percentiles;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.wire.WireCodec;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The three child-process roles of the outside-in benchmark for the JVM systems: {@code produce} (N
 * no-op tasks, one at a time), {@code work} (a fresh worker of concurrency C drains them, then
 * times L stamped tasks from their send to their start) and {@code latency} (sends those L tasks
 * into the idle worker). Each prints JSON lines on stdout, with the same fields as {@code
 * machinery-benchmarks/go}. Systems: {@code java} (Machinery for Java, Redis broker + Redis
 * backend; {@code java-async} and {@code java-batch} send with {@code sendTaskAsync} and {@code
 * sendTasks} of {@value #BATCH}; {@code java-bounded} sends one by one as {@code java} with a
 * {@link QueueBound} of {@value #BOUND} on the queue, which it never reaches, so the row shows what
 * keeping the count costs; {@code java-breaker} drains with a {@link TaskBreaker} on the task,
 * which never opens, so the row shows what asking it and counting each run costs ({@code
 * java-shared-breaker}: the same breaker {@code shared}, each outcome also sent to the cluster's
 * window in Redis, in batches); {@code java-fair} sends each task with one of {@value #FAIR_KEYS}
 * fairness keys, both sides with {@code RedisBroker.Builder.fairness}, so the row shows what the
 * lanes cost ({@code java-fair-weighted}: the same, half the keys of weight 3, set after the
 * sends); {@code java-migrating} sends and drains through a {@link MigratingBroker} whose old
 * broker (the next Redis database) is empty; {@code java-migrating-results} sends and drains with a
 * {@link MigratingBackend} from the broker's Redis database to the next one (every state written to
 * both, read from the old one); {@code java-amqp}: the AMQP broker, see {@link #amqpConfig}) and
 * {@code lettuce} (a bare Lettuce program doing the least a reliable Redis queue does per task:
 * RPUSH to send; LMOVE into a processing list, SET of the result, LREM as the ack to drain, C loops
 * on one shared asynchronous connection).
 *
 * <p>Size: a benchmark program's roles (producer, worker, latency probe), not library code.
 */
final class Roles {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final int RESULTS_EXPIRE_IN = 600;

  /** How many fairness keys the {@code java-fair} producer spreads its tasks over. */
  static final int FAIR_KEYS = 100;

  /** The {@code java-bounded} producer's bound on its queue: far above any run's tasks. */
  static final long BOUND = 1_000_000_000L;

  private final Options o;

  Roles(Options o) {
    this.o = o;
  }

  /** What a child process is told on its command line. */
  record Options(
      String role,
      String system,
      String redisUrl,
      String amqpUrl,
      String queue,
      int tasks,
      int concurrency,
      int latency,
      int gapMs,
      long redisPid,
      int latencyWarmup,
      int idleWarmup,
      int asyncWindow) {}

  void run() throws Exception {
    switch (o.system()) {
      case "java",
          "java-async",
          "java-batch",
          "java-bounded",
          "java-breaker",
          "java-shared-breaker",
          "java-amqp",
          "java-fair",
          "java-fair-weighted",
          "java-migrating",
          "java-migrating-results" -> {
        try (Server server = server()) {
          switch (o.role()) {
            case "produce" -> {
              switch (o.system()) {
                case "java-async" -> produceAsync(server);
                case "java-batch" -> produceBatch(server);
                case "java-fair" -> produceKeyed(server);
                case "java-fair-weighted" -> {
                  produceKeyed(server);
                  // half the keys weigh 3: the worker's keyed takes go through the weighted path
                  io.machinery.Inspection inspection = io.machinery.Inspection.of(server);
                  for (int key = 0; key < FAIR_KEYS; key += 2) {
                    inspection.setFairnessWeight("", "tenant-" + key, 3);
                  }
                }
                default -> produce(() -> server.sendTask(Signature.create("noop")));
              }
            }
            case "latency" ->
                latency(
                    sent -> server.sendTask(Signature.create("stamp", Arg.of(sent))),
                    sent ->
                        server.sendTask(
                            Signature.builder("stamp")
                                .args(Arg.of(sent))
                                .routingKey(warmupQueue())
                                .build()));
            case "work" -> javaWork(server);
            default -> throw new IllegalArgumentException("unknown role " + o.role());
          }
        }
      }
      case "lettuce" -> lettuce();
      default ->
          throw new IllegalArgumentException(
              "unknown system "
                  + o.system()
                  + " (java, java-async, java-batch, java-bounded, java-breaker,"
                  + " java-shared-breaker, java-amqp,"
                  + " java-fair, java-fair-weighted, java-migrating, java-migrating-results,"
                  + " lettuce)");
    }
  }

  private Server server() {
    boolean amqp = o.system().equals("java-amqp");
    Config.Builder builder =
        Config.builder()
            .broker(amqp ? o.amqpUrl() : o.redisUrl())
            .resultBackend(o.redisUrl())
            .defaultQueue(o.queue())
            .resultsExpireIn(RESULTS_EXPIRE_IN)
            .noUnixSignals(true);
    if (amqp) {
      builder.amqp(amqpConfig(o.queue(), o.concurrency()));
    }
    Config config = builder.build();
    Broker broker =
        amqp
            ? AmqpBroker.create(config)
            : RedisBroker.builder(config).fairness(o.system().startsWith("java-fair")).build();
    if (o.system().equals("java-migrating")) {
      // halfway through a move to this Redis database: the old broker (the next database) is
      // empty, so the row shows what consuming it beside the new one costs
      Config old = config.toBuilder().broker(nextDatabase(o.redisUrl())).build();
      broker = MigratingBroker.of(RedisBroker.create(old), broker);
    }
    Backend backend = RedisBackend.create(config);
    if (o.system().equals("java-migrating-results")) {
      // halfway through a move of the results off the broker's Redis database to the next one:
      // every state goes to both (the old one first) and is read from the old one
      Config fresh = config.toBuilder().resultBackend(nextDatabase(o.redisUrl())).build();
      backend = MigratingBackend.of(backend, RedisBackend.create(fresh));
    }
    Server.Builder server = Server.builder().config(config).broker(broker).backend(backend);
    if (o.system().equals("java-bounded")) {
      server.bound(QueueBound.reject(o.queue(), BOUND)); // never reached: what the count costs
    }
    return server.build();
  }

  /** The same Redis server's next database ({@code redis://h:p/11} gives {@code .../12}). */
  static String nextDatabase(String redisUrl) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(.*/)(\\d+)$").matcher(redisUrl);
    return m.matches()
        ? m.group(1) + (Integer.parseInt(m.group(2)) + 1) % 16
        : redisUrl.replaceAll("/$", "") + "/1";
  }

  /**
   * The AMQP settings of the {@code java-amqp} row, the same as the Go row's ({@code
   * machinery-benchmarks/go}): a durable direct exchange named after the queue (so the driver
   * deletes both after the row), the queue bound with its own name, prefetch = the concurrency.
   */
  static AmqpConfig amqpConfig(String queue, int concurrency) {
    return AmqpConfig.builder()
        .exchange(exchangeFor(queue))
        .exchangeType("direct")
        .bindingKey(queue)
        .prefetchCount(concurrency)
        .build();
  }

  static String exchangeFor(String queue) {
    return queue + "_exchange";
  }

  interface Send {
    void send() throws Exception;
  }

  interface SendStamp {
    void send(long sentNanos) throws Exception;
  }

  /**
   * One by one as {@code java}, each task with one of {@value #FAIR_KEYS} fairness keys in turn.
   */
  private void produceKeyed(Server server) throws Exception {
    int[] sent = {0};
    produce(
        () ->
            server.sendTask(
                Signature.builder("noop").fairnessKey("tenant-" + sent[0]++ % FAIR_KEYS).build()));
  }

  private void produce(Send send) throws Exception {
    produce(send, null);
  }

  /** Times {@code all} when given, else N calls of {@code one}. */
  private void produce(Send one, @org.jspecify.annotations.Nullable Send all) throws Exception {
    long cpu0 = ProcCpu.micros(0);
    long jit0 = ProcCpu.compilerMicros();
    long redis0 = ProcCpu.micros(o.redisPid());
    long t0 = System.nanoTime();
    if (all != null) {
      all.send();
    } else {
      for (int i = 0; i < o.tasks(); i++) {
        one.send();
      }
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    emit(
        Map.of(
            "event",
            "produced",
            "n",
            o.tasks(),
            "seconds",
            seconds,
            "cpu_us",
            ProcCpu.micros(0) - cpu0,
            "jit_cpu_us",
            ProcCpu.compilerMicros() - jit0,
            "redis_cpu_us",
            ProcCpu.micros(o.redisPid()) - redis0));
  }

  /**
   * sendTaskAsync from one thread, at most {@code --async-window} sends in flight (default {@value
   * #ASYNC_WINDOW}), as a producer that bounds what it has not yet heard back about; the time ends
   * when the last one completed. Up to session 10 the window was 40,000 (two commands each: more
   * would overflow the session's bounded request queue) and the producer kept every future to the
   * end; so many sends in flight outlive young collections, and 2,000 sent 13-18% more (session 11
   * in docs/benchmarks.md).
   */
  private void produceAsync(Server server) throws Exception {
    int window = o.asyncWindow() > 0 ? o.asyncWindow() : ASYNC_WINDOW;
    produce(
        () -> {},
        () -> {
          Semaphore inFlight = new Semaphore(window);
          AtomicReference<Throwable> failed = new AtomicReference<>();
          for (int i = 0; i < o.tasks(); i++) {
            inFlight.acquire();
            server
                .sendTaskAsync(Signature.create("noop"))
                .whenComplete(
                    (ok, error) -> {
                      if (error != null) {
                        failed.compareAndSet(null, error);
                      }
                      inFlight.release();
                    });
          }
          inFlight.acquire(window); // every send has completed
          if (failed.get() != null) {
            throw new IllegalStateException("a send failed", failed.get());
          }
        });
  }

  static final int ASYNC_WINDOW = 2_000;

  /** sendTasks with {@value #BATCH} signatures per call. */
  private void produceBatch(Server server) throws Exception {
    produce(
        () -> {},
        () -> {
          for (int i = 0; i < o.tasks(); i += BATCH) {
            List<Signature> batch = new ArrayList<>(BATCH);
            for (int j = i; j < Math.min(o.tasks(), i + BATCH); j++) {
              batch.add(Signature.create("noop"));
            }
            server.sendTasks(batch);
          }
        });
  }

  static final int BATCH = 1_000;

  /**
   * Sends the L stamped tasks, after {@code latencyWarmup} untimed sends of the same kind to {@link
   * #warmupQueue()}, which no worker reads: a producer that has been running a while has its send
   * path compiled, and a fresh JVM's first sends are mostly interpreted.
   */
  private void latency(SendStamp send, SendStamp warmup) throws Exception {
    for (int i = 0; i < o.latencyWarmup(); i++) {
      warmup.send(epochNanos());
    }
    for (int i = 0; i < o.idleWarmup() + o.tasks(); i++) {
      send.send(epochNanos());
      Thread.sleep(
          o.gapMs()); // pacing, so that every task finds the worker idle (not waiting for an
      // outcome)
    }
  }

  /** Where the latency sender's warm-up sends go (emptied with the database after the row). */
  private String warmupQueue() {
    return warmupQueue(o.queue());
  }

  static String warmupQueue(String queue) {
    return queue + "_warmup";
  }

  static long epochNanos() {
    return ChronoUnit.NANOS.between(Instant.EPOCH, Instant.now());
  }

  /**
   * Counts finished no-op tasks and takes the times and CPU readings at the half and at the end.
   */
  private final class Drain {
    private final AtomicLong count = new AtomicLong();
    private final long half = o.tasks() / 2;
    private final CountDownLatch drained = new CountDownLatch(1);
    private final List<Long> samples = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch stamped = new CountDownLatch(o.latency());
    private final AtomicLong stamps = new AtomicLong();
    private final long t0 = System.nanoTime();
    private final long cpu0 = ProcCpu.micros(0);
    private final long jit0 = ProcCpu.compilerMicros();
    private final long redis0 = ProcCpu.micros(o.redisPid());
    private long tHalf;
    private long cpuHalf;
    private long jitHalf;
    private long redisHalf;
    private long tAll;
    private long cpuAll;
    private long jitAll;
    private long redisAll;

    /** The worker's heap, sampled while it drains (the Java worker only). */
    private @org.jspecify.annotations.Nullable HeapSampler heap;

    void done() {
      long n = count.incrementAndGet();
      if (n == half) {
        tHalf = System.nanoTime();
        cpuHalf = ProcCpu.micros(0);
        jitHalf = ProcCpu.compilerMicros();
        redisHalf = ProcCpu.micros(o.redisPid());
      }
      if (n == o.tasks()) {
        tAll = System.nanoTime();
        cpuAll = ProcCpu.micros(0);
        jitAll = ProcCpu.compilerMicros();
        redisAll = ProcCpu.micros(o.redisPid());
        drained.countDown();
      }
    }

    void stamp(long sentNanos) {
      long latency = epochNanos() - sentNanos;
      if (stamps.incrementAndGet() <= o.idleWarmup()) {
        return; // a warm-up sample (--idle-warmup)
      }
      samples.add(latency);
      stamped.countDown();
    }

    void report() throws Exception {
      drained.await();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("event", "drained");
      m.put("n", o.tasks());
      m.put("cold_seconds", (tAll - t0) / 1e9);
      m.put("warm_seconds", (tAll - tHalf) / 1e9);
      m.put("warm_n", o.tasks() - half);
      m.put("cpu_us", cpuAll - cpu0);
      m.put("redis_cpu_us", redisAll - redis0);
      m.put("warm_cpu_us", cpuAll - cpuHalf);
      m.put("jit_cpu_us", jitAll - jit0);
      m.put("warm_jit_cpu_us", jitAll - jitHalf);
      m.put("warm_redis_cpu_us", redisAll - redisHalf);
      if (heap != null) {
        m.put("heap_window_seconds", HEAP_WINDOW_SECONDS);
        m.put("heap_after_gc_mb", heap.series());
        m.put("heap_peak_mb", Math.round(HeapSampler.peakMb()));
        m.put("heap_max_after_gc_mb", Math.round(heap.maxAfterGcMb()));
        m.put("heap_max_mb", Math.round(HeapSampler.maxMb()));
        heap.close();
      }
      emit(m);
      if (o.latency() > 0) {
        stamped.await();
        List<Long> copy;
        synchronized (samples) {
          copy = new ArrayList<>(samples);
        }
        emit(
            Map.of(
                "event",
                "latency",
                "samples",
                copy.size(),
                "p50_ms",
                Percentiles.millis(copy, 50),
                "p99_ms",
                Percentiles.millis(copy, 99),
                "max_ms",
                Collections.max(copy) / 1e6));
      }
    }
  }

  /** The width of a heap sample window of the Java worker. */
  static final double HEAP_WINDOW_SECONDS = 5;

  private void javaWork(Server server) throws Exception {
    Drain drain = new Drain();
    drain.heap = new HeapSampler(HEAP_WINDOW_SECONDS);
    server.registerTask("noop", TaskFunction.of(() -> null));
    server.registerTask(
        "stamp",
        TaskFunction.of(
            Long.class,
            sent -> {
              drain.stamp(sent);
              return null;
            }));
    Worker.Builder builder =
        server
            .workerBuilder("outside-java")
            .concurrency(o.concurrency())
            .postTaskHandler(
                signature -> { // runs after SUCCESS is stored
                  if (signature.name().equals("noop")) {
                    drain.done();
                  }
                });
    if (o.system().equals("java-breaker") || o.system().equals("java-shared-breaker")) {
      // never opens (the task never fails): what asking the breaker and counting each run costs,
      // shared: and sending every outcome to the cluster's window in Redis
      boolean shared = o.system().equals("java-shared-breaker");
      builder
          .breaker("noop", TaskBreaker.builder().shared(shared).build())
          .breaker("stamp", TaskBreaker.builder().shared(shared).build());
    }
    Worker worker = builder.build();
    worker.launchAsync();
    drain.report();
    worker.quit();
  }

  // -------------------------------------------------------------------------------------------
  // bare Lettuce

  private void lettuce() throws Exception {
    RedisClient client = RedisClient.create(o.redisUrl());
    RedisCodec<String, byte[]> codec = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);
    try (StatefulRedisConnection<String, byte[]> connection = client.connect(codec)) {
      RedisCommands<String, byte[]> sync = connection.sync();
      byte[] noop = WireCodec.encode(Signature.create("noop"));
      switch (o.role()) {
        case "produce" -> produce(() -> sync.rpush(o.queue(), noop));
        case "latency" ->
            latency(
                sent -> sync.rpush(o.queue(), ("stamp:" + sent).getBytes()),
                sent -> sync.rpush(warmupQueue(), ("stamp:" + sent).getBytes()));
        case "work" -> {
          try (StatefulRedisConnection<String, byte[]> blocking = client.connect(codec)) {
            lettuceWork(connection.async(), blocking.sync());
          }
        }
        default -> throw new IllegalArgumentException("unknown role " + o.role());
      }
    } finally {
      client.shutdown();
    }
  }

  /**
   * C asynchronous loops share one connection, each a chain of callbacks on Lettuce's I/O thread
   * (no thread per loop): LMOVE, SET of the result, LREM, again. A loop that finds the queue empty
   * parks; one waiter blocks in BLMOVE on a second connection (a blocking command would stall the
   * shared one) and restarts the parked loops when a task arrives.
   */
  private void lettuceWork(
      RedisAsyncCommands<String, byte[]> redis, RedisCommands<String, byte[]> blocking)
      throws Exception {
    Drain drain = new Drain();
    byte[] result =
        WireCodec.encode(
            TaskState.success(Signature.create("noop"), List.<TaskResult>of())
                .withCarriedForward(
                    TaskState.pending(
                        Signature.create("noop"), OffsetDateTime.now(ZoneOffset.UTC))));
    SetArgs ex = SetArgs.Builder.ex(RESULTS_EXPIRE_IN);
    AtomicLong ids = new AtomicLong();
    String processing = "{" + o.queue() + "}:processing";
    java.util.concurrent.atomic.AtomicInteger parked =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.function.Consumer<byte[]> finish =
        m -> {
          String s =
              new String(
                  m, 0, Math.min(m.length, 32), java.nio.charset.StandardCharsets.ISO_8859_1);
          if (s.startsWith("stamp:")) {
            drain.stamp(
                Long.parseLong(
                    new String(m, java.nio.charset.StandardCharsets.ISO_8859_1).substring(6)));
          } else {
            drain.done();
          }
        };
    Runnable[] loop = new Runnable[1];
    loop[0] =
        () ->
            redis
                .lmove(o.queue(), processing, LMoveArgs.Builder.leftRight())
                .thenAccept(
                    m -> {
                      if (m == null) {
                        parked.incrementAndGet();
                        return;
                      }
                      redis.set("lettuce_task_" + ids.incrementAndGet(), result, ex);
                      redis
                          .lrem(processing, 1, m)
                          .thenRun(
                              () -> {
                                finish.accept(m);
                                loop[0].run();
                              });
                    });
    for (int w = 0; w < o.concurrency(); w++) {
      loop[0].run();
    }
    Thread waiter =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    while (!Thread.currentThread().isInterrupted()) {
                      byte[] m =
                          blocking.blmove(
                              o.queue(), processing, LMoveArgs.Builder.leftRight(), 1.0);
                      if (m != null) {
                        redis.set("lettuce_task_" + ids.incrementAndGet(), result, ex);
                        redis.lrem(processing, 1, m).get();
                        finish.accept(m);
                        for (int n = parked.getAndSet(0); n > 0; n--) {
                          loop[0].run();
                        }
                      }
                    }
                  } catch (Exception e) {
                    // interrupted at the end
                  }
                });
    drain.report();
    waiter.interrupt();
  }

  static void emit(Map<String, ?> fields) throws Exception {
    System.out.println(JSON.writeValueAsString(fields));
    System.out.flush();
  }
}
