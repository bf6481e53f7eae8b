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

  private final RedisBroker broker;
  private final RedisBackend backend;
  private final Server server;
  private final Worker worker;
  private final Queue<Throwable> workerErrors = new ConcurrentLinkedQueue<>();
  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
  private final Map<String, Long> firstRunAt = new ConcurrentHashMap<>();
  private final Queue<Sent> acked = new ConcurrentLinkedQueue<>();
  private final Queue<Throwable> sendErrors = new ConcurrentLinkedQueue<>();
  private final AtomicLong longestSend = new AtomicLong();
  private final AtomicBoolean stop = new AtomicBoolean();
  private @Nullable Thread producer;

  private FailoverTraffic(Config config, String workerName) {
    broker = RedisBroker.builder(config).leaseTimeout(LEASE).build();
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
    FailoverTraffic traffic = new FailoverTraffic(config, workerName);
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
                      acked.add(new Sent(uuid, System.nanoTime()));
                    } catch (MachineryException e) {
                      sendErrors.add(e);
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

  /** The producer's sends that failed. */
  Queue<Throwable> sendErrors() {
    return sendErrors;
  }

  /** The longest of the producer's sends, acknowledged or failed. */
  Duration longestSend() {
    return Duration.ofNanos(longestSend.get());
  }

  /** The UUIDs of the tasks that ran more than once. */
  List<String> ranTwice() {
    return runs.entrySet().stream()
        .filter(e -> e.getValue().get() > 1)
        .map(Map.Entry::getKey)
        .toList();
  }

  /**
   * Asserts that the only tasks that ran twice first ran before {@code nanoTime} ({@code which}
   * says what that moment is).
   */
  void assertRanTwiceOnlyIfFirstRunBefore(long nanoTime, String which) {
    assertThat(ranTwice())
        .as("tasks that ran twice: only those %s", which)
        .allMatch(uuid -> firstRunAt.get(uuid) < nanoTime);
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
