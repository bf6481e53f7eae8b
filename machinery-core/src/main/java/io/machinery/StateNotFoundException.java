package io.machinery;

import org.jspecify.annotations.Nullable;

/**
 * The result backend holds no such group or task state: it expired, was purged, or was never
 * stored. The message is Go's ({@code Group not found: <uuid>}, {@code Task not found: <uuid>}), so
 * code that matches Go's text keeps working; code that can should test the type, or {@link
 * #missing()}.
 *
 * <p>The worker fails a chord at once on this exception (a group that is gone does not come back
 * with a retry) where it retries other backend failures.
 */
public final class StateNotFoundException extends MachineryException {
  private static final long serialVersionUID = 1L;

  /** What the backend does not hold. */
  public enum Missing {
    /** A group's meta ({@code Group not found}). */
    GROUP,
    /** A task's state ({@code Task not found}). */
    TASK
  }

  /** Whether a group or a task state is missing. */
  private final Missing missing;

  /** The UUID of the missing group or task. */
  private final String uuid;

  private StateNotFoundException(Missing missing, String uuid, @Nullable String detail) {
    super(
        (missing == Missing.GROUP ? "Group not found: " : "Task not found: ")
            + uuid
            + (detail == null ? "" : " (" + detail + ")"));
    this.missing = missing;
    this.uuid = uuid;
  }

  /**
   * A group whose meta is gone.
   *
   * @param groupUuid the group's UUID
   * @return the exception, with the message {@code Group not found: <uuid>}
   */
  public static StateNotFoundException group(String groupUuid) {
    return new StateNotFoundException(Missing.GROUP, groupUuid, null);
  }

  /**
   * A group whose meta is gone, with where the backend looked.
   *
   * @param groupUuid the group's UUID
   * @param detail where the backend looked (a table, a key), appended in parentheses
   * @return the exception
   */
  public static StateNotFoundException group(String groupUuid, String detail) {
    return new StateNotFoundException(Missing.GROUP, groupUuid, detail);
  }

  /**
   * A task whose state is gone.
   *
   * @param taskUuid the task's UUID
   * @return the exception, with the message {@code Task not found: <uuid>}
   */
  public static StateNotFoundException task(String taskUuid) {
    return new StateNotFoundException(Missing.TASK, taskUuid, null);
  }

  /**
   * A task whose state is gone, with where the backend looked.
   *
   * @param taskUuid the task's UUID
   * @param detail where the backend looked (the member of which group, say), appended in
   *     parentheses
   * @return the exception
   */
  public static StateNotFoundException task(String taskUuid, String detail) {
    return new StateNotFoundException(Missing.TASK, taskUuid, detail);
  }

  /**
   * Returns whether a group or a task state is missing.
   *
   * @return what the backend does not hold
   */
  public Missing missing() {
    return missing;
  }

  /**
   * Returns the UUID of the missing group or task.
   *
   * @return the group's or the task's UUID
   */
  public String uuid() {
    return uuid;
  }
}
