package io.machinery.periodic;

/**
 * Go's {@code time.ParseDuration}, for {@code @every} specs: "1m30s", "1.5h", "500ms", "-2s", "0". Same grammar
 * ({@code [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+} with units ns, us, µs, μs, ms, s, m, h), same overflow rules, and the
 * same error texts, so a spec Go refuses is refused here for the same reason.
 */
final class GoDuration {
  private static final long MAX_ABS = Long.MIN_VALUE; // 1<<63 as an unsigned value

  private GoDuration() {}

  /**
   * Parses {@code text} into nanoseconds.
   *
   * @throws IllegalArgumentException with Go's message, e.g. {@code time: unknown unit "x" in duration "1x"}
   */
  static long parseNanos(String text) {
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
      default -> throw new IllegalArgumentException(
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
