package io.machinery;

import io.machinery.spi.Delivery;
import io.machinery.wire.LogText;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.Set;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's side of one delivery, from bytes to settlement: size limit, decoding, poison limit,
 * unknown tasks, then the {@link TaskExecution}, and the settlement that follows from how it ended.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Exactly once.</b> Every delivery is wrapped in {@link SettleOnce} and settled exactly
 *       once whatever is thrown, {@code Error}s included ({@code StackOverflowError} from a deeply
 *       nested message, {@code OutOfMemoryError} while decoding): the last-resort handler in {@link
 *       #process} settles whatever is still unsettled and the worker carries on.
 *   <li><b>Which settlement.</b> Bytes that cannot be a task (too large, not decodable) are
 *       dead-lettered with the reason: they would fail the same way on every worker. A failure
 *       before the task function ran is requeued with a doubling back-off, the count kept in the
 *       message (header {@value MessageHeaders#REQUEUES}, via {@link Delivery#requeue(Duration,
 *       byte[])}), and dead-lettered once it passes {@code maxDeliveries}. A run whose bookkeeping
 *       failed is dead-lettered (requeueing would run the function again). A run abandoned by
 *       shutdown goes back at once, uncounted. A run that ended in FAILURE is acknowledged, as in
 *       Go, or, with {@code keepFailedTasks}, dead-lettered with its error for a person to run
 *       again.
 *   <li><b>What the listeners are told</b> when a run ends before its function: {@code
 *       BACKEND_FAILED} only when the backend's call failed ({@link TaskExecution.BackendFailed}),
 *       {@code ERROR} for anything else, a listener's {@code Error} in {@code received} included
 *       (the task then does not run; its message is requeued, counted), {@code SHUTDOWN} whenever
 *       the worker abandoned the run.
 *   <li><b>Breakers and limits</b> ({@link TaskBreakers}, then {@link TaskLimits}) are asked after
 *       decoding, before the run: a task that must wait is handed back with a delay, uncounted as a
 *       failure. The breaker is told how the run ended; a run that did not happen (its limit
 *       deferred it, the backend failed first) tells it nothing.
 *   <li><b>Poison messages.</b> A message the broker says it handed out more than {@code
 *       maxDeliveries} times ({@link Delivery#deliveryCount()}) is dead-lettered before it is
 *       decoded: decoding may be what kills or stalls every worker it reaches.
 * </ul>
 *
 * <p>Thread-safe; {@link #process} runs on each delivery's own thread.
 */
final class Intake {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  /** How the reason of a failed task kept by Worker.Builder#keepFailedTasks begins. */
  private static final String KEPT_FAILURE_PREFIX = "failed, kept to run again: ";

  private final TaskExecution.Settings settings;
  private final UnregisteredBackoff unregistered;
  private final int maxDeliveries;
  private final Backoff requeueBackoff;
  private final Set<TaskExecution> running;
  private final Consumer<Throwable> errors;
  private final String consumerTag;
  private final Revocations revocations;
  private final TaskLimits limits;
  private final TaskBreakers breakers;
  private final boolean keepFailedTasks;

  /** What a task passed through before it runs: its breaker's ticket and its limit's permit. */
  private record Admitted(TaskBreakers.Ticket ticket, TaskLimits.Permit permit) {
    static final Admitted FREE = new Admitted(TaskBreakers.UNBROKEN, TaskLimits.UNLIMITED);
  }

  /**
   * @param running where runs are registered while they execute, so the worker can abandon them
   * @param errors receives failures the worker's error handler should see
   * @param keepFailedTasks whether a task that ends in FAILURE is dead-lettered instead of
   *     acknowledged (Worker.Builder#keepFailedTasks)
   */
  Intake(
      TaskExecution.Settings settings,
      UnregisteredBackoff unregistered,
      int maxDeliveries,
      Backoff requeueBackoff,
      Set<TaskExecution> running,
      Consumer<Throwable> errors,
      Revocations revocations,
      TaskLimits limits,
      TaskBreakers breakers,
      boolean keepFailedTasks) {
    this.settings = settings;
    this.unregistered = unregistered;
    this.maxDeliveries = maxDeliveries;
    this.requeueBackoff = requeueBackoff;
    this.running = running;
    this.errors = errors;
    this.consumerTag = settings.consumerTag();
    this.revocations = revocations;
    this.limits = limits;
    this.breakers = breakers;
    this.keepFailedTasks = keepFailedTasks;
  }

  /** Handles one delivery and settles it exactly once, whatever is thrown. */
  void process(Delivery raw) {
    process(raw, false);
  }

  /**
   * Handles one delivery and settles it exactly once, whatever is thrown.
   *
   * @param inline true when the delivery runs in the sender's thread and cannot be requeued (the
   *     eager broker): a task limit then waits here instead of deferring the message
   */
  void process(Delivery raw, boolean inline) {
    process(raw, inline, () -> {});
  }

  /**
   * As {@link #process(Delivery, boolean)}, telling {@code functionEnded} when the task function
   * has returned or thrown (the worker's slot can then serve another task while this one settles).
   */
  void process(Delivery raw, boolean inline, Runnable functionEnded) {
    SettleOnce delivery = new SettleOnce(raw);
    Signature signature = null;
    TaskMdc mdc = null;
    try {
      signature = intake(delivery);
      if (signature == null) {
        return;
      }
      mdc = TaskMdc.of(signature, raw.queue());
      TaskFunction function = settings.server().findTask(signature.name());
      if (function == null) {
        handleUnregistered(delivery, signature);
        return;
      }
      Admitted admitted = admit(delivery, signature, inline);
      if (admitted == null) {
        return;
      }
      try (TaskLimits.Permit permit = admitted.permit()) {
        execute(delivery, signature, function, functionEnded, admitted.ticket());
      } finally {
        // the run reports its verdict when its function ends; one that never got there counts not
        admitted.ticket().report(TaskBreakers.Verdict.NEUTRAL, null);
      }
    } catch (Throwable t) {
      if (!delivery.settled()) {
        if (signature == null) {
          deadLetter(delivery, null, "could not process the message: " + t);
        } else {
          requeueCounted(delivery, signature, t.toString());
        }
      }
      log.error(
          "Worker {}: unexpected failure handling {} from queue {}",
          consumerTag,
          signature == null
              ? "a message"
              : "task " + LogText.of(signature.name()) + " " + LogText.of(signature.uuid()),
          LogText.of(raw.queue()),
          t);
    } finally {
      if (signature != null) {
        endRun(signature);
      }
      if (mdc != null) {
        mdc.close();
      }
    }
  }

  private void endRun(Signature signature) {
    try {
      settings.server().backend().runEnded(signature);
    } catch (RuntimeException e) {
      log.warn(
          "Worker {}: the backend failed to end the run of task {}: {}",
          consumerTag,
          LogText.of(signature.uuid()),
          e.toString());
    }
  }

  /** The decoded message, or null when it was dead-lettered. */
  private @Nullable Signature intake(SettleOnce delivery) {
    int deliveries = delivery.deliveryCount();
    if (maxDeliveries > 0 && deliveries > maxDeliveries) {
      // Checked before decoding: decoding may be what kills the worker each time.
      deadLetter(
          delivery,
          null,
          "delivered "
              + deliveries
              + " times without being settled (over maxDeliveries "
              + maxDeliveries
              + "): a message that stops or stalls every worker it reaches");
      return null;
    }
    byte[] body = delivery.body();
    int limit = settings.server().config().maxMessageBytes();
    if (body.length > limit) {
      deadLetter(
          delivery,
          null,
          "message of " + body.length + " bytes is over the limit of " + limit + " bytes");
      return null;
    }
    try {
      return WireCodec.decodeSignature(body, settings.server().config());
    } catch (MalformedMessageException e) {
      deadLetter(delivery, null, e.getMessage());
    } catch (StackOverflowError e) {
      deadLetter(
          delivery,
          null,
          "Could not unmarshal the message into a task signature: it is nested too deeply");
    } catch (Throwable t) {
      // An OutOfMemoryError or a decoder bug: the same bytes would fail again on every worker.
      deadLetter(delivery, null, "Could not unmarshal the message into a task signature: " + t);
    }
    return null;
  }

  /**
   * The task's breaker ticket and limit permit, or null when the message was handed back to wait
   * (see {@link TaskBreakers} and {@link TaskLimits}).
   */
  private @Nullable Admitted admit(SettleOnce delivery, Signature signature, boolean inline) {
    if ((limits.isEmpty() && breakers.isEmpty())
        || revocations.isRevoked(signature.uuid())
        || TaskExecution.expired(signature, settings.server().clock()) != null) {
      return Admitted.FREE; // it will not run: nothing to wait for
    }
    TaskBreakers.Ticket ticket = passBreaker(delivery, signature, inline);
    if (ticket == null) {
      return null;
    }
    TaskLimits.Permit permit = enterLimit(delivery, signature, inline);
    if (permit == null) {
      ticket.report(
          TaskBreakers.Verdict.NEUTRAL, null); // a trial deferred by its limit frees its turn
      return null;
    }
    return new Admitted(ticket, permit);
  }

  /** The task's breaker ticket, or null when the message was parked while its breaker is open. */
  private TaskBreakers.@Nullable Ticket passBreaker(
      SettleOnce delivery, Signature signature, boolean inline) {
    if (breakers.isEmpty()) {
      return TaskBreakers.UNBROKEN;
    }
    TaskBreakers.Entry entry =
        ask(
            delivery,
            signature,
            "its breaker",
            () -> inline ? breakers.enterWaiting(signature) : breakers.enter(signature));
    if (entry == null || entry instanceof TaskBreakers.Ticket) {
      return (TaskBreakers.Ticket) entry;
    }
    TaskBreakers.Park park = (TaskBreakers.Park) entry;
    log.debug(
        "Worker {}: task {} {} waits while its breaker {} is {}; handed back for {} (parking {})",
        consumerTag,
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        LogText.of(park.key()),
        park.state(),
        park.delay(),
        park.parkings());
    deferred(
        delivery,
        signature,
        new TaskDeferral(TaskDeferral.Reason.BREAKER, park.key(), park.delay(), park.parkings()));
    requeueReplaced(delivery, park.replacement(), park.delay());
    return null;
  }

  /** The task's limit permit, or null when the message was handed back to wait. */
  private TaskLimits.@Nullable Permit enterLimit(
      SettleOnce delivery, Signature signature, boolean inline) {
    if (limits.isEmpty()) {
      return TaskLimits.UNLIMITED;
    }
    TaskLimits.Entry entry =
        ask(
            delivery,
            signature,
            "its task limit",
            () -> inline ? limits.enterWaiting(signature) : limits.enter(signature));
    if (entry == null || entry instanceof TaskLimits.Permit) {
      return (TaskLimits.Permit) entry;
    }
    TaskLimits.Defer defer = (TaskLimits.Defer) entry;
    log.debug(
        "Worker {}: task {} {} waits for its limit (key {}); handed back for {} (deferral {})",
        consumerTag,
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        LogText.of(defer.key()),
        defer.delay(),
        defer.deferrals());
    deferred(
        delivery,
        signature,
        new TaskDeferral(TaskDeferral.Reason.LIMIT, defer.key(), defer.delay(), defer.deferrals()));
    requeueReplaced(delivery, defer.replacement(), defer.delay());
    return null;
  }

  /** A gate's question: a breaker's or a limit's. */
  private interface Gate<T> {
    T enter() throws InterruptedException;
  }

  /**
   * What {@code gate} answers, or null when it could not: interrupted (the message goes back at
   * once) or failing (a key function that throws, a store that cannot be reached: a counted
   * requeue, as any failure to process the message).
   */
  private <T> @Nullable T ask(SettleOnce delivery, Signature signature, String what, Gate<T> gate) {
    try {
      return gate.enter();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      delivery.requeue(Duration.ZERO);
      return null;
    } catch (RuntimeException e) {
      errors.accept(e);
      requeueCounted(delivery, signature, what + " could not be checked: " + e);
      return null;
    }
  }

  private void execute(
      SettleOnce delivery,
      Signature signature,
      TaskFunction function,
      Runnable functionEnded,
      TaskBreakers.Ticket ticket) {
    boolean possiblyRerun =
        delivery.redelivered()
            || delivery.deliveryCount() > 1
            || MessageHeaders.count(signature, MessageHeaders.REQUEUES) > 0;
    TaskListener listener = settings.listener();
    boolean listening = listener != Listeners.NONE;
    TaskExecution execution =
        new TaskExecution(settings, signature, function, possiblyRerun, functionEnded);
    execution.reportTo(ticket);
    execution.heldBy(delivery::stillHeld);
    if (listening && !received(delivery, signature, listener)) {
      return;
    }
    if (revocations.isRevoked(signature.uuid())) {
      log.info(
          "Worker {}: task {} {} was cancelled; it will not run",
          consumerTag,
          LogText.of(signature.name()),
          LogText.of(signature.uuid()));
      execution.revokeBeforeStart();
    }
    running.add(execution);
    // What the listeners hear when no outcome was reported. Only an Error escapes the catches
    // below; a run that got past them without an outcome was abandoned (see notRunCause).
    String notRun = "the run ended without an outcome";
    TaskListener.NotRunCause cause = TaskListener.NotRunCause.ERROR;
    try {
      execution.run();
      if (execution.endedInFailure() && signature.stopTaskDeletionOnError()) {
        delivery
            .keepAfterFailure(); // Go's ErrStopTaskDeletion: SQS leaves it to its redrive policy
      } else if (execution.endedInFailure() && keepFailedTasks) {
        keepFailed(delivery, signature, execution.failure());
      } else {
        delivery.ack();
      }
    } catch (TaskExecution.Cancelled e) {
      notRun = "abandoned by shutdown";
      cause = TaskListener.NotRunCause.SHUTDOWN;
      log.warn(
          "Worker {}: task {} {} was abandoned by shutdown; returning it to the broker",
          consumerTag,
          LogText.of(signature.name()),
          LogText.of(signature.uuid()));
      delivery.requeue(Duration.ZERO);
    } catch (TaskExecution.HoldLost e) {
      notRun = "its outcome was dropped: " + e.getMessage();
      log.warn(
          "Worker {}: task {} {} ran, but {}; dropping this run's outcome, the copy handed out"
              + " again owns it",
          consumerTag,
          LogText.of(signature.name()),
          LogText.of(signature.uuid()),
          e.getMessage());
      delivery.leave();
    } catch (TaskExecution.BookkeepingFailed e) {
      // The function ran: requeueing would run it again. A person can replay the dead letter.
      // Settled before the error handler hears of it: an Error it throws must not leave the
      // message unsettled, for the last-resort handler would then requeue it and run it again.
      deadLetter(
          delivery,
          signature,
          "task "
              + LogText.of(signature.name())
              + " "
              + LogText.of(signature.uuid())
              + " ran, but its outcome could not be recorded: "
              + e.getMessage());
      errors.accept(e);
    } catch (TaskExecution.BackendFailed e) {
      // The function did not run (the backend failed before it): safe to try again later.
      Throwable backendError = e.getCause() == null ? e : e.getCause();
      errors.accept(backendError);
      notRun = backendError.toString();
      cause = TaskListener.NotRunCause.BACKEND_FAILED;
      requeueCounted(delivery, signature, notRun);
    } catch (RuntimeException e) {
      // The function did not run, but not for the backend (a clock that threw, a bug): tried
      // again as well, counted, so a message that fails this way each time ends dead-lettered.
      errors.accept(e);
      notRun = e.toString();
      cause = TaskListener.NotRunCause.ERROR;
      requeueCounted(delivery, signature, notRun);
    } finally {
      if (listening && !execution.outcomeReported()) {
        listener.notRun(signature, notRunCause(execution, cause), notRun);
      }
      execution.finish();
      running.remove(execution);
      if (execution.wasCancelled()) {
        Thread.interrupted(); // do not leak the cancellation interrupt into the next use of this
        // thread
      }
    }
  }

  /**
   * Tells the listeners that the task was received; false when one of them threw an {@code Error}
   * there (a {@code RuntimeException} {@link Listeners} logs and ignores). The task then does not
   * run: its delivery is requeued, counted, as any failure before a run (dead-lettered past {@code
   * maxDeliveries}), the listeners are told {@link TaskListener.NotRunCause#ERROR}, and the worker
   * thread carries on. Running the task anyway would skip whatever the listener failed to set up (a
   * trace, an audit record), and a listener that cannot run for want of memory or stack would fail
   * again in {@code started}.
   */
  private boolean received(SettleOnce delivery, Signature signature, TaskListener listener) {
    try {
      listener.received(signature, delivery.queue());
      return true;
    } catch (Throwable t) {
      String reason = "a listener threw in received: " + t;
      log.error(
          "Worker {}: a listener threw when task {} {} was received from queue {}; the task did"
              + " not run",
          consumerTag,
          LogText.of(signature.name()),
          LogText.of(signature.uuid()),
          LogText.of(delivery.queue()),
          t);
      requeueCounted(delivery, signature, reason);
      listener.notRun(signature, TaskListener.NotRunCause.ERROR, reason);
      errors.accept(t);
      return false;
    }
  }

  /**
   * Why a run ended without an outcome: shutdown whenever the worker abandoned it, whatever that
   * made it throw (an interrupted backend call included), else what was caught. Only an abandoned
   * run skips reporting an outcome once its function ran (TaskExecution#reportOutcome), so a run
   * that returned, lost its hold or failed its bookkeeping without one was abandoned.
   */
  private static TaskListener.NotRunCause notRunCause(
      TaskExecution execution, TaskListener.NotRunCause caught) {
    return execution.isAbandoned() ? TaskListener.NotRunCause.SHUTDOWN : caught;
  }

  /**
   * Requeues with a growing delay, counting in the message; dead-letters past {@code
   * maxDeliveries}.
   */
  private void requeueCounted(SettleOnce delivery, Signature signature, String reason) {
    int requeues = MessageHeaders.count(signature, MessageHeaders.REQUEUES) + 1;
    if (maxDeliveries > 0 && requeues > maxDeliveries) {
      String why =
          "task "
              + LogText.of(signature.name())
              + " "
              + LogText.of(signature.uuid())
              + " could not be processed "
              + requeues
              + " times (over maxDeliveries "
              + maxDeliveries
              + "), last: "
              + reason;
      deadLetter(delivery, signature, why);
      try {
        settings.server().backend().setStateFailure(signature, why);
      } catch (RuntimeException e) {
        log.debug(
            "Could not store FAILURE for dead-lettered task {}: {}",
            LogText.of(signature.uuid()),
            e.toString());
      }
      return;
    }
    Duration delay = requeueBackoff.delay(requeues);
    log.error(
        "Worker {}: could not process task {} {} ({}); requeuing it in {} (requeue {} of at most {})",
        consumerTag,
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        LogText.of(reason),
        delay,
        requeues,
        maxDeliveries);
    requeueReplaced(
        delivery, MessageHeaders.with(signature, MessageHeaders.REQUEUES, requeues), delay);
  }

  private void handleUnregistered(SettleOnce delivery, Signature signature) {
    String name = LogText.of(signature.name());
    switch (unregistered.decide(signature, delivery.deliveryCount())) {
      case UnregisteredBackoff.Drop drop -> {
        log.warn(
            "Worker {}: dropping task {} {}: not registered here and IgnoreWhenTaskNotRegistered is set",
            consumerTag,
            name,
            LogText.of(signature.uuid()));
        delivery.ack();
      }
      case UnregisteredBackoff.DeadLetter dead -> deadLetter(delivery, signature, dead.reason());
      case UnregisteredBackoff.Requeue requeue -> {
        if (unregistered.shouldWarn(signature.name())) {
          log.warn(
              "Worker {}: task {} is not registered with this worker; requeuing such messages with back-off"
                  + " (this one: {}, requeue {} in {})",
              consumerTag,
              name,
              LogText.of(signature.uuid()),
              requeue.requeues(),
              requeue.delay());
        } else {
          log.debug(
              "Worker {}: requeuing unregistered task {} {} in {}",
              consumerTag,
              name,
              LogText.of(signature.uuid()),
              requeue.delay());
        }
        deferred(
            delivery,
            signature,
            new TaskDeferral(
                TaskDeferral.Reason.UNREGISTERED,
                signature.name(),
                requeue.delay(),
                requeue.requeues()));
        requeueReplaced(delivery, requeue.replacement(), requeue.delay());
      }
    }
  }

  /**
   * Tells the listeners that a task goes back to its broker without running: before the hand-back,
   * so the event comes before the message can be delivered again (and before an idle memory broker
   * lets a test in virtual time look).
   */
  private void deferred(SettleOnce delivery, Signature signature, TaskDeferral deferral) {
    if (settings.listener() != Listeners.NONE) {
      settings.listener().deferred(signature, delivery.queue(), deferral);
    }
  }

  private void requeueReplaced(SettleOnce delivery, Signature replacement, Duration delay) {
    byte[] body;
    try {
      body = WireCodec.encode(replacement);
    } catch (RuntimeException e) {
      delivery.requeue(delay); // the count is lost, the broker's delivery count still bounds it
      return;
    }
    delivery.requeue(delay, body);
  }

  /**
   * A task that ended in FAILURE, kept for a person to run again (Worker.Builder#keepFailedTasks):
   * its message, the rest of its chain included, goes to the dead letters with the error as the
   * reason. FAILURE is stored and the error callbacks have run, as without the option.
   */
  private void keepFailed(SettleOnce delivery, Signature signature, String error) {
    String reason =
        KEPT_FAILURE_PREFIX + "task " + signature.name() + " " + signature.uuid() + ": " + error;
    log.warn(
        "Worker {}: task {} {} failed; its message waits among the dead letters of queue {} to run"
            + " again",
        consumerTag,
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        LogText.of(delivery.queue()));
    delivery.deadLetter(reason);
    if (settings.listener() != Listeners.NONE) {
      settings.listener().deadLettered(delivery.queue(), signature, reason);
    }
  }

  private void deadLetter(SettleOnce delivery, @Nullable Signature signature, String reason) {
    log.error(
        "Worker {}: dead-lettering a message from queue {}: {}",
        consumerTag,
        LogText.of(delivery.queue()),
        LogText.of(reason));
    delivery.deadLetter(reason);
    if (settings.listener() != Listeners.NONE) {
      settings.listener().deadLettered(delivery.queue(), signature, reason);
    }
  }
}
