package io.machinery.testkit;

import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.periodic.PeriodicConfig;
import io.machinery.periodic.PeriodicRun;
import io.machinery.spi.Lock;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Two servers that schedule the same periodic task {@code "tick"} on a manual clock, each with a
 * lock of its own making (a connection of its own to the shared lock store), over one in-JVM broker
 * and backend; the first runs a worker that counts the runs. What a lock's periodic test drives
 * tick by tick with {@link #runDueOnBoth()}. Closes what it made.
 */
public final class TwoSchedulers implements AutoCloseable {
  private final List<AutoCloseable> made = new ArrayList<>();
  private final List<Server> servers = new ArrayList<>();
  private final AtomicInteger executions = new AtomicInteger();

  private TwoSchedulers() {}

  /**
   * Starts the two servers.
   *
   * @param clock the clock of both servers (give the locks the same one)
   * @param spec the periodic task's spec
   * @param name the periodic task's name
   * @param locks makes each server's lock
   * @return the servers, scheduling; their program name is a fresh one, so runs never meet
   */
  public static TwoSchedulers start(
      ManualClock clock, String spec, String name, Supplier<? extends Lock> locks) {
    TwoSchedulers two = new TwoSchedulers();
    PeriodicConfig periodic =
        PeriodicConfig.builder()
            .programName("periodic-it-" + UUID.randomUUID())
            .zone(ZoneOffset.UTC)
            .backgroundThread(false)
            .build();
    MemoryBroker broker = two.closing(MemoryBroker.create(Config.DEFAULT, clock));
    MemoryBackend backend = two.closing(MemoryBackend.create(Config.DEFAULT, clock));
    for (int i = 0; i < 2; i++) {
      Lock lock = two.closing(locks.get());
      Server server =
          two.closing(
              Server.builder()
                  .clock(clock)
                  .broker(broker)
                  .backend(backend)
                  .lock(lock)
                  .periodic(periodic)
                  .build());
      server.registerTask("tick", TaskFunction.of(two.executions::incrementAndGet));
      server.registerPeriodicTask(spec, name, Signature.create("tick"));
      two.servers.add(server);
    }
    two.servers.get(0).newWorker("worker", 2).launchAsync();
    return two;
  }

  private <T extends AutoCloseable> T closing(T resource) {
    made.add(resource);
    return resource;
  }

  /** The key both servers lock for the periodic task. */
  public String lockKey() {
    return servers.get(0).periodicEntries().get(0).lockKey();
  }

  /** Runs what is due on both servers at once; their runs together. */
  public List<PeriodicRun> runDueOnBoth() {
    List<CompletableFuture<List<PeriodicRun>>> both =
        servers.stream()
            .map(s -> CompletableFuture.supplyAsync(s.periodicScheduler()::runDue))
            .toList();
    return both.stream().flatMap(f -> f.join().stream()).toList();
  }

  /** How many times the task ran. */
  public int executions() {
    return executions.get();
  }

  @Override
  public void close() throws Exception {
    for (AutoCloseable c : made.reversed()) {
      c.close();
    }
  }
}
