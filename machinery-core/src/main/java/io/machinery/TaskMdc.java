package io.machinery;

import io.machinery.wire.LogText;
import java.util.HashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.MDC;

/**
 * Task-aware logs: puts the task's name, UUID, group UUID and queue into SLF4J's MDC while a task
 * is handled or published, and puts back what was there before on {@link #close()} (the eager
 * broker runs a task inside another task's send, on the same thread; a producer's own MDC keys
 * stay). Values come from messages, so they pass through {@link LogText}.
 */
final class TaskMdc implements AutoCloseable {
  /** MDC key of the task name. */
  static final String TASK_NAME = "machinery.task_name";

  /** MDC key of the task UUID. */
  static final String TASK_UUID = "machinery.task_uuid";

  /** MDC key of the group UUID (absent for a task outside a group). */
  static final String GROUP_UUID = "machinery.group_uuid";

  /** MDC key of the queue the task was taken from or sent to. */
  static final String QUEUE = "machinery.queue";

  /** The MDC before: put back whole on {@link #close()}; null when it was empty. */
  private final @Nullable Map<String, String> previous;

  private TaskMdc(Signature signature, String queue) {
    Map<String, String> before = MDC.getCopyOfContextMap();
    previous = before == null || before.isEmpty() ? null : before;
    // One context map set instead of a put or remove per key: with Logback each of those sets and
    // clears thread locals, and on a fresh virtual thread per task that was 5% of a worker's CPU
    // samples.
    Map<String, String> context = previous == null ? new HashMap<>(8) : new HashMap<>(previous);
    put(context, TASK_NAME, signature.name());
    put(context, TASK_UUID, signature.uuid());
    put(context, GROUP_UUID, signature.groupUuid());
    put(context, QUEUE, queue);
    MDC.setContextMap(context);
  }

  static TaskMdc of(Signature signature, String queue) {
    return new TaskMdc(signature, queue);
  }

  private static void put(Map<String, String> context, String key, String value) {
    if (value.isEmpty()) {
      context.remove(key);
    } else {
      context.put(key, LogText.of(value));
    }
  }

  /** Puts back the MDC as it was before (what the task put into it goes too). */
  @Override
  public void close() {
    if (previous == null) {
      MDC.clear();
    } else {
      MDC.setContextMap(previous);
    }
  }
}
