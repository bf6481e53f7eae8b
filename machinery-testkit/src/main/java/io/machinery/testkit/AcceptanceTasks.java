package io.machinery.testkit;

import io.machinery.BatchPolicy;
import io.machinery.RetryTaskLaterException;
import io.machinery.Server;
import io.machinery.TaskFunction;
import io.machinery.TaskResults;
import io.machinery.internal.GoTime;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

/**
 * The tasks of Go Machinery's integration suite (spec §7.1), plus the interop extras, under Go's
 * names. Counters are per instance, so each test gets fresh ones.
 */
public final class AcceptanceTasks {
  /** How long {@code retry_later} asks to wait on its first call. */
  public static final Duration RETRY_LATER_DELAY = Duration.ofMillis(200);

  /** When {@code batched_square} (a {@link TaskFunction#batched} task) runs a batch. */
  public static final BatchPolicy BATCH = BatchPolicy.of(4, Duration.ofMillis(500));

  private final ConcurrentHashMap<String, AtomicLong> calls = new ConcurrentHashMap<>();
  private final AtomicLong noops = new AtomicLong();
  private final List<Integer> batchSizes = new CopyOnWriteArrayList<>();
  private final ConcurrentHashMap<String, List<String>> undone = new ConcurrentHashMap<>();

  public void registerWith(Server server) {
    server.registerTask(
        "add", TaskFunction.varargs(long[].class, args -> LongStream.of(args).sum()));
    server.registerTask(
        "multiply",
        TaskFunction.varargs(long[].class, args -> LongStream.of(args).reduce(1, (a, b) -> a * b)));
    server.registerTask(
        "sum", TaskFunction.of(long[].class, numbers -> LongStream.of(numbers).sum()));
    server.registerTask(
        "return_just_error",
        TaskFunction.of(
            String.class,
            Boolean.class,
            (msg, fail) -> {
              if (fail) {
                throw new RuntimeException(msg);
              }
              return null;
            }));
    server.registerTask(
        "return_multiple_values",
        TaskFunction.of(
            String.class,
            String.class,
            Boolean.class,
            (a1, a2, fail) -> {
              if (fail) {
                throw new RuntimeException("some error");
              }
              return TaskResults.of(a1, a2);
            }));
    server.registerTask(
        "panic",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("oops");
            }));
    server.registerTask(
        "delay_test",
        TaskFunction.of(
            () -> {
              Instant now = Instant.now();
              return GoTime.unixNanos(now);
            }));
    server.registerTask("echo_bytes", TaskFunction.of(byte[].class, b -> b));
    server.registerTask(
        "echo_uint64",
        TaskFunction.of(BigInteger.class, v -> io.machinery.TaskResult.of("uint64", v)));
    server.registerTask("echo_int64", TaskFunction.of(Long.class, v -> v));
    server.registerTask(
        "fail_n_times",
        TaskFunction.of(
            String.class,
            Long.class,
            (key, n) -> {
              long call = counter(key).incrementAndGet();
              if (call <= n) {
                throw new RuntimeException("failing attempt " + call);
              }
              return "ok";
            }));
    server.registerTask(
        "retry_later",
        TaskFunction.of(
            String.class,
            key -> {
              if (counter(key).incrementAndGet() == 1) {
                throw new RetryTaskLaterException("later", RETRY_LATER_DELAY);
              }
              return "done";
            }));
    server.registerTask("record_error", TaskFunction.of(String.class, msg -> msg));
    server.registerTask(
        "undo",
        TaskFunction.of(
            String.class,
            String.class,
            Long.class,
            (key, label, stepResult) -> {
              String entry = label + ":" + stepResult;
              undone.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(entry);
              if (label.equals("fail")) {
                throw new RuntimeException("cannot undo " + stepResult);
              }
              return entry;
            }));
    server.registerTask(
        "noop",
        TaskFunction.of(
            () -> {
              noops.incrementAndGet();
              return null;
            }));
    server.registerTask(
        "batched_square",
        TaskFunction.batched(
            Long.class,
            BATCH,
            numbers -> {
              batchSizes.add(numbers.size());
              return numbers.stream().map(n -> n * n).toList();
            }));
  }

  /** The sizes of the batches {@code batched_square} ran, in order. */
  public List<Integer> batchSizes() {
    return List.copyOf(batchSizes);
  }

  /** How often a keyed task ({@code fail_n_times}, {@code retry_later}) ran. */
  public long calls(String key) {
    return counter(key).get();
  }

  /**
   * What {@code undo} (a saga's compensation: a key, a label and the undone step's result) was
   * called with under one key, as {@code label:result}, in call order.
   */
  public List<String> undone(String key) {
    return List.copyOf(undone.getOrDefault(key, List.of()));
  }

  public long noops() {
    return noops.get();
  }

  private AtomicLong counter(String key) {
    return calls.computeIfAbsent(key, k -> new AtomicLong());
  }
}
