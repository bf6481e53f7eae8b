package io.machinery.broker.redis;

import io.lettuce.core.KeyValue;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.TaskState;
import io.machinery.client.redis.RedisSession;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * The task the fault tests run: "work" stands for a short job (it parks a couple of milliseconds)
 * and counts each of its runs per task in the Redis hash {@code <runs key>}, so that a test can
 * tell lost tasks (no SUCCESS) from duplicated ones (more than one run).
 */
final class FaultWork {
  static final String TASK = "work";
  static final Duration WORK = Duration.ofMillis(2);

  private FaultWork() {}

  static void register(Server server, RedisSession redis, String runsKey) {
    server.registerTask(
        TASK,
        TaskFunction.withContext(
            List.of(),
            false,
            (context, args) -> {
              LockSupport.parkNanos(WORK.toNanos());
              redis.await(redis.commands().hincrby(runsKey, context.signature().uuid(), 1));
              return null;
            }));
  }

  /** How many of {@code uuids} are in each state (missing states count as null). */
  static Map<State, Integer> states(RedisSession redis, List<String> uuids) {
    Map<State, Integer> counts = new EnumMap<>(State.class);
    for (int from = 0; from < uuids.size(); from += 1000) {
      List<String> chunk = uuids.subList(from, Math.min(uuids.size(), from + 1000));
      List<KeyValue<String, byte[]>> values =
          redis.await(redis.commands().mget(chunk.toArray(new String[0])));
      for (KeyValue<String, byte[]> kv : values) {
        if (kv.hasValue()) {
          TaskState state = WireCodec.decodeTaskState(kv.getValue());
          counts.merge(state.state(), 1, Integer::sum);
        }
      }
    }
    return counts;
  }

  /** Tasks run more than once (at-least-once duplicates). */
  static int duplicates(RedisSession redis, String runsKey) {
    int duplicates = 0;
    for (byte[] runs : redis.await(redis.commands().hvals(runsKey))) {
      if (Long.parseLong(new String(runs, StandardCharsets.UTF_8)) > 1) {
        duplicates++;
      }
    }
    return duplicates;
  }

  static List<String> sendMany(Server server, int count) throws InterruptedException {
    return sendMany(server, count, i -> Signature.create(TASK));
  }

  /** {@code count} tasks, the {@code i}th built by {@code task}, sent from 32 virtual threads. */
  static List<String> sendMany(
      Server server, int count, java.util.function.IntFunction<Signature> task)
      throws InterruptedException {
    List<String> uuids = java.util.Collections.synchronizedList(new ArrayList<>(count));
    java.util.concurrent.atomic.AtomicInteger next =
        new java.util.concurrent.atomic.AtomicInteger();
    List<Thread> senders = new ArrayList<>();
    for (int t = 0; t < 32; t++) {
      senders.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    int i;
                    while ((i = next.getAndIncrement()) < count) {
                      uuids.add(server.sendTask(task.apply(i)).signature().uuid());
                    }
                  }));
    }
    for (Thread sender : senders) {
      sender.join();
    }
    return new ArrayList<>(uuids);
  }
}
