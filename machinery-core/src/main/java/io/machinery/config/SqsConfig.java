package io.machinery.config;

import org.jspecify.annotations.Nullable;

/**
 * SQS settings (Go's {@code config.SQSConfig}); YAML section {@code sqs}, environment {@code
 * SQS_*}. Values SQS itself refuses are refused here, when the config is built, rather than at the
 * first receive.
 *
 * <pre>{@code
 * SqsConfig sqs = SqsConfig.builder().waitTimeSeconds(20).visibilityTimeout(120).build();
 * }</pre>
 *
 * @param waitTimeSeconds long-poll wait ({@code SQS_WAIT_TIME_SECONDS}), 0 to {@value
 *     #MAX_WAIT_TIME_SECONDS}
 * @param visibilityTimeout receive visibility timeout in seconds, 0 to {@value
 *     #MAX_VISIBILITY_TIMEOUT}, or null for the queue's ({@code SQS_VISIBILITY_TIMEOUT})
 * @param visibilityHeartBeat extend the visibility while a task runs ({@code
 *     SQS_VISIBILITY_HEARTBEAT})
 */
public record SqsConfig(
    int waitTimeSeconds, @Nullable Integer visibilityTimeout, boolean visibilityHeartBeat) {
  /** SQS's longest long poll ({@code WaitTimeSeconds}). */
  public static final int MAX_WAIT_TIME_SECONDS = 20;

  /** SQS's longest visibility timeout (12 hours). */
  public static final int MAX_VISIBILITY_TIMEOUT = 43_200;

  /** Go's defaults: no long poll, the queue's visibility timeout, no heartbeat. */
  public static final SqsConfig DEFAULT = new SqsConfig(0, null, false);

  /**
   * Checks the values.
   *
   * @throws IllegalArgumentException when {@code waitTimeSeconds} or {@code visibilityTimeout} is
   *     out of SQS's range
   */
  public SqsConfig {
    checkWaitTimeSeconds(waitTimeSeconds);
    checkVisibilityTimeout(visibilityTimeout);
  }

  private static int checkWaitTimeSeconds(int value) {
    return Checks.inRange(
        "SqsConfig.waitTimeSeconds", value, 0, MAX_WAIT_TIME_SECONDS, "SQS's longest long poll");
  }

  private static @Nullable Integer checkVisibilityTimeout(@Nullable Integer value) {
    if (value != null) {
      Checks.inRange(
          "SqsConfig.visibilityTimeout",
          value,
          0,
          MAX_VISIBILITY_TIMEOUT,
          "SQS's longest visibility timeout, 12 h");
    }
    return value;
  }

  /**
   * Starts a builder from Go's defaults ({@link #DEFAULT}).
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder(DEFAULT);
  }

  /**
   * Starts a builder holding this config's values.
   *
   * @return a builder; changing it leaves this config as it is
   */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /** Builds an {@link SqsConfig}; each setter refuses a value out of SQS's range at once. */
  public static final class Builder {
    private int waitTimeSeconds;
    private @Nullable Integer visibilityTimeout;
    private boolean visibilityHeartBeat;

    private Builder(SqsConfig c) {
      waitTimeSeconds = c.waitTimeSeconds;
      visibilityTimeout = c.visibilityTimeout;
      visibilityHeartBeat = c.visibilityHeartBeat;
    }

    /**
     * Sets the long-poll wait ({@code SQS_WAIT_TIME_SECONDS}); default 0.
     *
     * @param seconds 0 (no long poll) to {@value SqsConfig#MAX_WAIT_TIME_SECONDS}
     * @return this builder
     * @throws IllegalArgumentException if {@code seconds} is out of that range
     */
    public Builder waitTimeSeconds(int seconds) {
      waitTimeSeconds = checkWaitTimeSeconds(seconds);
      return this;
    }

    /**
     * Sets the visibility timeout of received messages ({@code SQS_VISIBILITY_TIMEOUT}); default
     * null, the queue's own.
     *
     * @param seconds 0 to {@value SqsConfig#MAX_VISIBILITY_TIMEOUT}, or null for the queue's
     * @return this builder
     * @throws IllegalArgumentException if {@code seconds} is out of that range
     */
    public Builder visibilityTimeout(@Nullable Integer seconds) {
      visibilityTimeout = checkVisibilityTimeout(seconds);
      return this;
    }

    /**
     * Sets whether the visibility is extended while a task runs ({@code SQS_VISIBILITY_HEARTBEAT});
     * default false.
     *
     * @param value true to extend it
     * @return this builder
     */
    public Builder visibilityHeartBeat(boolean value) {
      visibilityHeartBeat = value;
      return this;
    }

    /**
     * Builds the config.
     *
     * @return an immutable config
     */
    public SqsConfig build() {
      return new SqsConfig(waitTimeSeconds, visibilityTimeout, visibilityHeartBeat);
    }
  }
}
