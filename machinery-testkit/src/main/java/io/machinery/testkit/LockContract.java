package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.internal.GoTime;
import io.machinery.spi.Lock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The contract every {@link Lock} passes (Go's periodic-task lock semantics). */
public abstract class LockContract {
  protected Lock lock;

  protected abstract Lock createLock();

  /**
   * The lock of another server that shares the store of {@link #lock} (a connection of its own, as
   * another process would have); closed by the test. By default a new {@link #createLock()}; an
   * in-process lock, whose store is the instance, returns {@link #lock} (closing it again is
   * harmless).
   */
  protected Lock createRival() {
    return createLock();
  }

  @BeforeEach
  void createLockUnderTest() {
    lock = createLock();
  }

  @AfterEach
  void closeLockUnderTest() {
    if (lock != null) { // null when setting up aborted (no server outside CI)
      lock.close();
    }
    List<String> made;
    synchronized (keys) {
      made = List.copyOf(keys);
      keys.clear();
    }
    if (!made.isEmpty()) {
      forget(made);
    }
  }

  /** How many fresh keys {@link #exactlyOneOfManyServersTakesEachKeyTheyRaceFor} races for. */
  private static final int RACE_ROUNDS = Integer.getInteger("machinery.lock.raceRounds", 200);

  private final List<String> keys = new ArrayList<>();

  /** A fresh key; {@link #forget} gets every key a test made. */
  protected final String key() {
    String key = "machinery_lock_kit_" + UUID.randomUUID();
    synchronized (keys) {
      keys.add(key);
    }
    return key;
  }

  /**
   * Removes what the keys a test took left in the store, when the store keeps it longer than the
   * lock (an AMQP lock's queue stays for a month); nothing by default.
   *
   * @param keys every key the test made
   */
  protected void forget(List<String> keys) {}

  protected static long nanosFromNow(Duration duration) {
    Instant at = Instant.now().plus(duration);
    return GoTime.unixNanos(at);
  }

  @Test
  void aHeldLockCannotBeTakenAgainUntilItExpires() {
    String key = key();
    assertThat(lock.tryLock(key, nanosFromNow(Duration.ofSeconds(30)))).isTrue();
    assertThat(lock.tryLock(key, nanosFromNow(Duration.ofSeconds(30)))).isFalse();
  }

  @Test
  void differentKeysAreIndependent() {
    assertThat(lock.tryLock(key(), nanosFromNow(Duration.ofSeconds(30)))).isTrue();
    assertThat(lock.tryLock(key(), nanosFromNow(Duration.ofSeconds(30)))).isTrue();
  }

  @Test
  void anExpiredLockCanBeTakenAgain() {
    String key = key();
    assertThat(lock.tryLock(key, nanosFromNow(Duration.ofMillis(300)))).isTrue();
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(50))
        .until(() -> lock.tryLock(key, nanosFromNow(Duration.ofSeconds(30))));
  }

  /**
   * Many servers (a lock each, so a connection each) race for one fresh key after another: each
   * time exactly one takes it. Each key is taken once and raced for by eight callers at once, so
   * seven are refused at the same moment: a refusal misread as success (as a client library's
   * confirm bookkeeping can under load, found in the AMQP lock) shows as a second winner.
   */
  @Test
  void exactlyOneOfManyServersTakesEachKeyTheyRaceFor() throws Exception {
    int servers = 4;
    int callersPerServer = 2;
    List<Lock> rivals = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(servers * callersPerServer);
    AtomicBoolean racing = new AtomicBoolean(true);
    List<Thread> busy = new ArrayList<>();
    for (int i = 0; i < Runtime.getRuntime().availableProcessors(); i++) {
      // a busy host: the clients' threads are preempted at any instruction, as in a loaded CI run
      busy.add(
          Thread.ofPlatform()
              .daemon()
              .name("lock-race-busy-" + i)
              .start(
                  () -> {
                    while (racing.get()) {
                      Thread.onSpinWait();
                    }
                  }));
    }
    try {
      for (int i = 1; i < servers; i++) {
        rivals.add(createRival());
      }
      List<Lock> locks = new ArrayList<>(rivals);
      locks.add(lock);
      List<String> doubleTaken = new ArrayList<>();
      for (int round = 0; round < RACE_ROUNDS; round++) {
        String key = key();
        long expiry = nanosFromNow(Duration.ofSeconds(30));
        List<Callable<Boolean>> calls = new ArrayList<>();
        for (Lock server : locks) {
          for (int c = 0; c < callersPerServer; c++) {
            calls.add(() -> server.tryLock(key, expiry));
          }
        }
        long winners = 0;
        for (Future<Boolean> result : pool.invokeAll(calls)) {
          if (result.get()) {
            winners++;
          }
        }
        if (winners != 1) {
          doubleTaken.add("round " + round + ": " + winners + " winners");
        }
      }
      assertThat(doubleTaken).as("rounds of %d without exactly one winner", RACE_ROUNDS).isEmpty();
    } finally {
      racing.set(false);
      for (Thread t : busy) {
        t.join();
      }
      pool.shutdownNow();
      rivals.forEach(Lock::close);
    }
  }

  @Test
  void exactlyOneOfManyConcurrentCallersGetsTheLock() throws Exception {
    String key = key();
    long expiry = nanosFromNow(Duration.ofSeconds(30));
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Callable<Boolean>> calls = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        calls.add(() -> lock.tryLock(key, expiry));
      }
      long winners = 0;
      for (Future<Boolean> result : pool.invokeAll(calls)) {
        if (result.get()) {
          winners++;
        }
      }
      assertThat(winners).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }
}
