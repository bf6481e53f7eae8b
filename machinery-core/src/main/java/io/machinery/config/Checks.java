package io.machinery.config;

import io.machinery.internal.GoDurations;
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

  /** Refuses a negative duration (a timeout handed to a client). */
  static Duration notNegative(String setting, Duration value) {
    if (value.isNegative()) {
      throw new IllegalArgumentException(
          setting + " must not be negative, was " + GoDurations.format(value));
    }
    return value;
  }
}
