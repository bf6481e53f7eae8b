package io.machinery.lock.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.MachineryException;
import io.machinery.config.Config;
import io.machinery.internal.GoTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AmqpLockTest {
  /** A lock ends at its expiry, never before (to the millisecond above), and within 30 days. */
  @Test
  void aLockIsHeldTheTimeLeftRoundedUpToTheMillisecondAndAtMostThirtyDays() {
    assertThat(AmqpLock.holdMillis(Duration.ofMillis(500))).isEqualTo(500);
    assertThat(AmqpLock.holdMillis(Duration.ofMinutes(1).minusNanos(1))).isEqualTo(60_000);
    assertThat(AmqpLock.holdMillis(Duration.ofMillis(1).plusNanos(1))).isEqualTo(2);
    assertThat(AmqpLock.holdMillis(Duration.ofDays(365))).isEqualTo(AmqpLock.MAX_HOLD.toMillis());
    assertThat(AmqpLock.holdMillis(Duration.ofNanos(5))).isEqualTo(1);
  }

  /**
   * A try cut short by an interrupt (the scheduler closing) is not retried: its failure is thrown
   * at once, the flag kept. The clock is read once at the start of each try.
   */
  @Test
  void anInterruptedTryIsNotRetried() {
    AtomicInteger tries = new AtomicInteger();
    Clock counting =
        new Clock() {
          @Override
          public Instant instant() {
            tries.incrementAndGet();
            return Instant.now();
          }

          @Override
          public ZoneId getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(ZoneId zone) {
            return this;
          }
        };
    try (AmqpLock lock =
        AmqpLock.builder(Config.builder().lock("amqp://guest:guest@127.0.0.1:1/").build())
            .clock(counting)
            .retries(3)
            .retryInterval(Duration.ZERO)
            .build()) {
      long expiry = GoTime.unixNanos(Instant.now().plusSeconds(60));
      Thread.currentThread().interrupt();
      try {
        assertThatThrownBy(() -> lock.tryLockWithRetries("k", expiry))
            .isInstanceOf(MachineryException.class)
            .hasMessageContaining("interrupted");
        assertThat(Thread.currentThread().isInterrupted()).as("the flag is kept").isTrue();
      } finally {
        Thread.interrupted();
      }
      assertThat(tries).as("tries").hasValue(1);
    }
  }

  @Test
  void aUrlThatIsNoAmqpUrlIsRefused() {
    assertThatThrownBy(
            () -> AmqpLock.create(Config.builder().lock("redis://127.0.0.1:6379").build()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
