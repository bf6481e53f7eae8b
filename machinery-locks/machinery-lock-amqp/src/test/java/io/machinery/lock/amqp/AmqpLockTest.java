package io.machinery.lock.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class AmqpLockTest {
  /**
   * A lock ends a tenth early, at most a second, so that it has lapsed when the next tick comes.
   */
  @Test
  void aLockIsHeldATenthShorterAtMostOneSecondAndAtMostThirtyDays() {
    assertThat(AmqpLock.holdMillis(Duration.ofMillis(500))).isEqualTo(450);
    assertThat(AmqpLock.holdMillis(Duration.ofSeconds(5))).isEqualTo(4_500);
    assertThat(AmqpLock.holdMillis(Duration.ofMinutes(1).minusNanos(1))).isEqualTo(58_999);
    assertThat(AmqpLock.holdMillis(Duration.ofDays(365))).isEqualTo(AmqpLock.MAX_HOLD.toMillis());
    assertThat(AmqpLock.holdMillis(Duration.ofNanos(5))).isEqualTo(1);
  }

  @Test
  void aUrlThatIsNoAmqpUrlIsRefused() {
    assertThatThrownBy(
            () -> AmqpLock.create(Config.builder().lock("redis://127.0.0.1:6379").build()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
