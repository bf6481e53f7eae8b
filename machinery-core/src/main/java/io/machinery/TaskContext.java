package io.machinery;

/**
 * What a running task may know about itself: declare it as the first parameter of a task method (or
 * use {@link TaskFunction#withContext}) and the worker passes it in; it is not one of the message's
 * arguments. Go's {@code tasks.SignatureFromContext}.
 */
public interface TaskContext {

  /**
   * Returns the message being processed.
   *
   * @return the task's signature, as delivered
   */
  Signature signature();

  /**
   * Which run of this task this is: 1 for the first, 2 after the first retry, and so on. Counted in
   * the message header {@value Worker#ATTEMPT_HEADER}, so it survives republishing by Java workers.
   *
   * @return the attempt number, from 1
   */
  int attempt();

  /**
   * Whether the worker gave up on this run: it is stopping without waiting for the task (abrupt
   * quit, or the graceful timeout ran out), or the task's deadline passed ({@link
   * Worker.Builder#taskTimeout}, header {@value Worker#TIMEOUT_HEADER}). A long task should check
   * this and return early; its thread is also interrupted, and nothing it returns afterwards is
   * recorded.
   *
   * @return true once the worker gave up on this run
   */
  boolean isCancelled();

  /**
   * Reports how far this task is, for {@link AsyncResult#progress()} and {@link
   * Inspection#task(String)}. Stored at once in the result backend beside the task's state (not in
   * it: Go clients see nothing), each report replacing the last; it stays readable after the task
   * finished, for the results' expiry. One backend write per call: report at most a few times a
   * second.
   *
   * @param percent how much is done, from 0 to 100
   * @param message what the task is doing now, at most {@value TaskProgress#MAX_MESSAGE_LENGTH}
   *     characters
   * @throws IllegalArgumentException when {@code percent} is outside 0..100 or the message is too
   *     long
   * @throws UnsupportedOperationException when the result backend cannot keep progress
   * @throws MachineryException when the backend cannot be written (the task may go on; the report
   *     is lost)
   */
  default void reportProgress(double percent, String message) {
    throw new UnsupportedOperationException("this task context cannot report progress");
  }

  /**
   * Reports progress as a count of steps done; see {@link #reportProgress(double, String)}.
   *
   * @param done steps done, from 0 to {@code total}
   * @param total all steps, positive
   * @param message what the task is doing now
   * @throws IllegalArgumentException when the counts do not make a fraction from 0 to 1
   * @throws UnsupportedOperationException when the result backend cannot keep progress
   * @throws MachineryException when the backend cannot be written
   */
  default void reportProgress(long done, long total, String message) {
    reportProgress(
        TaskProgress.of(done, total, message, java.time.Instant.EPOCH).percent(), message);
  }
}
