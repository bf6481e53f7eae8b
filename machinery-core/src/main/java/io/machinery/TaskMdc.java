package io.machinery;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.MDC;

/**
 * Task-aware logs: puts the task's name, UUID, group UUID and queue into SLF4J's MDC while a task
 * is handled or published, and puts back what was there before on {@link #close()} (the eager
 * broker runs a task inside another task's send, on the same thread). Values come from messages, so
 * they pass through {@link LogText}.
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

  private static final String[] KEYS = {TASK_NAME, TASK_UUID, GROUP_UUID, QUEUE};

  private final List<@Nullable String> previous = new ArrayList<>(KEYS.length);

  private TaskMdc(Signature signature, String queue) {
    for (String key : KEYS) {
      previous.add(MDC.get(key));
    }
    put(TASK_NAME, signature.name());
    put(TASK_UUID, signature.uuid());
    put(GROUP_UUID, signature.groupUuid());
    put(QUEUE, queue);
  }

  static TaskMdc of(Signature signature, String queue) {
    return new TaskMdc(signature, queue);
  }

  private static void put(String key, String value) {
    if (value.isEmpty()) {
      MDC.remove(key);
    } else {
      MDC.put(key, LogText.of(value));
    }
  }

  @Override
  public void close() {
    for (int i = 0; i < KEYS.length; i++) {
      String value = previous.get(i);
      if (value == null) {
        MDC.remove(KEYS[i]);
      } else {
        MDC.put(KEYS[i], value);
      }
    }
  }
}
