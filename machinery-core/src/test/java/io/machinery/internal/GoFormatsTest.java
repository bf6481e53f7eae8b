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
    assertThat(GoJson.formatFloat(123456789012345678901.0, false))
        .isEqualTo("123456789012345680000");
    assertThat(GoJson.formatFloat(0.1f, true)).isEqualTo("0.1");
    assertThat(GoJson.formatFloat(-2.5, false)).isEqualTo("-2.5");
  }

  @Test
  void durationsParseAndFormatBackAsInGo() {
    for (String text :
        new String[] {
          "4h0m0s", "1.5s", "100ms", "1m30s", "1.5µs", "-2s", "2562047h47m16.854775807s"
        }) {
      assertThat(GoDurations.format(GoDurations.parse(text))).isEqualTo(text);
    }
    assertThat(GoDurations.parse("1h2m3.5s")).isEqualTo(Duration.ofMillis(3_723_500));
  }

  @Test
  void unixNanosIsOverflowCheckedAndRoundTrips() {
    java.time.Instant instant = java.time.Instant.parse("2025-01-02T03:04:05.123456789Z");
    assertThat(GoTime.unixNanos(instant)).isEqualTo(1_735_787_045_123_456_789L);
    assertThat(GoTime.fromUnixNanos(GoTime.unixNanos(instant))).isEqualTo(instant);
    java.time.Instant beforeEpoch = java.time.Instant.parse("1969-12-31T23:59:59.5Z");
    assertThat(GoTime.unixNanos(beforeEpoch)).isEqualTo(-500_000_000L);
    assertThat(GoTime.fromUnixNanos(-500_000_000L)).isEqualTo(beforeEpoch);
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> GoTime.unixNanos(java.time.Instant.parse("2262-04-12T00:00:00Z")))
        .isInstanceOf(ArithmeticException.class);
  }

  @Test
  void aHugeValueIsShownOnlyInPart() {
    String huge = "x".repeat(1 << 20);
    assertThat(GoTypes.show(java.util.List.of(huge)))
        .hasSize(GoTypes.MAX_SHOWN_CHARS + "…(1048578 characters)".length())
        .endsWith("…(1048578 characters)");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> GoTypes.toTyped("int64", huge))
        .satisfies(
            e -> assertThat(e.getMessage().length()).isLessThan(2 * GoTypes.MAX_SHOWN_CHARS));
    assertThat(GoTypes.show(java.util.List.of(1L, "a"))).isEqualTo("[1 a]");
  }
}
