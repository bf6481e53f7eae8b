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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The contract every {@link Lock} passes (Go's periodic-task lock semantics). */
public abstract class LockContract {
  protected Lock lock;

  protected abstract Lock createLock();

  @BeforeEach
  void createLockUnderTest() {
    lock = createLock();
  }

  @AfterEach
  void closeLockUnderTest() {
    if (lock != null) { // null when setting up aborted (no server outside CI)
      lock.close();
    }
  }

  protected static String key() {
    return "machinery_lock_kit_" + UUID.randomUUID();
  }

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
