package io.machinery.internal;

import java.time.Duration;

/**
 * Go's {@code time.Duration} text, both ways: {@link #format} is {@code Duration.String} ("4h0m0s",
 * "1.5s", "100ms"), {@link #parseNanos} is {@code time.ParseDuration} ("1m30s", "1.5h", "500ms",
 * "-2s", "0") with the same grammar ({@code [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+} with units ns, us, µs,
 * μs, ms, s, m, h), the same overflow rules and the same error texts, so a text Go refuses is
 * refused here for the same reason. The one codec for Go durations in every module.
 */
public final class GoDurations {
  private static final long MAX_ABS = Long.MIN_VALUE; // 1<<63 as an unsigned value

  private GoDurations() {}

  /** {@link #parseNanos} as a {@link Duration}. */
  public static Duration parse(String text) {
    return Duration.ofNanos(parseNanos(text));
  }

  public static String format(Duration duration) {
    long nanos;
    try {
      nanos = duration.toNanos();
    } catch (ArithmeticException e) {
      nanos = duration.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    if (nanos == 0) {
      return "0s";
    }
    boolean negative = nanos < 0;
    // Long.MIN_VALUE has no positive counterpart; Go prints it the same way, through unsigned
    // arithmetic.
    java.math.BigInteger abs = java.math.BigInteger.valueOf(nanos).abs();
    StringBuilder out = new StringBuilder();
    if (abs.compareTo(java.math.BigInteger.valueOf(1_000_000_000L)) < 0) {
      long n = abs.longValue();
      if (n < 1_000L) {
        out.append(n).append("ns");
      } else if (n < 1_000_000L) {
        out.append(fraction(n, 1_000L)).append("µs");
      } else {
        out.append(fraction(n, 1_000_000L)).append("ms");
      }
    } else {
      java.math.BigInteger[] secondsAndNanos =
          abs.divideAndRemainder(java.math.BigInteger.valueOf(1_000_000_000L));
      long totalSeconds = secondsAndNanos[0].longValue();
      long hours = totalSeconds / 3600;
      long minutes = (totalSeconds % 3600) / 60;
      long seconds = totalSeconds % 60;
      if (hours > 0) {
        out.append(hours).append('h');
      }
      if (hours > 0 || minutes > 0) {
        out.append(minutes).append('m');
      }
      out.append(seconds);
      long rest = secondsAndNanos[1].longValue();
      if (rest != 0) {
        out.append('.').append(trimZeros(String.format("%09d", rest)));
      }
      out.append('s');
    }
    return negative ? "-" + out : out.toString();
  }

  private static String fraction(long value, long unit) {
    long whole = value / unit;
    long rest = value % unit;
    if (rest == 0) {
      return Long.toString(whole);
    }
    int width = Long.toString(unit).length() - 1;
    return whole + "." + trimZeros(String.format("%0" + width + "d", rest));
  }

  private static String trimZeros(String digits) {
    int end = digits.length();
    while (end > 0 && digits.charAt(end - 1) == '0') {
      end--;
    }
    return digits.substring(0, end);
  }

  /**
   * Parses {@code text} into nanoseconds.
   *
   * @throws IllegalArgumentException with Go's message, e.g. {@code time: unknown unit "x" in
   *     duration "1x"}
   */
  public static long parseNanos(String text) {
    String s = text;
    boolean negative = false;
    if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) {
      negative = s.charAt(0) == '-';
      s = s.substring(1);
    }
    if (s.equals("0")) {
      return 0;
    }
    if (s.isEmpty()) {
      throw invalid(text);
    }
    long total = 0; // unsigned
    while (!s.isEmpty()) {
      char c = s.charAt(0);
      if (!(c == '.' || isDigit(c))) {
        throw invalid(text);
      }
      int i = 0;
      long whole = 0;
      while (i < s.length() && isDigit(s.charAt(i))) {
        if (Long.compareUnsigned(whole, Long.MAX_VALUE / 10) > 0) {
          throw invalid(text); // Go's leadingInt overflow
        }
        whole = whole * 10 + (s.charAt(i) - '0');
        if (Long.compareUnsigned(whole, MAX_ABS) > 0) {
          throw invalid(text);
        }
        i++;
      }
      boolean pre = i > 0;
      s = s.substring(i);
      long fraction = 0;
      double scale = 1;
      boolean post = false;
      if (!s.isEmpty() && s.charAt(0) == '.') {
        s = s.substring(1);
        int j = 0;
        boolean overflow = false;
        while (j < s.length() && isDigit(s.charAt(j))) {
          if (!overflow) {
            if (fraction > Long.MAX_VALUE / 10) {
              overflow = true;
            } else {
              long next = fraction * 10 + (s.charAt(j) - '0');
              if (next < 0) {
                overflow = true;
              } else {
                fraction = next;
                scale *= 10;
              }
            }
          }
          j++;
        }
        post = j > 0;
        s = s.substring(j);
      }
      if (!pre && !post) {
        throw invalid(text);
      }
      int u = 0;
      while (u < s.length() && s.charAt(u) != '.' && !isDigit(s.charAt(u))) {
        u++;
      }
      if (u == 0) {
        throw new IllegalArgumentException("time: missing unit in duration " + quote(text));
      }
      String unitName = s.substring(0, u);
      s = s.substring(u);
      long unit = unit(unitName, text);
      if (Long.compareUnsigned(whole, Long.divideUnsigned(MAX_ABS, unit)) > 0) {
        throw invalid(text);
      }
      long value = whole * unit;
      if (fraction > 0) {
        value += (long) ((double) fraction * ((double) unit / scale));
        if (Long.compareUnsigned(value, MAX_ABS) > 0) {
          throw invalid(text);
        }
      }
      total += value;
      if (Long.compareUnsigned(total, MAX_ABS) > 0) {
        throw invalid(text);
      }
    }
    if (negative) {
      return -total; // -(1<<63) wraps to Long.MIN_VALUE, as in Go
    }
    if (total < 0) {
      throw invalid(text);
    }
    return total;
  }

  private static long unit(String name, String text) {
    return switch (name) {
      case "ns" -> 1L;
      case "us", "\u00b5s", "\u03bcs" -> 1_000L;
      case "ms" -> 1_000_000L;
      case "s" -> 1_000_000_000L;
      case "m" -> 60_000_000_000L;
      case "h" -> 3_600_000_000_000L;
      default ->
          throw new IllegalArgumentException(
              "time: unknown unit " + quote(name) + " in duration " + quote(text));
    };
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static IllegalArgumentException invalid(String text) {
    return new IllegalArgumentException("time: invalid duration " + quote(text));
  }

  private static String quote(String s) {
    return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }
}
