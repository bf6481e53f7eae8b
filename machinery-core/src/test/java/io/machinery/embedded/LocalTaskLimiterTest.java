package io.machinery.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.TaskLimit;
import io.machinery.spi.TaskLimiter.Decision;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class LocalTaskLimiterTest {
  private final ManualClock clock = ManualClock.at(Instant.parse("2026-01-01T00:00:00Z"));
  private final LocalTaskLimiter limiter = LocalTaskLimiter.create(clock);

  private void advance(Duration d) {
    clock.advance(d);
  }

  @Test
  void aRateAdmitsItsBurstThenOnePerIntervalAndSaysHowLongToWait() {
    TaskLimit limit = TaskLimit.builder().rate(10, Duration.ofSeconds(1)).burst(3).build();
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.tryAcquire("k", limit, "h" + i).admitted()).isTrue();
    }
    Decision refused = limiter.tryAcquire("k", limit, "h3");
    assertThat(refused.admitted()).isFalse();
    assertThat(refused.retryAfter()).isEqualTo(Duration.ofMillis(100));
    advance(Duration.ofMillis(99));
    assertThat(limiter.tryAcquire("k", limit, "h3").retryAfter()).isEqualTo(Duration.ofMillis(1));
    advance(Duration.ofMillis(1));
    assertThat(limiter.tryAcquire("k", limit, "h3").admitted()).isTrue();
    assertThat(limiter.tryAcquire("k", limit, "h4").admitted()).isFalse();
    // after an idle second the whole burst is back, no more
    advance(Duration.ofSeconds(1));
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.tryAcquire("k", limit, "b" + i).admitted()).isTrue();
    }
    assertThat(limiter.tryAcquire("k", limit, "b3").admitted()).isFalse();
    // another key has its own budget
    assertThat(limiter.tryAcquire("other", limit, "o").admitted()).isTrue();
  }

  @Test
  void aCapCountsHoldersUntilReleasedAndARefusalTakesNoRateToken() {
    TaskLimit limit =
        TaskLimit.builder().rate(1, Duration.ofSeconds(1)).burst(2).maxConcurrent(1).build();
    assertThat(limiter.tryAcquire("k", limit, "a")).isEqualTo(Decision.ADMITTED);
    assertThat(limiter.tryAcquire("k", limit, "b")).isEqualTo(Decision.FULL);
    assertThat(limiter.tryAcquire("k", limit, "b")).isEqualTo(Decision.FULL);
    limiter.release("k", limit, "a");
    // the refusals took no token: the second of the burst is still there
    assertThat(limiter.tryAcquire("k", limit, "b")).isEqualTo(Decision.ADMITTED);
    limiter.release("k", limit, "b");
    assertThat(limiter.keys()).isEqualTo(1); // the rate's arrival time; no holders left
  }

  @Test
  void releasingWhatIsNotHeldChangesNothing() {
    TaskLimit limit = TaskLimit.maxConcurrent(1);
    limiter.release("k", limit, "nobody");
    assertThat(limiter.tryAcquire("k", limit, "a").admitted()).isTrue();
    limiter.release("k", limit, "nobody");
    assertThat(limiter.tryAcquire("k", limit, "b").admitted()).isFalse();
  }
}
