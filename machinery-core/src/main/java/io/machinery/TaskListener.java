package io.machinery;

import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;

/**
 * Receives the events of tasks as they are sent and run: the hook metrics, tracing and audit logs
 * plug into. Register listeners with {@link Server.Builder#listener}; the server and every worker
 * it makes call them.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Explicit and free when unused.</b> Listeners are passed in, never discovered. A server
 *       without listeners skips every call (no event objects, no clock reads).
 *   <li><b>Order and threads.</b> For one send: {@link #publishing} then exactly one {@link #sent},
 *       on the sending thread. For one run: {@link #received}, maybe {@link #started}, then exactly
 *       one of {@link #finished} or {@link #notRun(Signature, NotRunCause, String) notRun}, all on
 *       the thread that handles the delivery, so a listener may keep thread-bound state (a tracing
 *       scope) from {@code received} to {@code finished}. Sends made while a task runs (its
 *       callbacks, chain and chord steps) happen inside that bracket. {@link #deadLettered} may
 *       come with or without a preceding {@code received} (a message that could not be decoded has
 *       no signature). {@link #deferred} comes alone: the task was neither received nor run, and
 *       its message went back to the broker. {@link #batchStarting} and then {@link #batchRan} come
 *       on a batch's own thread, once per call of a batched function, which runs between the two on
 *       that thread.
 *   <li><b>Failures.</b> A listener that throws a {@code RuntimeException} is logged and ignored:
 *       it never fails a send or a task. One that throws an {@code Error} in {@link #received} or
 *       {@link #started} stops the run before its function: the message goes back to the broker,
 *       counted towards {@code maxDeliveries}, and every listener is told {@link
 *       NotRunCause#ERROR}. An {@code Error} in an event that reports what already happened ({@link
 *       #finished}, {@link #notRun(Signature, NotRunCause, String) notRun}, {@link #sent}, {@link
 *       #deadLettered}, ...) is logged with the task and ignored: the outcome stands and the
 *       message is settled as it says. The other listeners still get the event the failing one
 *       threw in.
 *   <li><b>Cost.</b> Listeners run inline on hot paths; keep them short and non-blocking.
 * </ul>
 *
 * <p>Implementations must be thread-safe: many deliveries run at once.
 */
public interface TaskListener {

  /**
   * Inspects or amends a task before it is encoded and published (after its UUID and routing key
   * are set). Header values should be strings so that Go's AMQP broker accepts them and Go workers
   * carry them on.
   *
   * @param signature the task about to be published, as the previous listener returned it
   * @return the signature to publish: usually {@code signature} itself, or a copy with added
   *     headers (a trace context). A returned signature whose UUID or name differs from {@code
   *     signature}'s is ignored (and logged), as is a listener that throws: the previous signature
   *     is published. The default returns {@code signature}.
   */
  default Signature publishing(Signature signature) {
    return signature;
  }

  /**
   * Reports, once per {@link #publishing} call, whether the task was published.
   *
   * @param signature the task as {@link #publishing} returned it
   * @param error null when the broker accepted the message; otherwise why the task was not
   *     published (for instance its message did not encode or was over {@code
   *     Config.maxMessageBytes}, its PENDING state or its group could not be stored, the broker
   *     refused it, or the send was interrupted)
   */
  default void sent(Signature signature, @Nullable Throwable error) {}

  /**
   * Reports that a worker took a registered task from its queue and is about to run it.
   *
   * @param signature the task as it was delivered
   * @param queue the queue the task was taken from
   */
  default void received(Signature signature, String queue) {}

  /**
   * Reports that the worker is about to call the task function (after STARTED is stored and the
   * pre-task handler ran).
   *
   * @param signature the task as it was delivered
   */
  default void started(Signature signature) {}

  /**
   * Reports that the task function ran, or that its arguments could not be bound.
   *
   * @param outcome how the run ended: the resulting state, the error, the run time, and whether it
   *     was recorded
   */
  default void finished(TaskOutcome outcome) {}

  /**
   * Why a received task ended without an outcome ({@link #notRun(Signature, NotRunCause, String)}):
   * a closed set, small enough for a metric tag.
   */
  enum NotRunCause {
    /**
     * The worker stopped without waiting for the run ({@link Worker#quitAbruptly}, or a graceful
     * quit whose timeout passed), before, while or after the function ran: its message went back to
     * the broker at once, uncounted. Expected during a deploy.
     */
    SHUTDOWN,
    /**
     * The backend's call failed before the function ran (storing RECEIVED or STARTED threw or its
     * write failed): the message was requeued with a growing delay, counted towards {@code
     * maxDeliveries}. A sign of a backend outage.
     */
    BACKEND_FAILED,
    /**
     * Anything else stopped the run before the function ran: an {@code Error} ({@code
     * OutOfMemoryError}, {@code StackOverflowError}, a listener that threw one in {@link #received}
     * or {@link #started}), or an exception that did not come from the backend's call (an argument
     * that could not be converted, a clock that threw): the message was requeued as for {@link
     * #BACKEND_FAILED}. A sign of a bug or a starved JVM, not of an outage.
     */
    ERROR
  }

