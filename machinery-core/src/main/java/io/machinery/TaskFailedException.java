package io.machinery;

/**
 * A task ended in {@link State#FAILURE}; {@link #getMessage()} is the error text the worker stored,
 * exactly as Go Machinery's {@code AsyncResult.Get} returns it.
 */
public class TaskFailedException extends MachineryException {
  private static final long serialVersionUID = 1L;

  /** The UUID of the failed task. */
  private final String taskUuid;

  /**
   * Creates the exception.
   *
   * @param taskUuid the UUID of the failed task
   * @param error the error text the worker stored
   */
  public TaskFailedException(String taskUuid, String error) {
    super(error);
    this.taskUuid = taskUuid;
  }

  /**
   * Returns the UUID of the failed task.
   *
   * @return the UUID
   */
  public String taskUuid() {
    return taskUuid;
  }
}
