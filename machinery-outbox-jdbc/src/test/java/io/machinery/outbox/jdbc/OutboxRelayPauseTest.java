package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The wait after a pass that published nothing ({@code OutboxRelay.idlePause}). */
class OutboxRelayPauseTest {
  private static final Duration POLL = Duration.ofMillis(200);
  private static final Duration MAX = Duration.ofSeconds(10);

  private static Duration after(Duration pass) {
    return OutboxRelay.idlePause(POLL, MAX, pass.toNanos());
  }

  @Test
  void aCheapPassWaitsThePollInterval() {
    assertThat(after(Duration.ofMillis(2))).isEqualTo(POLL);
    assertThat(after(Duration.ofMillis(50))).isEqualTo(POLL);
    assertThat(after(Duration.ZERO)).isEqualTo(POLL);
  }

  @Test
  void aCostlyPassWaitsFourTimesItsLengthSoIdlePassesTakeAFifthOfTheDatabase() {
    assertThat(after(Duration.ofMillis(364))).isEqualTo(Duration.ofMillis(1_456));
  }

  @Test
  void theWaitIsBoundedByTheLongestBackOffAndNeverShorterThanThePollInterval() {
    assertThat(after(Duration.ofSeconds(30))).isEqualTo(MAX);
    assertThat(OutboxRelay.idlePause(Duration.ofSeconds(20), MAX, Duration.ofSeconds(30).toNanos()))
        .isEqualTo(Duration.ofSeconds(20));
  }
}
