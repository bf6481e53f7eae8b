package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
  @Test
  void doublesFromTheFirstDelayUpToTheCap() {
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));
    assertThat(backoff.delay(1)).isEqualTo(Duration.ofMillis(100));
    assertThat(backoff.delay(2)).isEqualTo(Duration.ofMillis(200));
    assertThat(backoff.delay(7)).isEqualTo(Duration.ofMillis(6400));
    assertThat(backoff.delay(8)).isEqualTo(Duration.ofSeconds(10));
    assertThat(backoff.delay(Integer.MAX_VALUE)).isEqualTo(Duration.ofSeconds(10));
    assertThat(backoff.delay(0)).isEqualTo(Duration.ofMillis(100));
  }

  @Test
  void neverOverflowsForLargeDelays() {
    Backoff backoff = new Backoff(Duration.ofDays(1), Duration.ofDays(1000));
    assertThat(backoff.delay(63)).isEqualTo(Duration.ofDays(1000));
    assertThat(new Backoff(Duration.ZERO, Duration.ZERO).delay(5)).isZero();
  }

  @Test
  void refusesACapBelowTheFirstDelay() {
    assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