  /**
   * Reports that a received task ended without an outcome: the worker abandoned it (shutdown)
   * before or while it ran, or storing its state failed before it ran. The message went back to the
   * broker (or, past the worker's limits, was dead-lettered: then {@link #deadLettered} came just
   * before).
   *
   * <p>This is the method the worker calls. Its default calls {@link #notRun(Signature, String)},
   * so a listener written before the cause existed, which overrides that one, is still told;
   * override this one to see the cause (overriding both, only this one is called).
   *
   * @param signature the task as it was delivered
   * @param cause why it did not run, for programs (a metric tag, an alert)
   * @param reason why it did not run, for people (such as {@code "abandoned by shutdown"}, or the
   *     error that stopped it before it ran)
   */
  default void notRun(Signature signature, NotRunCause cause, String reason) {
    notRun(signature, reason);
  }

  /**
   * Reports that a received task ended without an outcome, without its cause: called only by the
   * default {@link #notRun(Signature, NotRunCause, String)}, which new listeners override instead.
   *
   * @param signature the task as it was delivered
   * @param reason why it did not run, for people
   */
  default void notRun(Signature signature, String reason) {}

  /**
   * Wraps the call of a task function that runs on another thread than the delivery's: a task with
   * a deadline ({@value Worker#TIMEOUT_HEADER} or {@link Worker.Builder#taskTimeout}), or any task
   * of a worker with {@link Worker.Builder#platformTaskThreads}. Called on the delivery's thread
   * after {@link #started}, so the returned callable can carry what this listener made current
   * there in {@link #received} (a tracing context) to the function's thread, where it runs. A
   * listener that throws here is ignored, its wrapping left out.
   *
   * @param signature the task about to run
   * @param call the function's call, which the worker runs on the other thread
   * @return {@code call} or a callable that runs it; the default returns {@code call}
   * @param <T> the call's result
   */
  default <T extends @Nullable Object> Callable<T> handingOver(
      Signature signature, Callable<T> call) {
    return call;
  }

  /**
   * Reports that a message was dead-lettered: it could not be decoded, was delivered too often,
   * named an unknown task too long, or its outcome could not be recorded.
   *
   * @param queue the queue the message came from
   * @param signature the task, or null when the message was set aside before it was decoded (it did
   *     not decode, was too large, or had been delivered too often)
   * @param reason why it was dead-lettered, as the broker records it
   */
  default void deadLettered(String queue, @Nullable Signature signature, String reason) {}

  /**
   * Reports that a worker handed a task back to its broker without running it, to be offered again
   * after a delay: its limit had no room, its circuit breaker was open, or no function is
   * registered for it here. The task keeps its state and its retries; it comes back as a new
   * delivery.
   *
   * @param signature the task as it was delivered
   * @param queue the queue the task was taken from, where it goes back
   * @param deferral why, under which key, and for how long
   */
  default void deferred(Signature signature, String queue, TaskDeferral deferral) {}

  /**
   * Reports that a batched task function ({@link TaskFunction#batchedWithContext}) is about to be
   * called for a batch of tasks. It comes on the batch's own thread, where the function then runs
   * and {@link #batchRan} follows, so a listener may keep thread-bound state from one to the other
   * (a tracing span current while the function runs, its own calls then that span's children); to
   * the listeners {@code batchRan} goes to, outside any task's {@link #received}/{@link #finished}
   * bracket.
   *
   * @param key the batch's key: what the key function returned, or {@code ""} without one
   * @param tasks the batch's tasks, in the order the function receives them
   */
  default void batchStarting(String key, List<Signature> tasks) {}

  /**
   * Reports that a batched task function ({@link TaskFunction#batchedWithContext}) was called for a
   * batch of tasks, once it returned or threw and before its tasks take their results. It comes on
   * the batch's own thread, outside any task's {@link #received}/{@link #finished} bracket, to the
   * listeners of the server whose worker ran the batch's first task; each task of the batch still
   * reports its own events.
   *
   * @param run the task name, the batch's key and size, how long the function ran and what it threw
   */
  default void batchRan(BatchRun run) {}
}
