package io.machinery.backend.dynamodb;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.TaskResult;
import java.math.BigInteger;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Go's {@code fmt.Sprintf("%v", v)} texts (checked against Go's fmt rules) and their way back by
 * type.
 */
class GoValuesTest {
  @Test
  void formatsValuesAsGosPercentV() {
    assertThat(GoValues.format(TaskResult.of(2L))).isEqualTo("2");
    assertThat(GoValues.format(TaskResult.of("bool", true))).isEqualTo("true");
    assertThat(GoValues.format(TaskResult.of("[]int64", List.of(1L, 2L)))).isEqualTo("[1 2]");
    assertThat(GoValues.format(TaskResult.of("[]string", List.of("a", "b")))).isEqualTo("[a b]");
    assertThat(GoValues.format(TaskResult.of("[]uint8", new byte[] {0, 1, (byte) 255})))
        .isEqualTo("[0 1 255]");
    assertThat(GoValues.format(TaskResult.of("uint64", new BigInteger("18446744073709551615"))))
        .isEqualTo("18446744073709551615");
  }

  @Test
  void floatsUseGosShortestGRule() {
    assertThat(GoValues.formatFloat(200.0, false)).isEqualTo("200");
    assertThat(GoValues.formatFloat(0.1, false)).isEqualTo("0.1");
    assertThat(GoValues.formatFloat(123456.0, false)).isEqualTo("123456");
    assertThat(GoValues.formatFloat(1_000_000.0, false)).isEqualTo("1e+06");
    assertThat(GoValues.formatFloat(1_234_567.0, false)).isEqualTo("1.234567e+06");
    assertThat(GoValues.formatFloat(0.0001, false)).isEqualTo("0.0001");
    assertThat(GoValues.formatFloat(0.00001, false)).isEqualTo("1e-05");
    assertThat(GoValues.formatFloat(-2.5e-300, false)).isEqualTo("-2.5e-300");
    assertThat(GoValues.formatFloat(3.14f, true)).isEqualTo("3.14");
  }

  @Test
  void readsTextsBackByType() {
    for (TaskResult result :
        List.of(
            TaskResult.of(Long.MIN_VALUE),
            TaskResult.of(0.1),
            TaskResult.of(1e21),
            TaskResult.of("string", "héllo wörld"),
            TaskResult.of("[]int32", List.of(-1, 7)))) {
      Object back =
          TaskResult.of(result.type(), GoValues.parse(result.type(), GoValues.format(result)))
              .typedValue();
      assertThat(back).isEqualTo(result.typedValue());
    }
    assertThat(
            (byte[]) TaskResult.of("[]uint8", GoValues.parse("[]uint8", "[0 1 255]")).typedValue())
        .containsExactly(0, 1, 255);
    assertThat(GoValues.parse("[]string", "[]")).isEqualTo(List.of());
  }
}
