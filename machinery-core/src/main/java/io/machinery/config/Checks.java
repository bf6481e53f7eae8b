package io.machinery.config;

import io.machinery.internal.GoDurations;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The checks the settings' rules are written with. Each rule (the SQS long poll is 0 to 20 s, a
 * Redis timeout is not negative, ...) is written once, next to its setting in the builder or record
 * that holds it; {@link ConfigLoader} reads the environment and YAML through those same builders,
 * so a value is refused the same way whether it comes from code, a variable or a file. Messages
 * name the setting as its builder setter is named ({@code SqsConfig.waitTimeSeconds}); the loader
 * puts the variable's and YAML key's names in front.
 */
final class Checks {
  private Checks() {}

  /**
   * Refuses a number outside {@code [min, max]}.
   *
   * @param setting the setter's name, e.g. {@code SqsConfig.waitTimeSeconds}
   * @param why where the limits come from, for the message
   */
  static int inRange(String setting, int value, int min, int max, String why) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          setting + " must be from " + min + " to " + max + " (" + why + "), was " + value);
    }
    return value;
  }

  /**
   * Refuses a negative number.
   *
   * @param why what zero means, for the message
   */
  static int notNegative(String setting, int value, String why) {
    if (value < 0) {
      throw new IllegalArgumentException(
          setting + " must not be negative (" + why + "), was " + value);
    }
    return value;
  }

  /**
   * Refuses a name that is empty or only whitespace, or longer than AMQP's short strings hold (255
   * bytes of UTF-8: the client refuses longer names before they reach the server).
   *
   * @param why why an empty name cannot work, for the message
   */
  static String amqpName(String setting, String value, String why) {
    if (value.isBlank()) {
      throw new IllegalArgumentException(
          setting + " must not be empty or blank (" + why + "), was '" + value + "'");
    }
    return shortString(setting, value);
  }

  /** Refuses a text longer than AMQP's short strings hold: 255 bytes of UTF-8. */
  static String shortString(String setting, String value) {
    int bytes = value.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_SHORT_STRING_BYTES) {
      throw new IllegalArgumentException(
          setting
              + " must be at most "
              + MAX_SHORT_STRING_BYTES
              + " bytes of UTF-8 (an AMQP short string), was "
              + bytes
              + " bytes");
    }
    return value;
  }

  /** What an AMQP short string (an exchange, queue or routing key) holds at most. */
  static final int MAX_SHORT_STRING_BYTES = 255;

  /** Refuses a negative duration (a timeout handed to a client). */
  static Duration notNegative(String setting, Duration value) {
    if (value.isNegative()) {
      throw new IllegalArgumentException(
          setting + " must not be negative, was " + GoDurations.format(value));
    }
    return value;
  }
}
