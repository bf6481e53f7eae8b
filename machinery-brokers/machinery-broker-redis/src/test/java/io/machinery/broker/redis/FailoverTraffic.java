package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * The traffic of the failover tests: a server (Redis broker and backend) with a worker that runs a
 * task counting its runs in memory (not in Redis, which is failing over), and a producer that sends
 * that task every {@value #PACE_MILLIS} ms on a virtual thread while a failover happens, recording
 * which sends were acknowledged and when, the sends that failed and the longest send.
 *
 * <p>Thread-safe: the worker's threads run the task, the producer's thread sends, and the test
 * reads the records meanwhile. {@link #close()} stops the producer and closes the server, the
 * backend and the broker.
 */
final class FailoverTraffic implements AutoCloseable {
  private static final long PACE_MILLIS = 2;

  /**
   * A short lease: messages a worker settled on the old primary after the promotion are back in the
   * new primary's processing list, and the stray sweep (every half lease) returns them.
   */
  private static final Duration LEASE = Duration.ofSeconds(4);

  /** A task whose send was acknowledged: its UUID and when the send returned (System.nanoTime). */
  record Sent(String uuid, long ackedAt) {}

  /** How long an acknowledged send of the producer took, and when it returned (System.nanoTime). */
  private record Took(long nanos, long ackedAt) {}

  private final RedisBroker broker;
  private final RedisBackend backend;
  private final Server server;
  private final Worker worker;
  private final Queue<Throwable> workerErrors = new ConcurrentLinkedQueue<>();
  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
  private final Map<String, Long> firstRunAt = new ConcurrentHashMap<>();
  private final Queue<Sent> acked = new ConcurrentLinkedQueue<>();
  private final Queue<Took> took = new ConcurrentLinkedQueue<>();
  private final Queue<Throwable> sendErrors = new ConcurrentLinkedQueue<>();
  private final Queue<Long> failedAt = new ConcurrentLinkedQueue<>();
  private final AtomicLong longestSend = new AtomicLong();
  private final AtomicBoolean stop = new AtomicBoolean();
  private @Nullable Thread producer;

  private FailoverTraffic(
      Config config, String workerName, UnaryOperator<RedisBroker.Builder> brokerSettings) {
    broker = brokerSettings.apply(RedisBroker.builder(config).leaseTimeout(LEASE)).build();
    backend = RedisBackend.create(config);
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask(
        FaultWork.TASK,
        TaskFunction.withContext(
            List.of(),
            false,
            (context, args) -> {
              String uuid = context.signature().uuid();
              firstRunAt.putIfAbsent(uuid, System.nanoTime());
              runs.computeIfAbsent(uuid, u -> new AtomicInteger()).incrementAndGet();
              LockSupport.parkNanos(FaultWork.WORK.toNanos());
              return null;
            }));
    worker =
        server.workerBuilder(workerName).concurrency(4).errorHandler(workerErrors::add).build();
  }

  /**
   * A server on {@code config} with the counting task, and a worker of four named {@code
   * workerName} that runs it, launched; the producer is not started yet.
   */
  static FailoverTraffic start(Config config, String workerName) {
    return start(config, workerName, UnaryOperator.identity());
  }

  /** {@link #start(Config, String)} with a broker that has {@code brokerSettings} too. */
  static FailoverTraffic start(
      Config config, String workerName, UnaryOperator<RedisBroker.Builder> brokerSettings) {
    FailoverTraffic traffic = new FailoverTraffic(config, workerName, brokerSettings);
    traffic.worker.launchAsync();
    return traffic;
  }

  /** The worker, running from {@link #start}. */
  Worker worker() {
    return worker;
  }

  /** The errors the worker reported to its error handler. */
  Queue<Throwable> workerErrors() {
    return workerErrors;
  }

  /** Sends one task, outside the producer; its UUID. */
  String send() {
    return server.sendTask(Signature.create(FaultWork.TASK)).signature().uuid();
  }

  /** Starts the producer; {@link #stopProducer()} stops it. */
  void startProducer() {
    producer =
        Thread.ofVirtual()
            .start(
                () -> {
                  while (!stop.get()) {
                    long start = System.nanoTime();
                    try {
                      String uuid = send();
                      long ackedAt = System.nanoTime();
                      acked.add(new Sent(uuid, ackedAt));
                      took.add(new Took(ackedAt - start, ackedAt));
                    } catch (MachineryException e) {
                      sendErrors.add(e);
                      failedAt.add(System.nanoTime());
                    }
                    longestSend.accumulateAndGet(System.nanoTime() - start, Math::max);
                    LockSupport.parkNanos(Duration.ofMillis(PACE_MILLIS).toNanos());
                  }
                });
  }

  /** Stops the producer and waits until its last send returned. */
  void stopProducer() throws InterruptedException {
    stop.set(true);
    Thread running = producer;
    if (running != null) {
      running.join();
    }
  }

  /** The producer's acknowledged sends, in the order they returned. */
  Queue<Sent> acked() {
    return acked;
  }

  /** How many of the producer's sends were acknowledged after {@code nanoTime}. */
  long ackedAfter(long nanoTime) {
    return acked.stream().filter(s -> s.ackedAt() > nanoTime).count();
  }

  /**
   * How long the producer's sends acknowledged between {@code from} and {@code to}
   * (System.nanoTime) took: their median, 90th and 99th percentiles and the longest, in ms.
   */
  String sendLatencies(long from, long to) {
    long[] nanos =
        took.stream()
            .filter(t -> t.ackedAt() >= from && t.ackedAt() <= to)
            .mapToLong(Took::nanos)
            .sorted()
            .toArray();
    if (nanos.length == 0) {
      return "no sends";
    }
    return String.format(
        java.util.Locale.ROOT,
        "%d sends: median %.2f ms, p90 %.2f ms, p99 %.2f ms, longest %.2f ms",
        nanos.length,
        nanos[nanos.length / 2] / 1e6,
        nanos[(int) (nanos.length * 0.9)] / 1e6,
        nanos[(int) (nanos.length * 0.99)] / 1e6,
        nanos[nanos.length - 1] / 1e6);
  }

  /**
   * How many of the producer's sends failed, and from when to when (ms after {@code origin},
   * System.nanoTime).
   */
  String failureSpan(long origin) {
    long first = failedAt.stream().mapToLong(Long::longValue).min().orElse(origin);
    long last = failedAt.stream().mapToLong(Long::longValue).max().orElse(origin);
    return failedAt.size()
        + " sends failed, from "
        + (first - origin) / 1_000_000
        + " ms to "
        + (last - origin) / 1_000_000
        + " ms after";
  }

  /** The producer's sends that failed. */
  Queue<Throwable> sendErrors() {
    return sendErrors;
  }

  /** The longest of the producer's sends, acknowledged or failed. */
  Duration longestSend() {
    return Duration.ofNanos(longestSend.get());
  }

  /**
   * How often the worker ran task {@code uuid}, and when first (ms after {@code origin},
   * System.nanoTime).
   */
  String runsOf(String uuid, long origin) {
    AtomicInteger count = runs.get(uuid);
    Long first = firstRunAt.get(uuid);
    return count == null || first == null
        ? "never ran"
        : "ran " + count.get() + " times, first " + (first - origin) / 1_000_000 + " ms after";
  }

  /** Whether the worker first ran task {@code uuid} before {@code nanoTime} (System.nanoTime). */
  boolean ranBefore(String uuid, long nanoTime) {
    Long first = firstRunAt.get(uuid);
    return first != null && first < nanoTime;
  }

  /** The UUIDs of the tasks that ran more than once. */
  List<String> ranTwice() {
    return runs.entrySet().stream()
        .filter(e -> e.getValue().get() > 1)
        .map(Map.Entry::getKey)
        .toList();
  }

  /**
   * Asserts that the only tasks that ran twice were on the old primary: sent, or first run, before
   * {@code nanoTime} ({@code which} says what that moment is). A task sent before it may have been
   * fetched there, ahead of its run, without the replica having the fetch yet: the new primary then
   * hands it out again (at-least-once), though its first run came after the moment.
   */
  void assertRanTwiceOnlyIfTakenBefore(long nanoTime, String which) {
    assertThat(ranTwice())
        .as("tasks that ran twice: only those %s", which)
        .allMatch(
            uuid ->
                firstRunAt.get(uuid) < nanoTime
                    || acked.stream()
                        .anyMatch(s -> s.uuid().equals(uuid) && s.ackedAt() < nanoTime));
  }

  /**
   * Asserts that every send of the producer that failed failed with an error naming Redis, and that
   * no send, refused or not, took {@code longest} or more.
   */
  void assertSendsFailedClearlyWithin(Duration longest) {
    assertThat(sendErrors)
        .as("sends refused during the failover, each with a clear error")
        .allSatisfy(e -> assertThat(e).hasMessageContaining("Redis"));
    assertThat(longestSend()).as("the longest send, refused or not").isLessThan(longest);
  }

  /**
   * Asserts that the worker goes on after the failover: 50 tasks sent now succeed (their states
   * read on {@code primary}) within {@code patience}, and the worker is still running; then stops
   * it.
   */
  void assertWorkerGoesOn(RedisSession primary, Duration patience) {
    List<String> later = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      later.add(send());
    }
    await()
        .atMost(patience)
        .until(() -> FaultWork.states(primary, later).getOrDefault(State.SUCCESS, 0) == 50);
    assertThat(worker.isRunning()).isTrue();
    worker.quit();
  }

  static List<String> uuids(Collection<Sent> sent) {
    return sent.stream().map(Sent::uuid).toList();
  }

  @Override
  public void close() {
    try {
      stopProducer();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      server.close();
    } finally {
      try {
        backend.close();
      } finally {
        broker.close();
      }
    }
  }
}
