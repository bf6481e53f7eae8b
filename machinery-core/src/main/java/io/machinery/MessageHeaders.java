package io.machinery;

import io.machinery.internal.GoDurations;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The counters the worker keeps in a message's {@code Headers}. They are strings, as Go's AMQP
 * broker needs header values to be, and Go workers carry unknown headers along untouched, so counts
 * survive a mixed fleet.
 */
final class MessageHeaders {
  /**
   * Runs of the task across retries (1 for the first run); read by {@link TaskContext#attempt()}.
   */
  static final String ATTEMPT = "machinery_attempt";

  /**
   * Times a worker requeued the message because it could not process it (not counting task
   * retries).
   */
  static final String REQUEUES = "machinery_requeues";

  /**
   * Times a worker handed the message back because a {@link TaskLimit} said wait (not a failure,
   * not a retry: it bounds nothing, it stretches the wait).
   */
  static final String LIMITED = "machinery_limited";

  /**
   * Times a worker handed the message back because its {@link TaskBreaker} was open (not a failure,
   * not a retry).
   */
  static final String BREAKER = "machinery_breaker";

  /** Times a worker requeued the message because no worker there knew the task. */
  static final String UNREGISTERED = "machinery_unregistered";

  /**
   * A per-message deadline for the task function (overrides the worker's): whole milliseconds, or a
   * Go duration string such as {@code "90s"} or {@code "1m30s"} (what a Go sender would naturally
   * write).
   */
  static final String TIMEOUT = "machinery_timeout";

  private MessageHeaders() {}

  /** A non-negative count from a header: a string or a JSON number; anything else counts as 0. */
  static int count(Signature signature, String header) {
    long value = number(signature.headers().get(header));
    return (int) Math.clamp(value, 0, Integer.MAX_VALUE);
  }

  /** A header as a whole number, or -1 when it is absent or not a number. */
  static long number(@Nullable Object value) {
    if (value instanceof Number n) {
      return n.longValue();
    }
    if (value == null) {
      return -1;
    }
    try {
      return Long.parseLong(String.valueOf(value).trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * A header as a duration (milliseconds or a Go duration string), or zero when absent or
   * unreadable.
   */
  static Duration duration(@Nullable Object value) {
    long millis = number(value);
    if (millis >= 0 || !(value instanceof String text)) {
      return Duration.ofMillis(Math.max(0, millis));
    }
    try {
      return GoDurations.parse(text.trim());
    } catch (RuntimeException e) {
      return Duration.ZERO;
    }
  }

  static int attempt(Signature signature) {
    return Math.max(1, count(signature, ATTEMPT));
  }

  /** The signature with {@code header} set to {@code value} (as a string). */
  static Signature with(Signature signature, String header, int value) {
    Map<String, @Nullable Object> headers = new LinkedHashMap<>(signature.headers());
    headers.put(header, Integer.toString(value));
    return signature.toBuilder().headers(headers).build();
  }

  /**
   * Headers for a task's next run: the attempt counted up, the requeue counters dropped (a retry is
   * progress, so failures to process the previous run no longer count against the next one).
   */
  static Map<String, @Nullable Object> nextAttempt(Signature signature) {
    Map<String, @Nullable Object> headers = new LinkedHashMap<>(signature.headers());
    headers.put(ATTEMPT, Integer.toString(attempt(signature) + 1));
    headers.remove(REQUEUES);
    headers.remove(UNREGISTERED);
    headers.remove(LIMITED);
    headers.remove(BREAKER);
    return headers;
  }
}
