package io.machinery.benchmarks.redis;

import static io.machinery.benchmarks.redis.ScriptCost.bytes;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * What the Redis result backend's merge script (a task's final state: its TaskName and CreatedAt
 * carried forward from the stored state, Go's mergeNewTaskState in one call) costs Redis per task,
 * measured inside Redis: {@code INFO commandstats} time of {@code EVALSHA} over one call per task
 * key, each key holding the STARTED state this library wrote before (Go's layout). The baseline in
 * the same run is a bare script that writes the same SUCCESS without reading the stored state; with
 * {@code --before-jar} the merge script of another build of this repository runs alongside, rounds
 * alternating.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.redis.StateScriptBenchmark \
 *     [--url redis://127.0.0.1:6379/15] [--tasks 100000] [--rounds 6] [--before-jar FILE]
 * </pre>
 *
 * <p>The database of {@code --url} is flushed before every round; no other client may run scripts
 * on that Redis meanwhile (the statistics are the server's). The scripts are read by {@link
 * ScriptCost}.
 */
public final class StateScriptBenchmark {
  private static final String SCRIPTS = "io.machinery.backend.redis.BackendScripts";

  /** The final state's bytes around the carried TaskName and CreatedAt, as StateTemplate sends. */
  private static final String MIDDLE =
      ",\"State\":\"SUCCESS\",\"Results\":[{\"Type\":\"int64\",\"Value\":3}],\"Error\":\"\",\"CreatedAt\":";

  private static final String TAIL = ",\"TTL\":0}";

  private static final String BARE =
      """
      redis.call('SET', KEYS[1], ARGV[1] .. '"add"' .. ARGV[2] .. '"2026-12-07T13:14:01.608637753Z"'
        .. ARGV[3], 'EX', ARGV[4])
      return 1
      """;

  private StateScriptBenchmark() {}

  public static void main(String[] args) throws Exception {
    String url = "redis://127.0.0.1:6379/15";
    int tasks = 100_000;
    int rounds = 6;
    Path beforeJar = null;
    for (int i = 0; i < args.length; i += 2) {
      String v = i + 1 < args.length ? args[i + 1] : "";
      switch (args[i]) {
        case "--url" -> url = v;
        case "--tasks" -> tasks = Integer.parseInt(v);
        case "--rounds" -> rounds = Integer.parseInt(v);
        case "--before-jar" -> beforeJar = Path.of(v);
        default -> {
          System.err.println(
              "usage: StateScriptBenchmark [--url URL] [--tasks N] [--rounds N] [--before-jar FILE]");
          System.exit(2);
        }
      }
    }
    Map<String, String> scripts = new LinkedHashMap<>();
    scripts.put("bare: SET of the same state, nothing read", BARE);
    scripts.putAll(
        ScriptCost.thisBuildAndBefore(SCRIPTS, "MERGE_STATE", "merge script", beforeJar));
    RedisClient client = RedisClient.create(RedisURI.create(url));
    try (StatefulRedisConnection<byte[], byte[]> connection =
        client.connect(ByteArrayCodec.INSTANCE)) {
      Map<String, List<Double>> perTask = new LinkedHashMap<>();
      for (int round = 1; round <= rounds; round++) {
        for (Map.Entry<String, String> script : scripts.entrySet()) {
          double micros = round(connection, script.getValue(), tasks);
          perTask.computeIfAbsent(script.getKey(), k -> new ArrayList<>()).add(micros);
          System.err.printf(
              Locale.ROOT, "round %d: %s %.2f µs/task%n", round, script.getKey(), micros);
        }
      }
      RedisCommands<byte[], byte[]> redis = connection.sync();
      redis.flushdb();
      System.out.printf(
          Locale.ROOT,
          "%n%d final states per round, %d rounds; Redis %s%n%n",
          tasks,
          rounds,
          ScriptCost.serverVersion(redis));
      ScriptCost.printTable("Redis time µs/task", perTask);
    } finally {
      client.shutdown();
    }
  }

  /** One round: a flushed database, a STARTED state per task, one call per task; µs per task. */
  private static double round(
      StatefulRedisConnection<byte[], byte[]> connection, String source, int tasks)
      throws Exception {
    RedisCommands<byte[], byte[]> redis = connection.sync();
    RedisAsyncCommands<byte[], byte[]> async = connection.async();
    redis.flushdb();
    forEachTask(
        tasks,
        uuid ->
            async.set(
                bytes(uuid),
                bytes(
                    "{\"TaskUUID\":\""
                        + uuid
                        + "\",\"TaskName\":\"add\",\"State\":\"STARTED\",\"Results\":null,"
                        + "\"Error\":\"\",\"CreatedAt\":\"2026-12-07T13:14:01.608637753Z\","
                        + "\"TTL\":0}")));
    String sha = redis.scriptLoad(bytes(source));
    byte[] middle = bytes(MIDDLE);
    byte[] tail = bytes(TAIL);
    byte[] expiry = bytes("600");
    redis.configResetstat();
    forEachTask(
        tasks,
        uuid ->
            async.evalsha(
                sha,
                ScriptOutputType.INTEGER,
                new byte[][] {bytes(uuid)},
                bytes("{\"TaskUUID\":\"" + uuid + "\",\"TaskName\":"),
                middle,
                tail,
                expiry));
    String stored = new String(redis.get(bytes(uuid(0))), StandardCharsets.UTF_8);
    if (!stored.contains("\"State\":\"SUCCESS\"") || !stored.contains("\"TaskName\":\"add\"")) {
      throw new IllegalStateException("the script did not write the final state: " + stored);
    }
    return ScriptCost.evalshaMicros(redis, tasks) / (double) tasks;
  }

  private static String uuid(int i) {
    return String.format(Locale.ROOT, "task_00000000-0000-4000-8000-%012d", i);
  }

  /** Sends one command per task, at most 1,000 unanswered at once, and waits for them all. */
  private static void forEachTask(int tasks, Function<String, RedisFuture<?>> send)
      throws Exception {
    List<RedisFuture<?>> window = new ArrayList<>(1_000);
    for (int i = 0; i < tasks; i++) {
      window.add(send.apply(uuid(i)));
      if (window.size() == 1_000 || i == tasks - 1) {
        for (RedisFuture<?> f : window) {
          f.get(30, TimeUnit.SECONDS);
        }
        window.clear();
      }
    }
  }
}
