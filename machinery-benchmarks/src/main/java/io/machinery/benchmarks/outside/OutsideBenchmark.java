package io.machinery.benchmarks.outside;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The outside-in benchmark: what a user sees, with producer and worker in processes of their own.
 *
 * <pre>
 * scripts/bench/outside.sh [--tasks 100000] [--concurrency 1,10,100] [--systems java,go-machinery,asynq,lettuce]
 *     [--latency 200] [--gap-ms 5] [--latency-warmup 0] [--idle-warmup 0] [--redis redis://127.0.0.1:6379/9] [--rounds 1] [--jfr DIR]
 *     [--jfr-concurrency 10] [--jfr-settings profile] [--java-opts "-Xmx512m ..."] [--go-binary machinery-benchmarks/go/bin/outside-go]
 *     [--before-jar OLD.jar] (systems java-before, java-async-before, java-batch-before: those rows from an older build, in the same run)
 *     [--amqp amqp://guest:guest@127.0.0.1:5672/] [--rabbit-pid P] (systems java-amqp, go-machinery-amqp)
 * </pre>
 *
 * <p>For each system and worker concurrency C, on an emptied Redis database: a producer process
 * sends N no-op tasks one at a time (the <b>enqueue</b> rate; a sender that waits for each send);
 * then a fresh worker process of concurrency C drains the pre-filled queue, results stored
 * (<b>cold</b> = N over the time from the worker's launch to the Nth task done, JIT warm-up
 * included; <b>warm</b> = the second half of the same drain); then, into the now idle worker, a
 * third process sends L tasks one at a time, a few milliseconds apart, each carrying its send time,
 * and the worker records send to start (<b>enqueue->start</b> p50/p99); with {@code
 * --latency-warmup W} that process first makes W untimed sends to a queue no worker reads (a
 * producer whose send path is compiled, as in one that has been running); with {@code --idle-warmup
 * K} it first sends K more paced tasks whose times the worker drops (a worker whose idle path is
 * compiled, as in one that has been idle a while). <b>CPU µs/task</b> is utime+stime from {@code
 * /proc/<pid>/stat} over the phase, for the producer, the worker and redis-server (whose pid comes
 * from INFO, so a remote Redis shows n/a); <b>of which JIT</b> is the part of a JVM's CPU that its
 * C1 and C2 compiler threads used ({@code /proc/self/task}), which a Go program does not have.
 * Systems: {@code java} (this library), {@code go-machinery} (Go Machinery v2) and {@code asynq}
 * (both from {@code machinery-benchmarks/go}), and {@code lettuce}: a bare Lettuce program, the
 * floor of what a reliable Redis queue costs (see {@link Roles}). {@code java-amqp} and {@code
 * go-machinery-amqp} are the same two libraries with their AMQP broker on RabbitMQ ({@code --amqp},
 * default {@code AMQP_URL}) and the Redis backend: each row gets an exchange and queues of its own
 * names, deleted after the row (the RabbitMQ may be shared), and its broker CPU is RabbitMQ's
 * {@code beam.smp}'s (found in {@code /proc}, or {@code --rabbit-pid}). Child processes are
 * launched by this driver; the same class is their entry point ({@code produce}, {@code work},
 * {@code latency}).
 */
public final class OutsideBenchmark {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String QUEUE = "outside_bench";

  private OutsideBenchmark() {}

  public static void main(String[] args) throws Exception {
    String role = args.length == 0 ? "run" : args[0];
    Driver d = new Driver();
    int i0 = args.length > 0 && !args[0].startsWith("-") ? 1 : 0;
    for (int i = i0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      if (v == null && !a.equals("-h") && !a.equals("--help")) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      i++;
      switch (a) {
        case "-n", "--tasks" -> d.tasks = Integer.parseInt(v);
        case "-c", "--concurrency" ->
            d.concurrencies = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt).toArray();
        case "--systems", "--system" -> d.systems = List.of(v.split(","));
        case "--latency" -> d.latency = Integer.parseInt(v);
        case "--gap-ms" -> d.gapMs = Integer.parseInt(v);
        case "--latency-warmup" -> d.latencyWarmup = Integer.parseInt(v);
        case "--idle-warmup" -> d.idleWarmup = Integer.parseInt(v);
        case "--async-window" -> d.asyncWindow = Integer.parseInt(v);
        case "--redis" -> d.redis = v;
        case "--redis-pid" -> d.redisPid = Long.parseLong(v);
        case "--amqp" -> d.amqp = v;
        case "--rabbit-pid" -> d.rabbitPid = Long.parseLong(v);
        case "--queue" -> d.queue = v;
        case "--rounds" -> d.rounds = Integer.parseInt(v);
        case "--jfr" -> d.jfrDir = Path.of(v);
        case "--jfr-concurrency" -> d.jfrConcurrency = Integer.parseInt(v);
        case "--jfr-settings" -> d.jfrSettings = v;
        case "--java-opts" -> d.javaOpts = List.of(v.trim().split("\\s+"));
        case "--go-binary" -> d.goBinary = Path.of(v);
        case "--before-jar" -> d.beforeJar = Path.of(v);
        case "-h", "--help" -> {
          System.out.println(
              "usage: OutsideBenchmark [run] [--tasks N] [--concurrency 1,10,100]"
                  + " [--systems java,go-machinery,asynq,lettuce] [--latency L] [--gap-ms G] [--latency-warmup W] [--idle-warmup K] [--async-window W] [--redis URL] [--rounds R]"
                  + " [--jfr DIR] [--jfr-concurrency C] [--jfr-settings profile|FILE.jfc] [--java-opts OPTS] [--go-binary FILE] [--before-jar FILE]"
                  + " [--amqp URL] [--rabbit-pid P]"
                  + "; systems also java-async, java-batch, java-bounded (other producers, same worker), java-breaker (same producer, a breaker in the worker), java-shared-breaker (the same, shared), java-fair (fairness on, keyed tasks), java-fair-weighted (the same, half the keys weighted), java-migrating (through a MigratingBroker whose old Redis broker is empty), java-migrating-results (results written to the next Redis database too, through a MigratingBackend), java-before, java-async-before, java-batch-before,"
                  + " java-amqp, go-machinery-amqp (AMQP broker, Redis backend), java-amqp-before");
          return;
        }
        default -> throw new IllegalArgumentException("unknown argument " + a + " (try --help)");
      }
    }
    if (role.equals("run")) {
      d.run(i0 == 1 ? Arrays.copyOfRange(args, 1, args.length) : args);
    } else {
      new Roles(
              new Roles.Options(
                  role,
                  d.systems.get(0),
                  d.redis,
                  d.amqp,
                  d.queue,
                  d.tasks,
                  d.concurrencies[0],
                  d.latency,
                  d.gapMs,
                  d.redisPid,
                  d.latencyWarmup,
                  d.idleWarmup,
                  d.asyncWindow))
          .run();
      System.exit(0); // a worker's non-daemon threads must not keep the process
    }
  }

  /** One measured row: a system at a concurrency, the JSON lines its three processes printed. */
  record Row(
      String system,
      int concurrency,
      JsonNode produced,
      JsonNode drained,
      @Nullable JsonNode latency) {}

  static final class Driver {
    int tasks = 100_000;
    int[] concurrencies = {1, 10, 100};
    List<String> systems = List.of("java", "go-machinery", "asynq", "lettuce");
    int latency = 200;
    int gapMs = 5;

    /**
     * Untimed sends the latency sender makes first, to a queue no worker reads, so that its send
     * path is compiled as in a producer that has been running (0: a fresh sender, as before).
     */
    int latencyWarmup;

    /**
     * Paced latency tasks the sender sends first and the worker does not count, so that the
     * worker's idle path (a blocking fetch per task, a parked task thread woken) is compiled as in
     * a worker that has been idle a while; 0: the first L idle tasks after the drain are timed.
     */
    int idleWarmup;

    /**
     * The most sends the {@code java-async} producer has in flight (0: the role's default, {@link
     * Roles#ASYNC_WINDOW}).
     */
    int asyncWindow;

    String redis = defaultRedis();
    long redisPid = -1;
    String amqp = defaultAmqp();

    /** RabbitMQ's beam.smp, whose CPU the AMQP rows show as the broker's (-1: find it). */
    long rabbitPid = -1;

    /** The queue of a child process (the driver gives each AMQP row names of its own). */
    String queue = QUEUE;

    int rounds = 1;
    @Nullable Path jfrDir;
    int jfrConcurrency = 10;

    /** JFR's settings: "profile" samples every 10 ms; a .jfc file can sample more often. */
    String jfrSettings = "profile";

    List<String> javaOpts = List.of();
    Path goBinary = Path.of("machinery-benchmarks/go/bin/outside-go");

    /**
     * An older build of this jar: system {@code java-before} runs {@code java} from it (and {@code
     * java-async-before}, {@code java-batch-before} those systems), for before/after.
     */
    @Nullable Path beforeJar;

    final Path logs = tempDir();

    private static String defaultRedis() {
      String url = System.getenv("REDIS_URL");
      return (url == null || url.isBlank() ? "redis://127.0.0.1:6379" : url.replaceAll("/+$", ""))
          + "/9";
    }

    private static String defaultAmqp() {
      String url = System.getenv("AMQP_URL");
      return url == null || url.isBlank() ? "amqp://guest:guest@127.0.0.1:5672/" : url;
    }

    private static Path tempDir() {
      try {
        return Files.createTempDirectory("outside-bench-");
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
    }

    void run(String[] args) throws Exception {
      if (redisPid < 0) {
        redisPid = localRedisPid();
      }
      if (rabbitPid < 0 && systems.stream().anyMatch(Driver::isAmqp)) {
        rabbitPid = Rabbit.localPid();
      }
      List<Row> rows = new ArrayList<>();
      for (int round = 1; round <= rounds; round++) {
        for (String system : systems) {
          for (int c : concurrencies) {
            if ((system.startsWith("java-async")
                    || system.startsWith("java-batch")
                    || system.startsWith("java-bounded"))
                && c != senderRowConcurrency()) {
              continue; // other producers, the same worker: one row is enough
            }
            progress("round %d: %s at concurrency %d", round, system, c);
            Row row = measure(system, c);
            progress("  %s", line(row));
            rows.add(row);
          }
        }
      }
      System.out.println(Table.markdown(rows, rounds, tasks, latency, args));
    }

    /**
     * The one concurrency at which the java-async and java-batch rows run: 10 when measured, else
     * the first.
     */
    private int senderRowConcurrency() {
      return Arrays.stream(concurrencies).anyMatch(c -> c == 10) ? 10 : concurrencies[0];
    }

    /**
     * redis-server's pid from INFO when it runs on this machine, else -1 (its CPU is then not
     * shown).
     */
    long localRedisPid() {
      RedisClient client = RedisClient.create(redis);
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        String info = c.sync().info("server");
        long pid =
            info.lines()
                .filter(l -> l.startsWith("process_id:"))
                .map(l -> Long.parseLong(l.substring(11).trim()))
                .findFirst()
                .orElse(-1L);
        return pid > 0 && Files.isReadable(Path.of("/proc", Long.toString(pid), "stat")) ? pid : -1;
      } finally {
        client.shutdown();
      }
    }

    void flush(String system) {
      List<String> databases = new ArrayList<>(List.of(redis));
      if (system.equals("java-migrating-results")) {
        databases.add(Roles.nextDatabase(redis)); // the new result backend of that row
      }
      for (String url : databases) {
        RedisClient client = RedisClient.create(url);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
          c.sync().flushdb();
        } finally {
          client.shutdown();
        }
      }
    }

    static boolean isAmqp(String system) {
      return system.contains("-amqp");
    }

    Row measure(String system, int c) throws Exception {
      if (!isAmqp(system)) {
        return measure(system, c, QUEUE, redisPid);
      }
      String q =
          "outside_bench_"
              + system
              + "_c"
              + c
              + "_"
              + ProcessHandle.current().pid()
              + "_"
              + rowIds++;
      try {
        return measure(system, c, q, rabbitPid);
      } finally {
        Rabbit.delete(amqp, q, List.of(q, Roles.warmupQueue(q)), Roles.exchangeFor(q));
      }
    }

    private int rowIds;

    private Row measure(String system, int c, String q, long brokerPid) throws Exception {
      flush(system);
      JsonNode produced = lastJson(start(system, "produce", tasks, c, q, brokerPid), "produced");
      Process worker = start(system, "work", tasks, c, q, brokerPid);
      BlockingQueue<JsonNode> events = new LinkedBlockingQueue<>();
      Thread.ofPlatform().daemon().start(() -> readEvents(worker, events));
      JsonNode drained = await(events, worker, "drained");
      JsonNode lat = null;
      if (latency > 0) {
        Process sender = start(system, "latency", latency, c, q, brokerPid);
        lat = await(events, worker, "latency");
        sender.waitFor(30, TimeUnit.SECONDS);
      }
      if (!worker.waitFor(60, TimeUnit.SECONDS)) {
        worker.destroyForcibly();
      }
      flush(system);
      return new Row(system, c, produced, drained, lat);
    }

    private Process start(String system, String role, int n, int c, String q, long brokerPid)
        throws Exception {
      List<String> cmd = new ArrayList<>();
      boolean go = system.startsWith("go-machinery") || system.equals("asynq");
      if (go) {
        cmd.addAll(
            List.of(
                goBinary.toAbsolutePath().toString(),
                role,
                "-system",
                switch (system) {
                  case "asynq" -> "asynq";
                  case "go-machinery-amqp" -> "machinery-amqp";
                  default -> "machinery";
                },
                "-redis",
                redis,
                "-amqp",
                amqp,
                "-queue",
                q,
                "-n",
                Integer.toString(n),
                "-c",
                Integer.toString(c),
                "-latency",
                Integer.toString(latency),
                "-gap-ms",
                Integer.toString(gapMs),
                "-redis-pid",
                Long.toString(brokerPid)));
        if (latencyWarmup > 0) {
          cmd.addAll(List.of("-latency-warmup", Integer.toString(latencyWarmup)));
        }
        if (idleWarmup > 0) {
          cmd.addAll(List.of("-idle-warmup", Integer.toString(idleWarmup)));
        }
      } else {
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.addAll(javaOpts);
        if (jfrDir != null && c == jfrConcurrency && !role.equals("latency")) {
          Files.createDirectories(jfrDir);
          cmd.add(
              "-XX:StartFlightRecording=settings="
                  + jfrSettings
                  + ",filename="
                  + jfrDir.resolve(system + "-" + role + "-c" + c + ".jfr").toAbsolutePath());
        }
        // java-before, java-async-before, java-batch-before: that system run from the older jar
        boolean before = system.endsWith("-before");
        if (before && beforeJar == null) {
          throw new IllegalArgumentException("system " + system + " needs --before-jar");
        }
        cmd.addAll(
            List.of(
                "-cp",
                before
                    ? beforeJar.toAbsolutePath().toString()
                    : System.getProperty("java.class.path"),
                OutsideBenchmark.class.getName(),
                role,
                "--system",
                before ? system.substring(0, system.length() - "-before".length()) : system,
                "--redis",
                redis,
                "--tasks",
                Integer.toString(n),
                "--concurrency",
                Integer.toString(c),
                "--latency",
                Integer.toString(latency),
                "--gap-ms",
                Integer.toString(gapMs),
                "--redis-pid",
                Long.toString(brokerPid)));
        if (latencyWarmup > 0) { // only then: an older jar (--before-jar) does not know it
          cmd.addAll(List.of("--latency-warmup", Integer.toString(latencyWarmup)));
        }
        if (idleWarmup > 0) { // as above
          cmd.addAll(List.of("--idle-warmup", Integer.toString(idleWarmup)));
        }
        if (asyncWindow > 0) { // as above
          cmd.addAll(List.of("--async-window", Integer.toString(asyncWindow)));
        }
        if (isAmqp(system)) { // only then, as above
          cmd.addAll(List.of("--amqp", amqp, "--queue", q));
        }
      }
      Path log = logs.resolve(system + "-" + role + "-c" + c + ".log");
      return new ProcessBuilder(cmd).redirectError(log.toFile()).start();
    }

    JsonNode lastJson(Process p, String event) throws Exception {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      for (String line : out.lines().toList().reversed()) {
        if (line.startsWith("{")) {
          JsonNode json = JSON.readTree(line);
          if (event.equals(json.path("event").asText())) {
            return json;
          }
        }
      }
      throw new IllegalStateException(
          "no "
              + event
              + " line from "
              + p.info().commandLine().orElse("?")
              + " (exit "
              + p.exitValue()
              + "); logs in "
              + logs);
    }

    private static void readEvents(Process p, BlockingQueue<JsonNode> events) {
      try (BufferedReader r =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          if (line.startsWith("{")) {
            events.add(JSON.readTree(line));
          }
        }
      } catch (Exception e) {
        // the process ended
      }
    }

    private JsonNode await(BlockingQueue<JsonNode> events, Process p, String event)
        throws Exception {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(15);
      while (System.nanoTime() < deadline) {
        JsonNode e = events.poll(1, TimeUnit.SECONDS);
        if (e != null && event.equals(e.path("event").asText())) {
          return e;
        }
        if (e == null && !p.isAlive() && events.isEmpty()) {
          throw new IllegalStateException(
              "worker exited (" + p.exitValue() + ") before '" + event + "'; logs in " + logs);
        }
      }
      p.destroyForcibly();
      throw new IllegalStateException("no '" + event + "' within 15 minutes; logs in " + logs);
    }

    private String line(Row r) {
      return Table.cells(r, tasks).toString();
    }
  }

  static void progress(String format, Object... args) {
    System.err.printf(Locale.ROOT, format + "%n", args);
  }
}
