package io.machinery.benchmarks.redis;

import static io.machinery.benchmarks.redis.ScriptCost.bytes;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.machinery.Signature;
import io.machinery.wire.WireCodec;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the Redis broker's fetch script costs Redis per message, measured inside Redis: {@code INFO
 * commandstats} time of {@code EVALSHA} (the script and the commands it runs) over a run of fetches
 * from one connection, one after the other, each taking {@code --per-fetch} messages and carrying
 * the acknowledgements of the fetch before it, as a worker's fetch loop does. The baseline in the
 * same run is a bare script doing the least a reliable fetch does (one {@code LMOVE} per message,
 * one {@code LREM} per acknowledgement, the lease written); with {@code --before-jar} the fetch
 * script of another build of this repository runs alongside, rounds alternating.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.redis.FetchScriptBenchmark \
 *     [--url redis://127.0.0.1:6379/15] [--fetches 5000] [--per-fetch 20] [--rounds 5] [--before-jar FILE]
 * </pre>
 *
 * <p>The database of {@code --url} is flushed before every round. The scripts are read by {@link
 * ScriptCost}.
 */
public final class FetchScriptBenchmark {
  private static final String SCRIPTS = "io.machinery.broker.redis.BrokerScripts";
  private static final String QUEUE = "fetch_bench";
  private static final String CONSUMER = "fetch-bench-consumer";

  /** What every fetch script here is given besides the acknowledgements (ARGV[1..11]). */
  private static final int FIXED_ARGS = 11;

  private static final String BARE =
      """
      for i = 12, #ARGV do redis.call('LREM', KEYS[2], 1, ARGV[i]) end
      local out = {'', '1', '', ''}
      for i = 1, tonumber(ARGV[1]) do
        local m = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
        if not m then out[2] = '0' break end
        out[#out + 1] = m
      end
      redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
      redis.call('SADD', KEYS[4], ARGV[2])
      return out
      """;

  private FetchScriptBenchmark() {}

  public static void main(String[] args) throws Exception {
    String url = "redis://127.0.0.1:6379/15";
    int fetches = 5_000;
    int perFetch = 20;
    int rounds = 5;
    Path beforeJar = null;
    for (int i = 0; i < args.length; i += 2) {
      String v = i + 1 < args.length ? args[i + 1] : "";
      switch (args[i]) {
        case "--url" -> url = v;
        case "--fetches" -> fetches = Integer.parseInt(v);
        case "--per-fetch" -> perFetch = Integer.parseInt(v);
        case "--rounds" -> rounds = Integer.parseInt(v);
        case "--before-jar" -> beforeJar = Path.of(v);
        default -> {
          System.err.println(
              "usage: FetchScriptBenchmark [--url URL] [--fetches N] [--per-fetch N] [--rounds N]"
                  + " [--before-jar FILE]");
          System.exit(2);
        }
      }
    }
    Map<String, String> scripts = new LinkedHashMap<>();
    scripts.put("bare: LMOVE per message, LREM per ack", BARE);
    scripts.putAll(ScriptCost.thisBuildAndBefore(SCRIPTS, "FETCH", "fetch script", beforeJar));
    int messageBytes = WireCodec.encode(Signature.create("noop")).length;
    RedisClient client = RedisClient.create(RedisURI.create(url));
    try (StatefulRedisConnection<byte[], byte[]> connection =
        client.connect(ByteArrayCodec.INSTANCE)) {
      RedisCommands<byte[], byte[]> redis = connection.sync();
      Map<String, List<Double>> perMessage = new LinkedHashMap<>();
      for (int round = 1; round <= rounds; round++) {
        for (Map.Entry<String, String> script : scripts.entrySet()) {
          double micros = round(redis, script.getValue(), fetches, perFetch);
          perMessage.computeIfAbsent(script.getKey(), k -> new ArrayList<>()).add(micros);
          System.err.printf(
              Locale.ROOT, "round %d: %s %.2f µs/message%n", round, script.getKey(), micros);
        }
      }
      redis.flushdb();
      System.out.printf(
          Locale.ROOT,
          "%n%d fetches of %d messages (%d bytes each) per round, %d rounds; Redis %s%n%n",
          fetches,
          perFetch,
          messageBytes,
          rounds,
          ScriptCost.serverVersion(redis));
      ScriptCost.printTable("Redis time µs/message", perMessage);
    } finally {
      client.shutdown();
    }
  }

  /** One round: a flushed database, the queue filled, the fetches run; µs per message. */
  private static double round(
      RedisCommands<byte[], byte[]> redis, String source, int fetches, int perFetch)
      throws ReflectiveOperationException {
    redis.flushdb();
    for (long n = (long) fetches * perFetch; n > 0; n -= 1_000) {
      byte[][] chunk = new byte[(int) Math.min(n, 1_000)][];
      for (int i = 0; i < chunk.length; i++) {
        chunk[i] = WireCodec.encode(Signature.create("noop")); // each its own UUID, as in a queue
      }
      redis.rpush(bytes(QUEUE), chunk);
    }
    String sha = redis.scriptLoad(bytes(source));
    byte[][] keys = keys();
    List<byte[]> acks = List.of();
    redis.configResetstat();
    for (int i = 0; i < fetches; i++) {
      byte[][] argv = new byte[FIXED_ARGS + acks.size()][];
      argv[0] = bytes(Integer.toString(perFetch));
      argv[1] = bytes(CONSUMER);
      argv[2] = bytes("15000");
      argv[3] = bytes(Integer.toString(4 << 20));
      argv[4] = bytes(Integer.toString(16 << 20));
      argv[5] = bytes("2026-12-07T00:00:00Z");
      argv[6] = bytes("10000");
      argv[7] = bytes(Long.toString((long) i * perFetch));
      argv[8] = bytes("0");
      argv[9] = bytes("");
      argv[10] = bytes("0");
      for (int a = 0; a < acks.size(); a++) {
        argv[FIXED_ARGS + a] = acks.get(a);
      }
      List<Object> reply = redis.evalsha(sha, ScriptOutputType.MULTI, keys, argv);
      List<byte[]> taken = new ArrayList<>();
      for (Object o : reply.subList(4, reply.size())) {
        taken.add((byte[]) o);
      }
      if (taken.size() != perFetch) {
        throw new IllegalStateException(
            "fetch " + i + " took " + taken.size() + " messages, not " + perFetch);
      }
      acks = taken;
    }
    return ScriptCost.evalshaMicros(redis, fetches) / (double) ((long) fetches * perFetch);
  }

  /**
   * The keys RedisConsumer passes to the fetch script, read from the broker's {@code QueueKeys}
   * (package-private) by reflection, so the benchmark follows the script's order.
   */
  private static byte[][] keys() throws ReflectiveOperationException {
    Class<?> queueKeys = Class.forName("io.machinery.broker.redis.QueueKeys");
    Constructor<?> create = queueKeys.getDeclaredConstructor(String.class);
    create.setAccessible(true);
    Method fetchKeys = queueKeys.getDeclaredMethod("fetchKeys", String.class);
    fetchKeys.setAccessible(true);
    String[] keys = (String[]) fetchKeys.invoke(create.newInstance(QUEUE), CONSUMER);
    return Arrays.stream(keys).map(ScriptCost::bytes).toArray(byte[][]::new);
  }
}
