package io.machinery.internal;

import java.time.Duration;

/** Formats a {@link Duration} the way Go's {@code time.Duration.String} does ("4h0m0s", "1.5s", "100ms"). */
public final class GoDurations {
  private GoDurations() {}

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
    // Long.MIN_VALUE has no positive counterpart; Go prints it the same way, through unsigned arithmetic.
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
      java.math.BigInteger[] secondsAndNanos = abs.divideAndRemainder(java.math.BigInteger.valueOf(1_000_000_000L));
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
}
