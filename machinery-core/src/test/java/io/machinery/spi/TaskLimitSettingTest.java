package io.machinery.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.TaskLimit;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The numbers an operator sets, checked as {@link TaskLimit.Builder} checks them, and their JSON.
 */
class TaskLimitSettingTest {

  @Test
  void settingsMakeTheLimitsTheySay() {
    TaskLimit rate =
        TaskLimitSetting.rate(10, Duration.ofSeconds(1))
            .withBurst(3)
            .withMaxConcurrent(2)
            .toLimit(signature -> "host");
    assertThat(rate.interval()).isEqualTo(Duration.ofMillis(100));
    assertThat(rate.burst()).isEqualTo(3);
    assertThat(rate.maxConcurrent()).isEqualTo(2);
    assertThat(rate.keyOf(Signature.create("anything"))).isEqualTo("host");

    TaskLimit cap = TaskLimitSetting.maxConcurrent(4).toLimit(Signature::name);
    assertThat(cap.hasRate()).isFalse();
    assertThat(cap.maxConcurrent()).isEqualTo(4);
    assertThat(TaskLimitSetting.rate(5, Duration.ofMinutes(1)).toLimit(Signature::name).burst())
        .as("the burst defaults to the permits")
        .isEqualTo(5);

    assertThat(TaskLimitSetting.rate(10, Duration.ofSeconds(1)).withMaxConcurrent(2).describe())
        .isEqualTo("10 per 1s, burst 10, at most 2 at once");
    assertThat(TaskLimitSetting.maxConcurrent(1).describe()).isEqualTo("at most 1 at once");
  }

  @Test
  void numbersThatMakeNoLimitAreRefused() {
    assertThatThrownBy(() -> new TaskLimitSetting(0, Duration.ZERO, 0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("needs a rate");
    assertThatThrownBy(() -> new TaskLimitSetting(0, Duration.ZERO, 5, 1))
        .hasMessageContaining("burst needs a rate");
    assertThatThrownBy(() -> new TaskLimitSetting(-1, Duration.ofSeconds(1), 0, 0))
        .hasMessageContaining("cannot be negative");
    assertThatThrownBy(() -> new TaskLimitSetting(1, Duration.ofSeconds(-1), 0, 0))
        .hasMessageContaining("cannot be negative");
    assertThatThrownBy(() -> new TaskLimitSetting(0, Duration.ofSeconds(1), 0, 0))
        .hasMessageContaining("rate permits must be at least 1");
    assertThatThrownBy(() -> TaskLimitSetting.rate(10_000, Duration.ofSeconds(1)))
        .hasMessageContaining("leaves less than");
    assertThatThrownBy(() -> TaskLimitSetting.maxConcurrent(0)).hasMessageContaining("at least 1");
    assertThatThrownBy(() -> TaskLimitSetting.maxConcurrent(1).withBurst(2))
        .hasMessageContaining("burst needs a rate");
  }

  @Test
  void theJsonRoundTripsAndAnythingElseIsAClearError() {
    TaskLimitSetting setting =
        TaskLimitSetting.rate(3, Duration.ofMillis(1500)).withBurst(1).withMaxConcurrent(7);
    assertThat(TaskLimitSetting.fromJson(setting.toJson())).isEqualTo(setting);
    assertThat(new String(setting.toJson(), StandardCharsets.UTF_8))
        .isEqualTo("{\"ratePermits\":3,\"ratePeriodMillis\":1500,\"burst\":1,\"maxConcurrent\":7}");

    for (String bad :
        new String[] {
          "not json",
          "[]",
          "{\"ratePermits\":3}",
          "{\"ratePermits\":\"3\",\"ratePeriodMillis\":1000,\"burst\":0,\"maxConcurrent\":0}",
          "{\"ratePermits\":1e20,\"ratePeriodMillis\":1000,\"burst\":0,\"maxConcurrent\":0}",
          "{\"ratePermits\":9999999999,\"ratePeriodMillis\":1000,\"burst\":0,\"maxConcurrent\":0}",
          "{\"ratePermits\":0,\"ratePeriodMillis\":0,\"burst\":0,\"maxConcurrent\":0}"
        }) {
      assertThatThrownBy(() -> TaskLimitSetting.fromJson(bad.getBytes(StandardCharsets.UTF_8)))
          .as(bad)
          .isInstanceOf(MalformedMessageException.class)
          .hasMessageStartingWith("not a task limit setting");
    }
    assertThatThrownBy(
            () -> TaskLimitSetting.fromJson(new byte[TaskLimitSetting.MAX_JSON_BYTES + 1]))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("over the limit");
  }
}
