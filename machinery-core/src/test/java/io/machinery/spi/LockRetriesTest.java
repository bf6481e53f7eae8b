package io.machinery.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.MachineryException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LockRetriesTest {
  /** A fake lock answering from a script: true, false, or a failure of its store. */
  private static final class ScriptedLock implements Lock {
    private final ArrayDeque<Object> answers;
    final AtomicInteger tries = new AtomicInteger();

    ScriptedLock(Object... answers) {
      this.answers = new ArrayDeque<>(List.of(answers));
    }

    @Override
    public boolean tryLock(String key, long expiresAtUnixNanos) {
      tries.incrementAndGet();
      Object next = answers.isEmpty() ? Boolean.FALSE : answers.removeFirst();
      if (next instanceof RuntimeException e) {
        throw e;
      }
      return (Boolean) next;
    }

    @Override
    public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
  }

  @Test
  void triesUntilOneTakesTheLockAndAFailureOfTheStoreCountsAsAFailedTry() {
    ScriptedLock lock =
        new ScriptedLock(false, new MachineryException("store down", null), true, true);
    assertThat(new LockRetries(3, Duration.ZERO).tryLock(lock, "k", 1)).isTrue();
    assertThat(lock.tries).hasValue(3);
  }

  @Test
  void givesUpAfterTheRetries() {
    ScriptedLock lock = new ScriptedLock();
    assertThat(new LockRetries(2, Duration.ZERO).tryLock(lock, "k", 1)).isFalse();
    assertThat(lock.tries).hasValue(3);
  }

  @Test
  void aStoreThatNoTryReachedIsAFailureNotALockHeldElsewhere() {
    ScriptedLock lock =
        new ScriptedLock(
            new MachineryException("store down 1", null),
            new MachineryException("store down 2", null),
            new MachineryException("store down 3", null));
    assertThatThrownBy(() -> new LockRetries(2, Duration.ZERO).tryLock(lock, "k", 1))
        .isInstanceOf(MachineryException.class)
        .hasMessage("store down 3");
    assertThat(lock.tries).hasValue(3);
  }

  @Test
  void aTryThatAnsweredOutweighsTheFailuresOfTheOthers() {
    ScriptedLock lock =
        new ScriptedLock(
            new MachineryException("store down", null),
            false,
            new MachineryException("store down", null));
    assertThat(new LockRetries(2, Duration.ZERO).tryLock(lock, "k", 1))
        .as("the store said the lock is held elsewhere")
        .isFalse();
  }

  @Test
  void anInterruptedCallerMakesNoFurtherTry() {
    ScriptedLock lock = new ScriptedLock(false, false, true);
    Thread.currentThread().interrupt();
    try {
      assertThat(new LockRetries(2, Duration.ZERO).tryLock(lock, "k", 1)).isFalse();
      assertThat(Thread.currentThread().isInterrupted()).as("the flag is kept").isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(lock.tries).hasValue(1);
  }

  @Test
  void refusesANegativeCountOrInterval() {
    assertThatThrownBy(() -> new LockRetries(-1, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new LockRetries(1, Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
