package io.machinery;

/**
 * A task ended in {@link State#FAILURE}; {@link #getMessage()} is the error text the worker stored, exactly as
 * Go Machinery's {@code AsyncResult.Get} returns it.
 */
public final class TaskFailedException extends MachineryException {
  private static final long serialVersionUID = 1L;
  private final String taskUuid;

  public TaskFailedException(String taskUuid, String error) {
    super(error);
    this.taskUuid = taskUuid;
  }

  /** The UUID of the failed task. */
  public String taskUuid() {
    return taskUuid;
  }
}
