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
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Two servers that schedule the same periodic task {@code "tick"} on a manual clock, each with a
 * lock of its own making (a connection of its own to the shared lock store), over one in-JVM broker
 * and backend; the first runs a worker that counts the runs. What a lock's periodic test drives
 * tick by tick with {@link #runDueOnBoth()}. Each lock try is recorded with its timing ({@link
 * #lastTries()}), for a failure's message: a lock that lapses in its store's real time (RabbitMQ's
 * TTL, Redis's PX) lets a second server in when the two servers' tries come further apart than the
 * hold, and the record says whether they did. Closes what it made.
 */
public final class TwoSchedulers implements AutoCloseable {
  private final List<AutoCloseable> made = new ArrayList<>();
  private final List<Server> servers = new ArrayList<>();
  private final AtomicInteger executions = new AtomicInteger();
  private final Queue<String> tries = new ConcurrentLinkedQueue<>();
  private volatile long triesSince = System.nanoTime();

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
      Lock lock = two.new TimedLock("server " + i, two.closing(locks.get()));
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
    tries.clear();
    triesSince = System.nanoTime();
    List<CompletableFuture<List<PeriodicRun>>> both =
        servers.stream()
            .map(s -> CompletableFuture.supplyAsync(s.periodicScheduler()::runDue))
            .toList();
    return both.stream().flatMap(f -> f.join().stream()).toList();
  }

  /**
   * The lock tries of the last {@link #runDueOnBoth()}: which server, when it began and how long it
   * took (ms from the call, real time), and whether it took the lock.
   */
  public List<String> lastTries() {
    return List.copyOf(tries);
  }

  /** How many times the task ran. */
  public int executions() {
    return executions.get();
  }

  /** A server's lock, recording each try in {@link #tries}. */
  private final class TimedLock implements Lock {
    private final String server;
    private final Lock lock;

    TimedLock(String server, Lock lock) {
      this.server = server;
      this.lock = lock;
    }

    @Override
    public boolean tryLock(String key, long expiresAtUnixNanos) {
      return timed("tryLock", () -> lock.tryLock(key, expiresAtUnixNanos));
    }

    @Override
    public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
      return timed("tryLockWithRetries", () -> lock.tryLockWithRetries(key, expiresAtUnixNanos));
    }

    private boolean timed(String call, BooleanSupplier attempt) {
      long began = System.nanoTime();
      String outcome = "threw";
      try {
        boolean taken = attempt.getAsBoolean();
        outcome = Boolean.toString(taken);
        return taken;
      } finally {
        tries.add(
            String.format(
                "%s %s at +%d ms took %d ms: %s",
                server,
                call,
                (began - triesSince) / 1_000_000,
                (System.nanoTime() - began) / 1_000_000,
                outcome));
      }
    }

    @Override
    public void close() {
      lock.close();
    }
  }

  @Override
  public void close() throws Exception {
    for (AutoCloseable c : made.reversed()) {
      c.close();
    }
  }
}
