package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TaskProgressTest {
  private static final Instant AT = Instant.parse("2026-11-30T04:05:06.123Z");

  @Test
  void roundTripsThroughItsJson() {
    TaskProgress progress = new TaskProgress(42.5, "copying \"files\" <é>", AT);
    assertThat(new String(progress.toJson(), StandardCharsets.UTF_8))
        .isEqualTo(
            "{\"Percent\":42.5,\"Message\":\"copying \\\"files\\\" \\u003cé\\u003e\",\"ReportedAt\":\"2026-11-30T04:05:06.123Z\"}");
    assertThat(TaskProgress.fromJson(progress.toJson())).isEqualTo(progress);
  }

  @Test
  void aFractionOfStepsIsAPercentage() {
    assertThat(TaskProgress.of(3, 4, "", AT).percent()).isEqualTo(75.0);
    assertThat(TaskProgress.of(3, 4, "", AT).fraction()).isEqualTo(0.75);
  }

  @Test
  void refusesValuesOutsideTheRange() {
    assertThatThrownBy(() -> new TaskProgress(100.5, "", AT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("from 0 to 100");
    assertThatThrownBy(() -> new TaskProgress(Double.NaN, "", AT))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TaskProgress.of(5, 4, "", AT))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> new TaskProgress(1, "x".repeat(TaskProgress.MAX_MESSAGE_LENGTH + 1), AT))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at most 512");
  }

  @Test
  void somethingElseInTheKeyIsAClearError() {
    assertThatThrownBy(() -> TaskProgress.fromJson("[1]".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("Could not read a task progress");
  }
}
