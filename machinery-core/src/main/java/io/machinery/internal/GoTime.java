package io.machinery.internal;

import java.time.Instant;

/**
 * Go's Unix-nanosecond timestamps ({@code time.Time.UnixNano}), used by Redis scores, lock values
 * and ETAs in every module: one overflow-checked conversion instead of a copy per module.
 */
public final class GoTime {
  private GoTime() {}

  /**
   * Nanoseconds since the Unix epoch.
   *
   * @throws ArithmeticException outside Go's representable range (about the years 1678 to 2262),
   *     where Go's {@code UnixNano} result is undefined
   */
  public static long unixNanos(Instant instant) {
    return Math.addExact(
        Math.multiplyExact(instant.getEpochSecond(), 1_000_000_000L), instant.getNano());
  }

  /** The instant of a Unix-nanosecond timestamp ({@code time.Unix(0, nanos)}). */
  public static Instant fromUnixNanos(long nanos) {
    return Instant.ofEpochSecond(
        Math.floorDiv(nanos, 1_000_000_000L), Math.floorMod(nanos, 1_000_000_000L));
  }
}
