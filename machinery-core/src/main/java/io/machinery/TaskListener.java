package io.machinery;

import org.jspecify.annotations.Nullable;

/**
 * Receives the events of tasks as they are sent and run: the hook metrics, tracing and audit logs plug into.
 * Register listeners with {@link Server.Builder#listener}; the server and every worker it makes call them.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Explicit and free when unused.</b> Listeners are passed in, never discovered. A server without
 *       listeners skips every call (no event objects, no clock reads).
 *   <li><b>Order and threads.</b> For one send: {@link #publishing} then exactly one {@link #sent}, on the
 *       sending thread. For one run: {@link #received}, maybe {@link #started}, then exactly one of {@link
 *       #finished} or {@link #notRun}, all on the thread that handles the delivery, so a listener may keep
 *       thread-bound state (a tracing scope) from {@code received} to {@code finished}. Sends made while a task
 *       runs (its callbacks, chain and chord steps) happen inside that bracket. {@link #deadLettered} may come
 *       with or without a preceding {@code received} (a message that could not be decoded has no signature).
 *   <li><b>Failures.</b> A listener that throws is logged and ignored: it never fails a send or a task.
 *   <li><b>Cost.</b> Listeners run inline on hot paths; keep them short and non-blocking.
 * </ul>
 *
 * <p>Implementations must be thread-safe: many deliveries run at once.
 */
public interface TaskListener {

  /**
   * Called before a task is encoded and published (after its UUID and routing key are set). Returns the
   * signature to publish: usually {@code signature} itself, or a copy with added headers (a trace context).
   * Header values should be strings so that Go's AMQP broker accepts them and Go workers carry them on.
   */
  default Signature publishing(Signature signature) {
    return signature;
  }

  /** Called once after {@link #publishing}: the publish succeeded ({@code error} null) or failed. */
  default void sent(Signature signature, @Nullable Throwable error) {}

  /** A worker took a registered task from its queue and is about to run it. */
  default void received(Signature signature, String queue) {}

  /** The worker is about to call the task function (after STARTED is stored and the pre-task handler ran). */
  default void started(Signature signature) {}

  /** The task function ran (or its arguments could not be bound): see the outcome. */
  default void finished(TaskOutcome outcome) {}

  /**
   * A received task ended without an outcome: the worker abandoned it (shutdown) before or while it ran, or
   * storing its state failed before it ran. The message went back to the broker (or, past the worker's limits,
   * was dead-lettered: then {@link #deadLettered} came just before).
   */
  default void notRun(Signature signature, String reason) {}

  /**
   * A message was dead-lettered: it could not be decoded, was delivered too often, named an unknown task too
   * long, or its outcome could not be recorded. {@code signature} is null when the bytes did not decode.
   */
  default void deadLettered(String queue, @Nullable Signature signature, String reason) {}
}
