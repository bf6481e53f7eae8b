package io.machinery;

/**
 * What a running task may know about itself: declare it as the first parameter of a task method (or use
 * {@link TaskFunction#withContext}) and the worker passes it in; it is not one of the message's arguments.
 * Go's {@code tasks.SignatureFromContext}.
 */
public interface TaskContext {

  /**
   * Returns the message being processed.
   *
   * @return the task's signature, as delivered
   */
  Signature signature();

  /**
   * Which run of this task this is: 1 for the first, 2 after the first retry, and so on. Counted in the
   * message header {@value Worker#ATTEMPT_HEADER}, so it survives republishing by Java workers.
   *
   * @return the attempt number, from 1
   */
  int attempt();

  /**
   * Whether the worker gave up on this run: it is stopping without waiting for the task (abrupt quit, or the
   * graceful timeout ran out), or the task's deadline passed ({@link Worker.Builder#taskTimeout}, header
   * {@value Worker#TIMEOUT_HEADER}). A long task should check this and return early; its thread is also
   * interrupted, and nothing it returns afterwards is recorded.
   *
   * @return true once the worker gave up on this run
   */
  boolean isCancelled();
}
