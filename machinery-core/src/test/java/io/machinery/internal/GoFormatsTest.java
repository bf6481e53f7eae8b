package io.machinery.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class GoFormatsTest {
  @Test
  void fibonacciDelaysStartAtOneSecond() {
    int[] expected = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89};
    int timeout = 0;
    for (int want : expected) {
      timeout = Fibonacci.next(timeout);
      assertThat(timeout).isEqualTo(want);
    }
    assertThat(Fibonacci.next(10)).isEqualTo(13);
  }

  @Test
  void durationsPrintAsGoPrintsThem() {
    assertThat(GoDurations.format(Duration.ofHours(4))).isEqualTo("4h0m0s");
    assertThat(GoDurations.format(Duration.ofMillis(1500))).isEqualTo("1.5s");
    assertThat(GoDurations.format(Duration.ofMillis(100))).isEqualTo("100ms");
    assertThat(GoDurations.format(Duration.ofSeconds(90))).isEqualTo("1m30s");
    assertThat(GoDurations.format(Duration.ZERO)).isEqualTo("0s");
    assertThat(GoDurations.format(Duration.ofNanos(1500))).isEqualTo("1.5µs");
  }

  @Test
  void floatsPrintAsGosEncodingJsonPrintsThem() {
    assertThat(GoJson.formatFloat(200, false)).isEqualTo("200");
    assertThat(GoJson.formatFloat(0.000001, false)).isEqualTo("0.000001");
    assertThat(GoJson.formatFloat(0.0000001, false)).isEqualTo("1e-7");
    assertThat(GoJson.formatFloat(1.5e300, false)).isEqualTo("1.5e+300");
    assertThat(GoJson.formatFloat(123456789012345678901.0, false)).isEqualTo("123456789012345680000");
    assertThat(GoJson.formatFloat(0.1f, true)).isEqualTo("0.1");
    assertThat(GoJson.formatFloat(-2.5, false)).isEqualTo("-2.5");
  }
}
