package io.machinery.periodic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.machinery.internal.GoDurations;
import java.io.InputStream;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Replays {@code robfig-cron-v3.json}, written by robfig/cron v3.0.1 itself (see {@code
 * robfig-cron-v3-generator.go} beside it): every spec Go accepts is accepted, every spec Go refuses
 * is refused, and the next fire times agree to the second in five zones, across daylight-saving
 * changes.
 */
class ScheduleTest {

  @Test
  void agreesWithRobfigOnEverySpecInTheFixture() throws Exception {
    JsonNode fixture;
    try (InputStream in = ScheduleTest.class.getResourceAsStream("robfig-cron-v3.json")) {
      fixture = new ObjectMapper().readTree(in);
    }
    List<ZoneId> zones = new ArrayList<>();
    fixture.get("zones").forEach(z -> zones.add(ZoneId.of(z.asText())));
    List<LocalDateTime> starts = new ArrayList<>();
    fixture.get("starts").forEach(s -> starts.add(LocalDateTime.parse(s.asText())));
    List<String> mismatches = new ArrayList<>();
    int compared = 0;
    for (JsonNode entry : fixture.get("specs")) {
      String spec = entry.get("spec").asText();
      if (entry.has("error")) {
        try {
          Schedule.parse(spec);
          mismatches.add(
              "accepted \"" + spec + "\", which Go refuses: " + entry.get("error").asText());
        } catch (IllegalArgumentException expected) {
          assertThat(expected.getMessage()).startsWith("invalid periodic spec \"" + spec + "\": ");
        }
        continue;
      }
      Schedule schedule;
      try {
        schedule = Schedule.parse(spec);
      } catch (IllegalArgumentException e) {
        mismatches.add("refused \"" + spec + "\", which Go accepts: " + e.getMessage());
        continue;
      }
      JsonNode next = entry.get("next");
      int run = 0;
      for (ZoneId zone : zones) {
        for (LocalDateTime start : starts) {
          ZonedDateTime t =
              Schedule.GoTime.date(
                  start.getYear(),
                  start.getMonthValue(),
                  start.getDayOfMonth(),
                  start.getHour(),
                  start.getMinute(),
                  start.getSecond(),
                  start.getNano(),
                  zone);
          List<Long> actual = new ArrayList<>();
          for (int i = 0; i < next.get(run).size(); i++) {
            t = schedule.next(t);
            if (t == null) {
              actual.add(0L);
              break;
            }
            assertThat(t.getZone()).isEqualTo(zone);
            actual.add(t.toEpochSecond());
          }
          List<Long> expected = new ArrayList<>();
          next.get(run).forEach(n -> expected.add(n.asLong()));
          if (!actual.equals(expected)) {
            mismatches.add(
                "\""
                    + spec
                    + "\" from "
                    + start
                    + " "
                    + zone
                    + ": Go "
                    + expected
                    + ", Java "
                    + actual);
          }
          compared++;
          run++;
        }
      }
    }
    if (!mismatches.isEmpty()) {
      fail(mismatches.size() + " mismatches with robfig/cron:\n" + String.join("\n", mismatches));
    }
    assertThat(compared).isGreaterThan(3000);
  }

  @Test
  void domAndDowAreOrWhenBothAreRestrictedAndAndWhenEitherIsAStar() {
    ZonedDateTime start = ZonedDateTime.of(2024, 9, 1, 0, 0, 0, 0, ZoneId.of("UTC"));
    // Go: the 13th OR a Friday
    assertThat(nextDays("0 0 13 * 5", start, 4)).containsExactly(6, 13, 20, 27);
    // Go: "*" (or "?", or "*/1") in either day field means the other one alone decides
    assertThat(nextDays("0 0 13 * *", start, 2)).containsExactly(13, 13);
    assertThat(nextDays("0 0 ? * 5", start, 2)).containsExactly(6, 13);
    assertThat(nextDays("0 0 13 * */1", start, 2)).containsExactly(13, 13);
  }

  private static List<Integer> nextDays(String spec, ZonedDateTime start, int n) {
    Schedule schedule = Schedule.parse(spec);
    List<Integer> days = new ArrayList<>();
    ZonedDateTime t = start;
    for (int i = 0; i < n; i++) {
      t = schedule.next(t);
      days.add(t.getDayOfMonth());
    }
    return days;
  }

