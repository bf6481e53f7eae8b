package io.machinery.config;

import org.jspecify.annotations.Nullable;

/**
 * SQS settings (Go's {@code config.SQSConfig}).
 *
 * @param waitTimeSeconds long-poll wait ({@code SQS_WAIT_TIME_SECONDS})
 * @param visibilityTimeout receive visibility timeout in seconds, or null for the queue's ({@code
 *     SQS_VISIBILITY_TIMEOUT})
 * @param visibilityHeartBeat extend the visibility while a task runs ({@code
 *     SQS_VISIBILITY_HEARTBEAT})
 */
public record SqsConfig(
    int waitTimeSeconds, @Nullable Integer visibilityTimeout, boolean visibilityHeartBeat) {
  public static final SqsConfig DEFAULT = new SqsConfig(0, null, false);
}
