package io.machinery.config;

import java.time.Duration;
import java.util.Objects;

/**
 * GCP Pub/Sub settings (Go's {@code config.GCPPubSubConfig}). As in Go they are set in code only
 * (Go's fields carry {@code yaml:"-" ignored:"true"}); Go's {@code Client} is the Pub/Sub broker
 * builder's {@code client(...)}.
 *
 * @param maxExtension how long a worker keeps extending the ack deadline of a message whose task
 *     still runs (Go's {@code GCPPubSub.MaxExtension}, passed to {@code
 *     ReceiveSettings.MaxExtension}); after that the message is left to lapse and Pub/Sub delivers
 *     it again. Default {@link #DEFAULT_MAX_EXTENSION}, the Go client's default.
 */
public record GcpPubSubConfig(Duration maxExtension) {
  /** The Go client's {@code DefaultReceiveSettings.MaxExtension}. */
  public static final Duration DEFAULT_MAX_EXTENSION = Duration.ofMinutes(60);

  public static final GcpPubSubConfig DEFAULT = new GcpPubSubConfig(DEFAULT_MAX_EXTENSION);

  public GcpPubSubConfig {
    Objects.requireNonNull(maxExtension, "maxExtension");
    if (maxExtension.isNegative() || maxExtension.isZero()) {
      throw new IllegalArgumentException(
          "GCPPubSub.MaxExtension must be positive, was " + maxExtension);
    }
  }

  /** A copy with another {@link #maxExtension()}. */
  public GcpPubSubConfig withMaxExtension(Duration value) {
    return new GcpPubSubConfig(value);
  }
}
