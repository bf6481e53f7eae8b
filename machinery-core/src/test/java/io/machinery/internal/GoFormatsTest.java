package io.machinery.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.SplittableRandom;
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

  @Test
  void timesPrintAsGosTimeMarshalJsonPrintsThem() {
    assertThat(GoJson.formatTime(at(2026, 11, 30, 10, 40, 54, 123_456_789, ZoneOffset.UTC)))
        .isEqualTo("2026-11-30T10:40:54.123456789Z");
    assertThat(GoJson.formatTime(at(2026, 11, 30, 10, 40, 54, 0, ZoneOffset.UTC)))
        .isEqualTo("2026-11-30T10:40:54Z");
    assertThat(GoJson.formatTime(at(2026, 1, 2, 3, 4, 5, 100_000_000, ZoneOffset.UTC)))
        .isEqualTo("2026-01-02T03:04:05.1Z");
    assertThat(GoJson.formatTime(at(1, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC))) // Go's zero time
        .isEqualTo("0001-01-01T00:00:00Z");
    assertThat(GoJson.formatTime(at(2026, 1, 2, 3, 4, 5, 1_000, ZoneOffset.ofHoursMinutes(5, 30))))
        .isEqualTo("2026-01-02T03:04:05.000001+05:30");
    assertThat(GoJson.formatTime(at(9999, 12, 31, 23, 59, 59, 10, ZoneOffset.ofHours(-7))))
        .isEqualTo("9999-12-31T23:59:59.00000001-07:00");
    // Go's layout has no seconds in the offset
    assertThat(
            GoJson.formatTime(
                at(2026, 1, 2, 3, 4, 5, 0, ZoneOffset.ofHoursMinutesSeconds(1, 2, 3))))
        .isEqualTo("2026-01-02T03:04:05+01:02");
    assertThatThrownBy(() -> GoJson.formatTime(at(10_000, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("year outside of range [0,9999]");
  }

  @Test
  void timesPrintAsTheFormatterDidForAnyInstantAndOffset() {
    // the formatter-based text this digit-by-digit writer replaced (same output, several times the
    // cost)
    DateTimeFormatter seconds = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss");
    SplittableRandom random = new SplittableRandom(18);
    for (int i = 0; i < 20_000; i++) {
      int nanos =
          switch (i % 4) {
            case 0 -> 0;
            case 1 -> random.nextInt(1_000) * 1_000_000;
            case 2 -> random.nextInt(1_000_000) * 1_000;
            default -> random.nextInt(1_000_000_000);
          };
      ZoneOffset offset =
          i % 3 == 0
              ? ZoneOffset.UTC
              : ZoneOffset.ofTotalSeconds(random.nextInt(-18 * 3600, 18 * 3600));
      OffsetDateTime time =
          OffsetDateTime.of(
              random.nextInt(0, 10_000),
              1 + random.nextInt(12),
              1 + random.nextInt(28),
              random.nextInt(24),
              random.nextInt(60),
              random.nextInt(60),
              nanos,
              offset);
      StringBuilder want = new StringBuilder(seconds.format(time));
      if (nanos != 0) {
        want.append('.').append(String.format("%09d", nanos).replaceAll("0+$", ""));
      }
      int total = offset.getTotalSeconds();
      want.append(
          total == 0
              ? "Z"
              : String.format(
                  "%s%02d:%02d",
                  total < 0 ? "-" : "+", Math.abs(total) / 3600, (Math.abs(total) / 60) % 60));
      assertThat(GoJson.formatTime(time)).as(time.toString()).isEqualTo(want.toString());
    }
  }

  private static OffsetDateTime at(
      int year, int month, int day, int hour, int minute, int second, int nanos, ZoneOffset z) {
    return OffsetDateTime.of(year, month, day, hour, minute, second, nanos, z);
  }
}