  @Test
  void aTimeZonePrefixWinsOverTheZoneOfTheReferenceTime() {
    Schedule tokyo = Schedule.parse("CRON_TZ=Asia/Tokyo 0 9 * * *");
    ZonedDateTime next =
        tokyo.next(ZonedDateTime.of(2024, 1, 1, 0, 0, 0, 0, ZoneId.of("Europe/Paris")));
    assertThat(next.getZone()).isEqualTo(ZoneId.of("Europe/Paris"));
    assertThat(next.withZoneSameInstant(ZoneId.of("Asia/Tokyo")).toLocalDateTime())
        .isEqualTo(LocalDateTime.of(2024, 1, 1, 9, 0));
    assertThat(tokyo.zone()).isEqualTo(ZoneId.of("Asia/Tokyo"));
    assertThat(Schedule.parse("TZ=Local @daily").zone()).isNull();
  }

  @Test
  void everyIsRoundedDownToWholeSecondsAndCountsFromTheReferenceTime() {
    assertThat(Schedule.parse("@every 1m30s")).isEqualTo(new Schedule.Every(90));
    assertThat(Schedule.parse("@every 1.9s")).isEqualTo(new Schedule.Every(1));
    assertThat(Schedule.parse("@every 500ms")).isEqualTo(new Schedule.Every(1));
    assertThat(Schedule.parse("@every 2h")).isEqualTo(new Schedule.Every(7200));
    ZonedDateTime t = ZonedDateTime.of(2024, 1, 1, 0, 0, 10, 250_000_000, ZoneId.of("UTC"));
    assertThat(Schedule.parse("@every 1m30s").next(t)).isEqualTo(t.withNano(0).plusSeconds(90));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      textBlock =
          """
      ''                          | empty spec string
      * * * *                     | expected exactly 5 fields (minute hour day-of-month month day-of-week), found 4
      60 * * * *                  | minute field "60" (0-59): end of range (60) above maximum (59): 60
      * 24 * * *                  | hour field "24" (0-23): end of range (24) above maximum (23)
      * * 0 * *                   | day-of-month field "0" (1-31): beginning of range (0) below minimum (1)
      * * * 13 *                  | month field "13" (1-12): end of range (13) above maximum (12)
      0 0 * * 7                   | day-of-week field "7" (0-6): end of range (7) above maximum (6)
      0 0 * * FRI-MON             | day-of-week field "FRI-MON" (0-6): beginning of range (5) beyond end of range (1)
      */0 * * * *                 | minute field "*/0" (0-59): step of range should be a positive number
      0 0 * * 1#2                 | day-of-week field "1#2" (0-6): "1#2" is not a number or a day name (SUN-SAT)
      0 0 * JANUARY *             | month field "JANUARY" (1-12): "JANUARY" is not a number or a month name (JAN-DEC)
      0 0 L * *                   | day-of-month field "L" (1-31): "L" is not a number
      @reboot                     | unrecognized descriptor @reboot
      @every 1x                   | failed to parse the @every duration: time: unknown unit "x" in duration "1x"
      @every 1                    | time: missing unit in duration "1"
      CRON_TZ=Nowhere/City @daily | unknown time zone "Nowhere/City"
      TZ=UTC                      | a TZ= prefix must be followed by a space and the schedule
      """)
  void anInvalidSpecIsRefusedWithAMessageThatNamesTheFieldAndValue(String spec, String message) {
    assertThatThrownBy(() -> Schedule.parse(spec))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("invalid periodic spec \"" + spec + "\": ")
        .hasMessageContaining(message);
  }

  @Test
  void goDurationsParseAsGoParsesThem() {
    assertThat(GoDurations.parseNanos("1h2m3.5s")).isEqualTo(3_723_500_000_000L);
    assertThat(GoDurations.parseNanos("1.5h")).isEqualTo(5_400_000_000_000L);
    assertThat(GoDurations.parseNanos("-2µs")).isEqualTo(-2_000L);
    assertThat(GoDurations.parseNanos("+3us")).isEqualTo(3_000L);
    assertThat(GoDurations.parseNanos(".5m")).isEqualTo(30_000_000_000L);
    assertThat(GoDurations.parseNanos("0")).isZero();
    assertThat(GoDurations.parseNanos("9223372036854775807ns")).isEqualTo(Long.MAX_VALUE);
    assertThatThrownBy(() -> GoDurations.parseNanos("9223372036854775808ns"))
        .hasMessage("time: invalid duration \"9223372036854775808ns\"");
    assertThatThrownBy(() -> GoDurations.parseNanos("")).hasMessage("time: invalid duration \"\"");
    assertThatThrownBy(() -> GoDurations.parseNanos(".s"))
        .hasMessage("time: invalid duration \".s\"");
    assertThatThrownBy(() -> GoDurations.parseNanos("3d"))
        .hasMessage("time: unknown unit \"d\" in duration \"3d\"");
  }
}
