package io.machinery.periodic;

import io.machinery.internal.GoDurations;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.zone.ZoneRules;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A periodic spec, parsed and evaluated exactly as robfig/cron v3.0.1's {@code cron.ParseStandard}
 * and {@code Schedule.Next} do, since that is what Go Machinery uses (spec §2.12).
 *
 * <p>Design notes. This is a line-by-line port of robfig's {@code parser.go}, {@code spec.go} and
 * {@code constantdelay.go} rather than a general cron library, because "the same spec fires at the
 * same instants in Java and in Go" is the contract, and the differences are in the corners: robfig
 * reads {@code 0 0 13 * 5} as "the 13th OR a Friday" but {@code 0 0 13 * *}{@code /1} as "the 13th
 * AND any day" (a field counts as unrestricted only when written {@code *}, {@code ?} or {@code
 * *}{@code /1}); it accepts {@code ?} in every field, steps larger than the range ({@code *}{@code
 * /100}), empty list items ({@code 1,,2}) and a signed {@code +5}; it refuses 7 for Sunday, {@code
 * L}, {@code W} and {@code #}; and across daylight-saving changes it follows Go's {@code time.Date}
 * normalisation (a wall time in a gap moves forward; an ambiguous wall time takes the offset Go's
 * lookup finds, which is not always the earlier one). {@code ScheduleTest} replays a fixture
 * produced by robfig itself over those corners in five time zones.
 *
 * <p>A spec without {@code CRON_TZ=}/{@code TZ=} has no zone of its own; {@link #next} then works
 * in the zone of the time it is given, as robfig does with {@code time.Local}. Immutable and
 * thread-safe.
 */
sealed interface Schedule permits Schedule.Cron, Schedule.Every {

  /**
   * Go's {@code Schedule.Next(t)}: the first fire time strictly after {@code t}, in {@code t}'s
   * zone, or null when none comes within five years (robfig's zero time: the entry never fires).
   */
  @Nullable ZonedDateTime next(ZonedDateTime t);

  /**
   * The zone named by the spec's {@code CRON_TZ=}/{@code TZ=} prefix, or null when it has none (or
   * "Local").
   */
  @Nullable ZoneId zone();

  /**
   * {@code cron.ParseStandard(spec)}.
   *
   * @throws IllegalArgumentException naming the spec, the field and the value at fault
   */
  static Schedule parse(String spec) {
    return Parser.parse(spec);
  }

  /**
   * {@code SpecSchedule}: bit sets of the allowed values; bit 63 marks a field written as {@code *}
   * or {@code ?}.
   */
  record Cron(
      long second, long minute, long hour, long dom, long month, long dow, @Nullable ZoneId zone)
      implements Schedule {
    static final long STAR_BIT = 1L << 63;

    @Override
    public @Nullable ZonedDateTime next(ZonedDateTime start) {
      ZoneId original = start.getZone();
      ZonedDateTime t = zone == null ? start : start.withZoneSameInstant(zone);
      // Start at the next whole second; robfig has no sub-second precision.
      t = plusNanos(t, 1_000_000_000L - t.getNano());
      boolean added = false;
      int yearLimit = t.getYear() + 5;

      wrap:
      while (true) {
        if (t.getYear() > yearLimit) {
          return null;
        }
        while ((1L << t.getMonthValue() & month) == 0) {
          if (!added) {
            added = true;
            t = GoTime.date(t.getYear(), t.getMonthValue(), 1, 0, 0, 0, 0, t.getZone());
          }
          t = GoTime.addDate(t, 0, 1, 0);
          if (t.getMonthValue() == 1) {
            continue wrap;
          }
        }
        while (!dayMatches(t)) {
          if (!added) {
            added = true;
            t =
                GoTime.date(
                    t.getYear(), t.getMonthValue(), t.getDayOfMonth(), 0, 0, 0, 0, t.getZone());
          }
          t = GoTime.addDate(t, 0, 0, 1);
          // Across a daylight-saving change midnight may land on 23:00 or 01:00; robfig nudges it
          // back.
          if (t.getHour() != 0) {
            t =
                t.getHour() > 12
                    ? plusNanos(t, (24L - t.getHour()) * 3_600_000_000_000L)
                    : plusNanos(t, -t.getHour() * 3_600_000_000_000L);
          }
          if (t.getDayOfMonth() == 1) {
            continue wrap;
          }
        }
        while ((1L << t.getHour() & hour) == 0) {
          if (!added) {
            added = true;
            t =
                GoTime.date(
                    t.getYear(),
                    t.getMonthValue(),
                    t.getDayOfMonth(),
                    t.getHour(),
                    0,
                    0,
                    0,
                    t.getZone());
          }
          t = plusNanos(t, 3_600_000_000_000L);
          if (t.getHour() == 0) {
            continue wrap;
          }
        }
        while ((1L << t.getMinute() & minute) == 0) {
          if (!added) {
            added = true;
            t = GoTime.truncate(t, 60);
          }
          t = plusNanos(t, 60_000_000_000L);
          if (t.getMinute() == 0) {
            continue wrap;
          }
        }
        while ((1L << t.getSecond() & second) == 0) {
          if (!added) {
            added = true;
            t = GoTime.truncate(t, 1);
          }
          t = plusNanos(t, 1_000_000_000L);
          if (t.getSecond() == 0) {
            continue wrap;
          }
        }
        return t.withZoneSameInstant(original);
      }
    }

    private boolean dayMatches(ZonedDateTime t) {
      boolean domMatch = (1L << t.getDayOfMonth() & dom) != 0;
      boolean dowMatch = (1L << weekday(t.getDayOfWeek()) & dow) != 0;
      if ((dom & STAR_BIT) != 0 || (dow & STAR_BIT) != 0) {
        return domMatch && dowMatch;
      }
      return domMatch || dowMatch;
    }

    private static int weekday(DayOfWeek day) {
      return day.getValue() % 7; // Go: Sunday = 0
    }
  }

  /**
   * {@code ConstantDelaySchedule}: {@code @every d}, d rounded down to whole seconds and at least
   * one second.
   */
  record Every(long delaySeconds) implements Schedule {
    @Override
    public ZonedDateTime next(ZonedDateTime t) {
      return plusNanos(t, delaySeconds * 1_000_000_000L - t.getNano());
    }

    @Override
    public @Nullable ZoneId zone() {
      return null;
    }
  }

  /** Go's {@code t.Add(d)}: moves along the time line, keeping the zone. */
  private static ZonedDateTime plusNanos(ZonedDateTime t, long nanos) {
    return ZonedDateTime.ofInstant(t.toInstant().plusNanos(nanos), t.getZone());
  }

  /** The parts of Go's {@code time} package that {@code Next} relies on. */
  final class GoTime {
    private GoTime() {}

    /**
     * Go's {@code time.Date}: out-of-range fields carry over, and a wall time that does not exist
     * or exists twice gets the offset Go picks: the offset in force at the wall time read as UTC,
     * corrected once.
     */
    static ZonedDateTime date(
        int year, int month, int day, int hour, int min, int sec, int nsec, ZoneId zone) {
      LocalDateTime wall =
          LocalDate.of(year, 1, 1)
              .plusMonths(month - 1L)
              .plusDays(day - 1L)
              .atStartOfDay()
              .plusHours(hour)
              .plusMinutes(min)
              .plusSeconds(sec)
              .plusNanos(nsec);
      long unix = wall.toEpochSecond(ZoneOffset.UTC);
      ZoneRules rules = zone.getRules();
      int offset = rules.getOffset(Instant.ofEpochSecond(unix)).getTotalSeconds();
      if (offset != 0) {
        offset = rules.getOffset(Instant.ofEpochSecond(unix - offset)).getTotalSeconds();
      }
      return ZonedDateTime.ofInstant(Instant.ofEpochSecond(unix - offset, wall.getNano()), zone);
    }

    /** Go's {@code t.AddDate(years, months, days)}: wall-clock arithmetic through {@link #date}. */
    static ZonedDateTime addDate(ZonedDateTime t, int years, int months, int days) {
      return date(
          t.getYear() + years,
          t.getMonthValue() + months,
          t.getDayOfMonth() + days,
          t.getHour(),
          t.getMinute(),
          t.getSecond(),
          t.getNano(),
          t.getZone());
    }

    /** Go's {@code t.Truncate(d)} for whole seconds: on absolute time, not on the wall clock. */
    static ZonedDateTime truncate(ZonedDateTime t, long seconds) {
      long epoch = t.toInstant().getEpochSecond();
      return ZonedDateTime.ofInstant(
          Instant.ofEpochSecond(epoch - Math.floorMod(epoch, seconds)), t.getZone());
    }
  }

  /** robfig's {@code parser.go} for the standard (five-field, descriptor-accepting) parser. */
  final class Parser {
    private Parser() {}

    private record Bounds(String field, int min, int max, @Nullable Map<String, Integer> names) {}

    private static final Bounds MINUTES = new Bounds("minute", 0, 59, null);
    private static final Bounds HOURS = new Bounds("hour", 0, 23, null);
    private static final Bounds DOM = new Bounds("day-of-month", 1, 31, null);
    private static final Bounds MONTHS =
        new Bounds(
            "month",
            1,
            12,
            Map.ofEntries(
                Map.entry("jan", 1),
                Map.entry("feb", 2),
                Map.entry("mar", 3),
                Map.entry("apr", 4),
                Map.entry("may", 5),
                Map.entry("jun", 6),
                Map.entry("jul", 7),
                Map.entry("aug", 8),
                Map.entry("sep", 9),
                Map.entry("oct", 10),
                Map.entry("nov", 11),
                Map.entry("dec", 12)));
    private static final Bounds DOW =
        new Bounds(
            "day-of-week",
            0,
            6,
            Map.of("sun", 0, "mon", 1, "tue", 2, "wed", 3, "thu", 4, "fri", 5, "sat", 6));
    private static final Bounds[] FIELDS = {MINUTES, HOURS, DOM, MONTHS, DOW};

    static Schedule parse(String spec) {
      if (spec.isEmpty()) {
        throw invalid(spec, "empty spec string");
      }
      String rest = spec;
      ZoneId zone = null;
      if (rest.startsWith("TZ=") || rest.startsWith("CRON_TZ=")) {
        int space = rest.indexOf(' ');
        if (space < 0) {
          throw invalid(
              spec,
              "a "
                  + rest.substring(0, rest.indexOf('=') + 1)
                  + " prefix must be followed by a space and the schedule");
        }
        String name = rest.substring(rest.indexOf('=') + 1, space);
        zone = location(spec, name);
        rest = trimSpace(rest.substring(space));
      }
      if (rest.startsWith("@")) {
        return descriptor(spec, rest, zone);
      }
      String[] fields = fields(rest);
      if (fields.length != 5) {
        throw invalid(
            spec,
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), found "
                + fields.length);
      }
      long[] bits = new long[5];
      for (int i = 0; i < 5; i++) {
        bits[i] = field(spec, fields[i], FIELDS[i]);
      }
      return new Cron(1L, bits[0], bits[1], bits[2], bits[3], bits[4], zone);
    }

    /**
     * Go's {@code time.LoadLocation}: IANA names, "UTC", "" (UTC) and "Local" (null: the
     * scheduler's zone).
     */
    private static @Nullable ZoneId location(String spec, String name) {
      if (name.equals("Local")) {
        return null;
      }
      if (name.isEmpty() || name.equals("UTC")) {
        return ZoneId.of("UTC");
      }
      if (!ZoneId.getAvailableZoneIds().contains(name)) {
        throw invalid(
            spec, "unknown time zone \"" + name + "\" (use an IANA name such as Europe/Paris)");
      }
      return ZoneId.of(name);
    }

    private static Schedule descriptor(String spec, String descriptor, @Nullable ZoneId zone) {
      long all = Cron.STAR_BIT;
      long allHours = bits(0, 23, 1) | all;
      long allDom = bits(1, 31, 1) | all;
      long allMonths = bits(1, 12, 1) | all;
      long allDow = bits(0, 6, 1) | all;
      switch (descriptor) {
        case "@yearly", "@annually" -> {
          return new Cron(1L, 1L, 1L, 1L << 1, 1L << 1, allDow, zone);
        }
        case "@monthly" -> {
          return new Cron(1L, 1L, 1L, 1L << 1, allMonths, allDow, zone);
        }
        case "@weekly" -> {
          return new Cron(1L, 1L, 1L, allDom, allMonths, 1L, zone);
        }
        case "@daily", "@midnight" -> {
          return new Cron(1L, 1L, 1L, allDom, allMonths, allDow, zone);
        }
        case "@hourly" -> {
          return new Cron(1L, 1L, allHours, allDom, allMonths, allDow, zone);
        }
        default -> {
          // not a fixed descriptor: @every or unknown
        }
      }
      String every = "@every ";
      if (descriptor.startsWith(every)) {
        long nanos;
        try {
          nanos = GoDurations.parseNanos(descriptor.substring(every.length()));
        } catch (IllegalArgumentException e) {
          throw invalid(spec, "failed to parse the @every duration: " + e.getMessage());
        }
        // robfig: rounded down to whole seconds; anything under a second (zero, negative) becomes
        // one second.
        return new Every(nanos < 1_000_000_000L ? 1L : nanos / 1_000_000_000L);
      }
      throw invalid(
          spec,
          "unrecognized descriptor "
              + descriptor
              + " (known: @yearly @annually @monthly @weekly @daily @midnight @hourly @every <duration>)");
    }

    /** robfig's {@code getField}: a comma-separated list of ranges; empty items are ignored. */
    private static long field(String spec, String field, Bounds r) {
      long bits = 0;
      for (String expr : field.split(",", -1)) {
        if (!expr.isEmpty()) {
          bits |= range(spec, field, expr, r);
        }
      }
      return bits;
    }

    /**
     * robfig's {@code getRange}: {@code number | name | * | ?} optionally {@code -end}, optionally
     * {@code /step}.
     */
    private static long range(String spec, String field, String expr, Bounds r) {
      String[] rangeAndStep = expr.split("/", -1);
      String[] lowAndHigh = rangeAndStep[0].split("-", -1);
      boolean single = lowAndHigh.length == 1;
      long start;
      long end;
      long step;
      long extra = 0;
      if (lowAndHigh[0].equals("*") || lowAndHigh[0].equals("?")) {
        start = r.min;
        end = r.max;
        extra = Cron.STAR_BIT;
      } else {
        start = intOrName(spec, field, lowAndHigh[0], r);
        switch (lowAndHigh.length) {
          case 1 -> end = start;
          case 2 -> end = intOrName(spec, field, lowAndHigh[1], r);
          default -> throw fieldError(spec, field, r, "too many hyphens in " + expr);
        }
      }
      switch (rangeAndStep.length) {
        case 1 -> step = 1;
        case 2 -> {
          step = number(spec, field, rangeAndStep[1], r);
          if (single) {
            end = r.max; // "N/step" means "N-max/step"
          }
          if (step > 1) {
            extra = 0;
          }
        }
        default -> throw fieldError(spec, field, r, "too many slashes in " + expr);
      }
      if (start < r.min) {
        throw fieldError(
            spec,
            field,
            r,
            "beginning of range (" + start + ") below minimum (" + r.min + "): " + expr);
      }
      if (end > r.max) {
        throw fieldError(
            spec, field, r, "end of range (" + end + ") above maximum (" + r.max + "): " + expr);
      }
      if (start > end) {
        throw fieldError(
            spec,
            field,
            r,
            "beginning of range (" + start + ") beyond end of range (" + end + "): " + expr);
      }
      if (step == 0) {
        throw fieldError(spec, field, r, "step of range should be a positive number: " + expr);
      }
      return bits((int) start, (int) end, step) | extra;
    }

    private static long intOrName(String spec, String field, String expr, Bounds r) {
      if (r.names != null) {
        Integer named = r.names.get(expr.toLowerCase(Locale.ROOT));
        if (named != null) {
          return named;
        }
      }
      return number(spec, field, expr, r);
    }

    /**
     * Go's {@code strconv.Atoi} (optional sign, ASCII digits), then robfig's refusal of negatives.
     */
    private static long number(String spec, String field, String expr, Bounds r) {
      int i = 0;
      boolean negative = false;
      if (!expr.isEmpty() && (expr.charAt(0) == '+' || expr.charAt(0) == '-')) {
        negative = expr.charAt(0) == '-';
        i = 1;
      }
      if (i == expr.length()) {
        throw fieldError(spec, field, r, notANumber(expr, r));
      }
      long value = 0;
      for (; i < expr.length(); i++) {
        char c = expr.charAt(i);
        if (c < '0' || c > '9') {
          throw fieldError(spec, field, r, notANumber(expr, r));
        }
        if (value > (Long.MAX_VALUE - (c - '0')) / 10) {
          throw fieldError(spec, field, r, expr + " is out of range");
        }
        value = value * 10 + (c - '0');
      }
      if (negative && value != 0) {
        throw fieldError(spec, field, r, "negative number (-" + value + ") not allowed: " + expr);
      }
      return value;
    }

    private static String notANumber(String expr, Bounds r) {
      String hint =
          r.names == null
              ? ""
              : r.field.equals("month") ? " or a month name (JAN-DEC)" : " or a day name (SUN-SAT)";
      return "\"" + expr + "\" is not a number" + hint;
    }

    /** robfig's {@code getBits}. */
    private static long bits(int min, int max, long step) {
      long bits = 0;
      for (long i = min; i <= max; i += step) {
        bits |= 1L << i;
        if (step > max) {
          break;
        }
      }
      return bits;
    }

    /** Go's {@code strings.Fields}: splits around runs of Unicode white space. */
    private static String[] fields(String s) {
      return trimSpace(s).isEmpty() ? new String[0] : trimSpace(s).split("[" + SPACE + "]+");
    }

    private static String trimSpace(String s) {
      int from = 0;
      int to = s.length();
      while (from < to && SPACE_CHARS.contains(s.charAt(from))) {
        from++;
      }
      while (to > from && SPACE_CHARS.contains(s.charAt(to - 1))) {
        to--;
      }
      return s.substring(from, to);
    }

    /** Go's {@code unicode.IsSpace}. */
    private static final String SPACE =
        "\t\n\u000B\f\r \u0085\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
            + "\u2006\u2007\u2008\u2009\u200A\u2028\u2029\u202F\u205F\u3000";

    private static final Set<Character> SPACE_CHARS =
        SPACE
            .chars()
            .mapToObj(c -> (char) c)
            .collect(java.util.stream.Collectors.toUnmodifiableSet());

    private static IllegalArgumentException invalid(String spec, String why) {
      return new IllegalArgumentException("invalid periodic spec \"" + spec + "\": " + why);
    }

    private static IllegalArgumentException fieldError(
        String spec, String field, Bounds r, String why) {
      return invalid(
          spec, r.field + " field \"" + field + "\" (" + r.min + "-" + r.max + "): " + why);
    }
  }
}
