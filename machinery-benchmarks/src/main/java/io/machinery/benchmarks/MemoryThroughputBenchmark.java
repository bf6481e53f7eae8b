package io.machinery.benchmarks;

import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * No-op tasks through the memory broker, memory backend and a worker: sending (PENDING stored,
 * message encoded, queued) and draining (decode, RECEIVED, STARTED, call, SUCCESS, ack) in one JVM.
 * The baseline hands the same number of objects through a blocking queue to a consumer thread.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class MemoryThroughputBenchmark {
  static final int BATCH = 2_000;

  @Param({"1", "10", "100"})
  public int concurrency;

  private Server server;
  private final AtomicLong done = new AtomicLong();
  private BlockingQueue<Object> baselineQueue;
  private Thread baselineConsumer;
  private final AtomicLong baselineDone = new AtomicLong();

  @Setup(Level.Trial)
  public void setUp() {
    server = Server.builder().build();
    server.registerTask(
        "noop",
        TaskFunction.of(
            () -> {
              done.incrementAndGet();
              return null;
            }));
    server.newWorker("bench", concurrency).launchAsync();
    baselineQueue = new ArrayBlockingQueue<>(BATCH * 2);
    baselineConsumer =
        Thread.ofPlatform()
            .daemon()
            .start(
                () -> {
                  try {
                    while (true) {
                      baselineQueue.take();
                      baselineDone.incrementAndGet();
                    }
                  } catch (InterruptedException e) {
                    // end of trial
                  }
                });
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    server.close();
    baselineConsumer.interrupt();
  }

  /** Sends BATCH no-op tasks and waits until the worker finished them all. */
  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void sendAndDrainNoOpTasks() {
    long target = done.get() + BATCH;
    for (int i = 0; i < BATCH; i++) {
      server.sendTask(Signature.create("noop"));
    }
    while (done.get() < target) {
      Thread.onSpinWait();
    }
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void baselineHandOff() throws InterruptedException {
    long target = baselineDone.get() + BATCH;
    for (int i = 0; i < BATCH; i++) {
      baselineQueue.put(Boolean.TRUE);
    }
    while (baselineDone.get() < target) {
      Thread.onSpinWait();
    }
  }
}
