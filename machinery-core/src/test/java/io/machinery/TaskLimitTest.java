package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class TaskLimitTest {
  @Test
  void namedShortcutsAndDefaults() {
    TaskLimit rate = TaskLimit.rate(10, Duration.ofSeconds(1));
    assertThat(rate.interval()).isEqualTo(Duration.ofMillis(100));
    assertThat(rate.burst()).isEqualTo(10);
    assertThat(rate.maxConcurrent()).isZero();
    assertThat(rate.keyOf(Signature.create("send"))).isEqualTo("send");
    assertThat(TaskLimit.maxConcurrent(3).hasRate()).isFalse();
    assertThat(rate.keyedByTaskName()).isTrue();
    assertThat(TaskLimit.builder().maxConcurrent(1).key(s -> s.name()).build().keyedByTaskName())
        .as("any key function given counts per key, even one returning the name")
        .isFalse();
  }

  @Test
  void badValuesAreRefusedWithWhatToFix() {
    assertThatThrownBy(() -> TaskLimit.builder().build())
        .hasMessageContaining("needs a rate")
        .hasMessageContaining("or a cap");
    assertThatThrownBy(() -> TaskLimit.rate(0, Duration.ofSeconds(1)))
        .hasMessageContaining("at least 1");
    assertThatThrownBy(() -> TaskLimit.rate(10_000, Duration.ofSeconds(1)))
        .hasMessageContaining("less than PT0.001S between starts");
    assertThatThrownBy(() -> TaskLimit.builder().burst(2).maxConcurrent(1).build())
        .hasMessageContaining("burst needs a rate");
    assertThatThrownBy(() -> TaskLimit.maxConcurrent(0)).hasMessageContaining("at least 1");
  }

  @Test
  void aKeyFunctionReturningNothingUsableIsAClearError() {
    TaskLimit limit = TaskLimit.builder().maxConcurrent(1).key(s -> "").build();
    assertThatThrownBy(() -> limit.keyOf(Signature.create("send")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("limit key function of task send returned");
  }

  @Test
  void theWorkerBuilderRefusesASecondLimitAndABadDelay() {
    try (Server server = Server.builder().build()) {
      Worker.Builder b = server.workerBuilder("w").limit("send", TaskLimit.maxConcurrent(1));
      assertThatThrownBy(() -> b.limit("send", TaskLimit.maxConcurrent(2)))
          .hasMessageContaining("already has a limit");
      assertThatThrownBy(() -> b.maxLimitDelay(Duration.ofMillis(1)))
          .hasMessageContaining("maxLimitDelay must be from");
    }
  }

  @Test
  void aDeferralWaitsTheBackOffStepThatCoversTheHintAndIsBounded() {
    TaskLimits limits =
        new TaskLimits(
            java.util.Map.of(),
            io.machinery.embedded.LocalTaskLimiter.create(),
            Duration.ofMillis(800),
            "w");
    // 50 ms doubling: step 1 = 50, step 2 = 100, ...; the cap is 800
    assertThat(limits.delay(1, Duration.ZERO, 0)).isEqualTo(Duration.ofMillis(50));
    assertThat(limits.delay(2, Duration.ZERO, 0)).isEqualTo(Duration.ofMillis(100));
    assertThat(limits.delay(1, Duration.ofMillis(130), 0)).isEqualTo(Duration.ofMillis(200));
    assertThat(limits.delay(1, Duration.ofMillis(130), 2)).isEqualTo(Duration.ofMillis(250));
    assertThat(limits.delay(30, Duration.ZERO, 2)).isEqualTo(Duration.ofMillis(1000));
    assertThat(limits.delay(1, Duration.ofHours(1), 0)).isEqualTo(Duration.ofMillis(800));
  }
}
