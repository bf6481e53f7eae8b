package io.machinery.client.redis;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Arguments as the Redis modules send them, in one place: text as UTF-8 bytes, and instants as Unix
 * nanoseconds (Go's {@code time.UnixNano()}, the score of {@code delayed_tasks} and the value of
 * Go's periodic-task lock). Thread-safe; all methods are static.
 */
public final class RedisArgs {
  private RedisArgs() {}

  /** {@code text} as UTF-8 bytes. */
  public static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Nanoseconds since the Unix epoch.
   *
   * @throws ArithmeticException when the instant is outside Go's range (about the years 1678 to
   *     2262)
   */
  public static long unixNanos(Instant instant) {
    return Math.addExact(
        Math.multiplyExact(instant.getEpochSecond(), 1_000_000_000L), instant.getNano());
  }
}
