package io.machinery;

import io.machinery.internal.Causes;
import io.machinery.internal.Fibonacci;
import io.machinery.internal.GoDurations;
import io.machinery.internal.GoTypes;
import io.machinery.spi.Backend;
import io.machinery.wire.LogText;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One run of one task through Go's state machine (spec §2.5–2.8), and the bookkeeping that records
 * it.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Two phases.</b> Before the function runs (RECEIVED, argument reflection, STARTED,
 *       pre-task handler) a failure is safe to answer by requeueing the message: {@link #run()}
 *       throws it and the worker requeues with a counted back-off. Once the function has returned,
 *       thrown or timed out, its outcome is fixed and only the bookkeeping is retried: the final
 *       state, the retry message, callbacks and chord completion are separate steps, each retried
 *       with {@link Settings#bookkeepingBackoff} up to {@link Settings#bookkeepingAttempts} times,
 *       so a step that succeeded is never repeated and <em>the function is never run again because
 *       bookkeeping failed</em>. A step that still fails ends in {@link BookkeepingFailed}; the
 *       worker dead-letters the message with the reason (requeueing it would run the function
 *       again). Results the backend refuses to hold ({@link IllegalArgumentException}: over an
 *       item's size) are not tried again: the task ends in FAILURE with the reason.
 *   <li><b>Redelivered after its SUCCESS was stored.</b> A message that may have run before (see
 *       {@code possiblyRerun}), and a DAG task with dependencies (sent at least once, so another
 *       copy of it may have finished), first reads its task's state, one round trip that first
 *       deliveries of other tasks never pay: when an earlier delivery or copy stored SUCCESS (its
 *       worker died before acknowledging, say), the function does not run again; the run takes the
 *       stored results and does the bookkeeping that follows a success (SUCCESS written again,
 *       callbacks, chord, DAG), which that delivery may not have finished. Not on a backend whose
 *       reads consume states (AMQP).
 *   <li><b>Handlers.</b> A pre- or post-task handler that throws is logged and ignored: it neither
 *       fails the task nor sends the message round again.
 *   <li><b>Threads.</b> Without a deadline the function runs on the delivery thread (a virtual
 *       thread). With one, or with the worker's platform pool, it runs on its own thread while the
 *       delivery thread waits for it, up to the task's deadline ({@link Settings#taskTimeout} or
 *       the message's {@value MessageHeaders#TIMEOUT} header: milliseconds, or a Go duration such
 *       as "90s"). At the deadline the function's thread is interrupted and abandoned and the run
 *       counts as a failure "task timed out after …" (retried when the task has retries left); a
 *       function that ignores the interrupt keeps its thread, not the slot.
 *   <li><b>Abandoned.</b> When the worker gives up on this run ({@link #abandon()}: graceful
 *       timeout passed, or abrupt quit) no further state is written and no callback is sent,
 *       whatever the threads are doing.
 *   <li><b>A hold that broke.</b> Before each bookkeeping step the run asks its delivery whether
 *       the broker still holds the message ({@link #heldBy}, {@link
 *       io.machinery.spi.Delivery#stillHeld()}). A worker paused longer than its lease (a long
 *       collection, SIGSTOP, a frozen VM) or cut off from the broker may find its message handed to
 *       another worker meanwhile, whose copy may already have stored SUCCESS; writing this run's
 *       FAILURE or RETRY over it, sending its error callbacks or publishing its retry would
 *       contradict what the client was told. So once the hold broke the run reads the task's state:
 *       when another run stored SUCCESS, FAILURE or RETRY, this one stops with {@link HoldLost}
 *       (nothing more is recorded; that run owns the outcome); when none did, it records its own as
 *       before, so a task that always outlives its hold still ends ({@link #checkHeld}). A
 *       redelivered copy that finds this run's stored SUCCESS finishes the bookkeeping (see above),
 *       whatever its own hold says later: that SUCCESS is the one it carries on from.
 *   <li><b>Chords</b> are completed by {@link ChordCompletion} (at least once, terminal when the
 *       group is gone), and a DAG task's dependents by {@link DagCompletion}.
 *   <li><b>Callbacks cancelled before they were sent</b> (a chain's next step, a chord callback,
 *       cancelled while the task before them ran) are not sent: their FAILURE "cancelled" stands
 *       and their own error callbacks are sent instead ({@link #cancelledBeforeSent}). One read of
 *       the callback's state per callback, where reads do not consume states.
 * </ul>
 *
 * <p>Used by one delivery thread; {@link #abandon()} and the {@link TaskContext} methods from any
 * thread. Over 400 lines: the two phases share the run's state (cancellation, deadline,
 * abandonment) and read best together.
 */
final class TaskExecution implements TaskContext {
  private static final Logger log = LoggerFactory.getLogger(TaskExecution.class);

  /** What an execution needs from its worker. */
  record Settings(
      Server server,
      String consumerTag,
      @Nullable Consumer<Signature> preTaskHandler,
      @Nullable Consumer<Signature> postTaskHandler,
      @Nullable Consumer<TaskOutcome> postTaskOutcomeHandler,
      TaskListener listener,
      Consumer<TaskFailedException> failureReporter,
      ExecutorService taskThreads,
      boolean platformThreads,
      Duration taskTimeout,
      Backoff bookkeepingBackoff,
      int bookkeepingAttempts,
      Pause pause) {}

  /** Waits between bookkeeping attempts; a test can replace it. */
  @FunctionalInterface
  interface Pause {
    void pause(Duration delay) throws InterruptedException;
  }

  /** Thrown by {@link #run()} when the worker stops without waiting for this run. */
  static final class Cancelled extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Cancelled() {
      super("cancelled by shutdown", null, false, false);
    }
  }

  /**
   * Thrown by {@link #run()} when the backend failed before the function ran (storing RECEIVED or
   * STARTED): the function did not run, so the message may be tried again. Its cause is what the
   * backend threw (unwrapped from its future), which tells a backend outage from any other failure
   * before the run.
   */
  static final class BackendFailed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BackendFailed(Throwable cause) {
      super(cause.toString(), cause);
    }
  }

  /** Thrown by {@link #run()} when the function ran but its outcome could not be recorded. */
  static final class BookkeepingFailed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BookkeepingFailed(String message, @Nullable Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * Thrown by {@link #run()} when the broker may have handed this run's message to another consumer
   * ({@link io.machinery.spi.Delivery#stillHeld()} said so before a bookkeeping step): nothing more
   * is recorded, the copy handed out again owns the outcome.
   */
  static final class HoldLost extends RuntimeException {
    private static final long serialVersionUID = 1L;

    HoldLost(String what, State stored) {
      super(
          "this worker's hold on its message lapsed before "
              + what
              + " (paused, or cut off from the broker), so the broker may have handed it out again, and the"
              + " task's state is already "
              + stored,
          null,
          false,
          false);
    }
  }

  /** A chord's group meta or a member state is no longer in the backend: retrying cannot help. */
  static final class GroupMissing extends RuntimeException {
    private static final long serialVersionUID = 1L;

    GroupMissing(RuntimeException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /** The backend or broker refused a value: retrying cannot help. */
  private static final class Refused extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Refused(IllegalArgumentException cause) {
      super(cause.getMessage(), cause);
    }
  }

  private sealed interface Outcome {}

  private record Succeeded(List<TaskResult> results) implements Outcome {}

  private record RetryIn(Duration delay) implements Outcome {}

  private record Failed(String error, boolean retryable) implements Outcome {}

  private final Settings settings;
  private final Backend backend;
  private final Signature signature;

  /** The error stored with the final FAILURE; null until then. */
  private volatile @Nullable String failure;

  private final TaskFunction function;
  private final boolean possiblyRerun;

  /** This task's DAG, once read ({@link #dagHeader()}); null until then. */
  private @Nullable Optional<DagHeader> dagHeader;

  /** What reading this task's DAG threw; null unless it did. */
  private @Nullable RuntimeException dagHeaderError;

  private final Thread deliveryThread;
  private volatile boolean cancelled;
  private volatile boolean abandoned;

  /** Told when the function has returned or thrown (the worker frees the run's slot). */
  private final Runnable functionEndedHook;

  private volatile boolean timedOut;

  /** Whether the arguments were bound to the function's parameters (a later error is its own). */
  private volatile boolean bound;

  /** How the function's run ended, for a {@link TaskBreaker}; set when it has ended. */
  private volatile TaskBreakers.Verdict verdict = TaskBreakers.Verdict.NEUTRAL;

  /** What the function threw (or a timeout) when {@link #verdict} is FAILED. */
  private volatile @Nullable Throwable verdictError;

  /** Told the verdict as soon as the function has ended, before the outcome is recorded. */
  private TaskBreakers.Ticket breakerTicket = TaskBreakers.UNBROKEN;

  /** Whether the broker still holds this run's message; asked before each bookkeeping step. */
  private BooleanSupplier held = () -> true;

  /**
   * Set once a broken hold was looked into and no other run had finished, or when this run carries
   * on from a SUCCESS an earlier run stored (that SUCCESS is no other copy's outcome to give way
   * to): the hold is asked no more.
   */
  private boolean recordDespiteBrokenHold;

  /** Cancelled by {@link Server#cancel}: recorded as FAILURE {@value Server#CANCELLED_ERROR}. */
  private volatile boolean revoked;

  /**
   * The thread running the function while it runs (to interrupt it after a revocation's grace
   * period).
   */
  private @Nullable Thread functionThread;

  /**
   * The timer that interrupts a revoked function after the grace period; stopped when the run
   * finishes.
   */
  private @Nullable Thread revokeTimer;

  private boolean finished;
  private long runNanos;
  private boolean outcomeReported;
  private final java.time.Instant receivedAt;

  /**
   * @param possiblyRerun whether an earlier delivery of this message may have run (redelivered, or
   *     requeued by a worker): then a stored SUCCESS is not run again, and a lost chord trigger is
   *     checked for a callback that was never sent
   */
  TaskExecution(
      Settings settings, Signature signature, TaskFunction function, boolean possiblyRerun) {
    this(settings, signature, function, possiblyRerun, () -> {});
  }

  /**
   * @param functionEnded told once the task function has returned or thrown, on the thread it ran
   *     on (also for a function abandoned at its deadline, when it finally ends); never told for a
   *     run whose function did not start
   */
  TaskExecution(
      Settings settings,
      Signature signature,
      TaskFunction function,
      boolean possiblyRerun,
      Runnable functionEnded) {
    this.functionEndedHook = functionEnded;
    this.settings = settings;
    this.backend = settings.server().backend();
    this.signature = signature;
    this.function = function;
    this.possiblyRerun = possiblyRerun;
    this.deliveryThread = Thread.currentThread();
    this.receivedAt = settings.server().clock().instant();
  }

  /** The server's configuration (its message limits, for a message carried in a header). */
  io.machinery.config.Config config() {
    return settings.server().config();
  }

  /** The server's listeners ({@link Listeners#NONE} without any), for a batch's own event. */
  TaskListener listener() {
    return settings.listener();
  }

  /** When this run was created: the delivery arrived and the function was about to start. */
  java.time.Instant receivedAt() {
    return receivedAt;
  }

  @Override
  public Signature signature() {
    return signature;
  }

  @Override
  public int attempt() {
    return MessageHeaders.attempt(signature);
  }

  @Override
  public boolean isCancelled() {
    return cancelled || timedOut || revoked;
  }

  @Override
  public void reportProgress(double percent, String message) {
    TaskProgress progress = new TaskProgress(percent, message, settings.server().clock().instant());
    backend.setProgress(signature.uuid(), progress);
  }

  /**
   * Stops this run: the function and the delivery thread are interrupted, nothing more is recorded.
   */
  void abandon() {
    synchronized (this) {
      if (finished) {
        return; // the delivery thread may already serve someone else (the eager broker's caller)
      }
      cancelled = true;
      abandoned = true;
      deliveryThread.interrupt();
    }
  }

  /**
   * The task was revoked before it started: it will not run, its state becomes FAILURE "cancelled".
   */
  void revokeBeforeStart() {
    revoked = true;
  }

  /**
   * The task was revoked while it may run: {@link #isCancelled()} turns true at once, and the
   * function's thread is interrupted after {@code grace} if the function is still running then.
   * Whatever the function returns or throws afterwards, the run ends in FAILURE {@value
   * Server#CANCELLED_ERROR} (no retry).
   */
  void revoke(Duration grace) {
    synchronized (this) {
      if (finished || revoked) {
        return;
      }
      revoked = true;
    }
    log.info(
        "Task {} {} was cancelled; interrupting it in {} unless it stops first",
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        grace);
    Thread timer =
        Thread.ofVirtual()
            .name("machinery-cancel-" + signature.uuid())
            .unstarted(
                () -> {
                  try {
                    Thread.sleep(grace); // a timer, not a wait for an outcome
                  } catch (InterruptedException e) {
                    return;
                  }
                  synchronized (this) {
                    Thread running = functionThread;
                    if (running != null) {
                      running.interrupt();
                    }
                  }
                });
    synchronized (this) {
      if (finished) {
        return;
      }
      revokeTimer = timer;
    }
    timer.start();
  }

  boolean isRevoked() {
    return revoked;
  }

  /**
   * Whether {@code thread} works for this run: the delivery's thread (decoding, settling, handlers)
   * or the function's.
   */
  synchronized boolean runsOn(Thread thread) {
    return thread == deliveryThread || thread == functionThread;
  }

  private synchronized void functionStarts() {
    functionThread = Thread.currentThread();
  }

  /**
   * The function is over: no later interrupt; one that came meanwhile is cleared from this thread.
   */
  private void functionEnded() {
    synchronized (this) {
      functionThread = null;
    }
    if (revoked) {
      Thread.interrupted();
    }
    try {
      functionEndedHook.run();
    } catch (RuntimeException e) {
      log.warn(
          "Task {}: the function-ended hook threw {}", LogText.of(signature.uuid()), e.toString());
    }
  }

  /**
   * Called by the delivery thread when it is done with this run; later {@link #abandon()}s do
   * nothing.
   */
  synchronized void finish() {
    finished = true;
    Thread timer = revokeTimer;
    if (timer != null) {
      timer.interrupt(); // the run is over: no thread outlives it
    }
  }

  boolean wasCancelled() {
    return cancelled;
  }

  boolean isAbandoned() {
    return abandoned;
  }

  /**
   * Runs the task and records its outcome; returns when the message can be acknowledged.
   *
   * @throws Cancelled when the worker abandoned this run
   * @throws BookkeepingFailed when the function ran but its outcome could not be recorded
   * @throws BackendFailed when the backend failed before the function ran: the message may be
   *     requeued
   * @throws RuntimeException (anything else) when something else failed before the function ran:
   *     the message may be requeued
   */
  void run() {
    List<CompletableFuture<Void>> early = new ArrayList<>(2);
    try {
      Outcome outcome = start(early);
      breakerTicket.report(verdict, verdictError); // before the bookkeeping: other runs wait less
      boolean recorded = false;
      try {
        record(outcome);
        recorded = true;
      } catch (Cancelled | BookkeepingFailed | HoldLost e) {
        throw e;
      } catch (Throwable t) {
        if (abandoned) {
          throw new Cancelled();
        }
        throw new BookkeepingFailed("recording the outcome failed: " + t, t);
      } finally {
        runHandler("post-task handler", settings.postTaskHandler());
        reportOutcome(outcome, recorded);
      }
    } finally {
      // RECEIVED and STARTED are written without waiting (pipelined where the backend can); the
      // final state
      // supersedes them, so their failures only matter before the function runs (checked in start).
      for (CompletableFuture<Void> write : early) {
        try {
          write.join();
        } catch (RuntimeException e) {
          log.debug(
              "An early state write of task {} failed: {}",
              LogText.of(signature.uuid()),
              e.toString());
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------- before
  // the function

  private Outcome start(List<CompletableFuture<Void>> early) {
    checkAbandoned();
    if (revoked) {
      return new Failed(
          Server.CANCELLED_ERROR, false); // revoked before it was delivered: never runs
    }
    List<TaskResult> stored =
        possiblyRerun || isDagJoin() || SagaUndo.isCompensation(signature) ? storedSuccess() : null;
    if (stored != null) {
      log.info(
          "Task {} {} has a stored SUCCESS (this message came back, or is a copy); not running it"
              + " again, only what follows it (callbacks, chord, DAG)",
          LogText.of(signature.name()),
          LogText.of(signature.uuid()));
      // What follows a SUCCESS found here is this run's to do whatever its hold says later: the
      // stored SUCCESS is the one it carries on from, not a sign that another copy finished (taken
      // for one, this run dropped the callbacks, chord or DAG step its earlier run never did, and
      // the message stayed with this worker, so no copy ever did them: SqsDynamoDbDagKillIT).
      recordDespiteBrokenHold = true;
      return new Succeeded(stored);
    }
    String expired = expired(signature, settings.server().clock());
    if (expired != null) {
      log.info(
          "Task {} {} {}; not running it",
          LogText.of(signature.name()),
          LogText.of(signature.uuid()),
          expired);
      return new Failed(expired, false);
    }
    early.add(stateWrite(() -> backend.setStateReceivedAsync(signature)));
    List<Arg> args;
    try {
      args = SagaUndo.argsFor(signature, backend);
    } catch (SagaUndo.Unavailable e) {
      return new Failed(String.valueOf(e.getMessage()), e.retryable());
    }
    List<@Nullable Object> typed = new ArrayList<>(args.size());
    for (Arg arg : args) {
      try {
        typed.add(arg.typedValue());
      } catch (IllegalArgumentException e) {
        return new Failed("Reflect task args error: " + e.getMessage(), false);
      } catch (StackOverflowError e) {
        return new Failed("Reflect task args error: an argument is nested too deeply", false);
      }
    }
    early.add(stateWrite(() -> backend.setStateStartedAsync(signature)));
    for (CompletableFuture<Void> write : early) {
      if (write.isCompletedExceptionally()) {
        // The backend is already known to be failing: do not run a side effect that cannot be
        // recorded.
        try {
          write.join();
        } catch (java.util.concurrent.CompletionException e) {
          throw new BackendFailed(e.getCause() == null ? e : e.getCause());
        } catch (RuntimeException e) {
          throw new BackendFailed(e);
        }
      }
    }
    runHandler("pre-task handler", settings.preTaskHandler());
    checkAbandoned();
    if (revoked) {
      return new Failed(Server.CANCELLED_ERROR, false);
    }
    if (settings.listener() != Listeners.NONE) {
      settings.listener().started(signature);
    }
    long begin = System.nanoTime();
    try {
      return invoke(args, typed);
    } finally {
      runNanos = System.nanoTime() - begin;
    }
  }

  /** An early state write, a failure to start it thrown as {@link BackendFailed}. */
  private static CompletableFuture<Void> stateWrite(Supplier<CompletableFuture<Void>> write) {
    try {
      return write.get();
    } catch (RuntimeException e) {
      throw new BackendFailed(e);
    }
  }

  /**
   * Whether this is a DAG task with dependencies: a worker sent it, at least once, so another copy
   * of it may have finished already, even on this message's first delivery. A header that does not
   * read is reported when the task's dependents are started.
   */
  private boolean isDagJoin() {
    if (!signature.headers().containsKey(DagHeader.HEADER)) {
      return false;
    }
    try {
      DagHeader header = dagHeader().orElse(null);
      int index = header == null ? -1 : header.indexOf(signature.uuid());
      return header != null && index >= 0 && header.dependencyCount(index) > 0;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /**
   * This task's DAG ({@link DagHeader#HEADER}), read once per run; empty when it carries none.
   *
   * @throws RuntimeException what reading the header threw, each time it is asked
   */
  Optional<DagHeader> dagHeader() {
    RuntimeException failed = dagHeaderError;
    if (failed != null) {
      throw failed;
    }
    Optional<DagHeader> read = dagHeader;
    if (read == null) {
      try {
        read = DagHeader.of(signature, config());
      } catch (RuntimeException e) {
        dagHeaderError = e;
        throw e;
      }
      dagHeader = read;
    }
    return read;
  }

  /**
   * The results of this task's SUCCESS when the backend holds one: an earlier delivery of this
   * message ran the function and stored its outcome, but died (or lost its broker) before it
   * acknowledged; or, for a DAG task with dependencies or a saga's compensation (both sent at least
   * once), another copy of it finished. Null otherwise: no such state, another task's under this
   * UUID (where the state keeps the name: Go writes it with PENDING only, and only its Redis
   * backend carries it on), a backend whose reads consume states, or one that does not answer (the
   * task then runs, as it would have).
   */
  private @Nullable List<TaskResult> storedSuccess() {
    if (backend.consumesStatesOnRead()) {
      return null;
    }
    try {
      TaskState state = backend.getState(signature.uuid()).orElse(null);
      if (state != null
          && state.state() == State.SUCCESS
          && (state.taskName().isEmpty() || state.taskName().equals(signature.name()))) {
        return state.results();
      }
    } catch (RuntimeException e) {
      log.debug(
          "Could not read the stored state of task {}; running it: {}",
          LogText.of(signature.uuid()),
          e.toString());
    }
    return null;
  }

  private Outcome invoke(List<Arg> args, List<@Nullable Object> typed) {
    Duration deadline = deadline();
    if (deadline.isZero() && !settings.platformThreads()) {
      return invokeHere(args, typed);
    }
    Callable<@Nullable Object> run =
        () -> {
          functionStarts();
          try {
            return call(args, typed);
          } finally {
            functionEnded();
          }
        };
    if (settings.listener() != Listeners.NONE) {
      run = settings.listener().handingOver(signature, run);
    }
    Future<@Nullable Object> body = settings.taskThreads().submit(run);
    Object returned;
    try {
      returned =
          deadline.isZero() ? body.get() : body.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      timedOut = true;
      body.cancel(true);
      String after = GoDurations.format(deadline);
      failedWith(new TimeoutException("task timed out after " + after));
      log.warn(
          "Task {} {} timed out after {}; its thread was interrupted and abandoned",
          LogText.of(signature.name()),
          LogText.of(signature.uuid()),
          after);
      return new Failed("task timed out after " + after, true);
    } catch (InterruptedException e) {
      body.cancel(true);
      throw new Cancelled();
    } catch (ExecutionException e) {
      return thrown(e.getCause() == null ? e : e.getCause());
    } catch (java.util.concurrent.CancellationException e) {
      throw new Cancelled();
    }
    return returned(returned);
  }

  /**
   * Without a deadline on virtual threads the function runs on the delivery thread itself (no
   * hand-over); {@link #abandon()} then interrupts it directly, and whatever it returns after that
   * is not recorded.
   */
  private Outcome invokeHere(List<Arg> args, List<@Nullable Object> typed) {
    Object returned;
    functionStarts();
    try {
      returned = call(args, typed);
    } catch (Throwable t) {
      functionEnded();
      return thrown(t);
    }
    functionEnded();
    checkAbandoned();
    return returned(returned);
  }

  private @Nullable Object call(List<Arg> args, List<@Nullable Object> typed) throws Exception {
    @Nullable Object[] parameters = function.bind(args, typed);
    bound = true;
    return function.invoke(this, parameters);
  }

  private Outcome thrown(Throwable t) {
    if (revoked && !cancelled) {
      return new Failed(Server.CANCELLED_ERROR, false);
    }
    if (t instanceof RetryTaskLaterException later) {
      return new RetryIn(later.retryIn());
    }
    if (cancelled) {
      throw new Cancelled();
    }
    log.debug("Task {} {} failed", LogText.of(signature.name()), LogText.of(signature.uuid()), t);
    if (bound) {
      failedWith(t); // arguments that did not bind are the message's fault, not the function's
    }
    return new Failed(errorText(t), true);
  }

  private void failedWith(Throwable error) {
    verdictError = error;
    verdict = TaskBreakers.Verdict.FAILED;
  }

  /**
   * Asks {@code stillHeld} before each bookkeeping step (see {@link
   * io.machinery.spi.Delivery#stillHeld()}); without it every step runs.
   */
  void heldBy(BooleanSupplier stillHeld) {
    this.held = stillHeld;
  }

  /** Tells the run's breaker how its function ended, once it has; see {@link #run()}. */
  void reportTo(TaskBreakers.Ticket ticket) {
    breakerTicket = ticket;
  }

  /**
   * How the function's run ended, for its breaker; NEUTRAL when it did not run or end on its own.
   */
  TaskBreakers.Verdict verdict() {
    return verdict;
  }

  /** What the function threw, or a timeout, when {@link #verdict()} is FAILED. */
  @Nullable Throwable verdictError() {
    return verdictError;
  }

  private Outcome returned(@Nullable Object returned) {
    if (revoked) {
      return new Failed(
          Server.CANCELLED_ERROR, false); // it stopped because it was cancelled: not a success
    }
    try {
      Succeeded succeeded = new Succeeded(toResults(returned));
      verdict = TaskBreakers.Verdict.SUCCEEDED;
      return succeeded;
    } catch (IllegalArgumentException e) {
      failedWith(e);
      return new Failed(errorText(e), true);
    }
  }

  /**
   * Why {@code signature} may not start now: its time to start ({@link Signature#expiresAt}) has
   * passed by {@code clock}, or its header is no time; null when it may.
   */
  static @Nullable String expired(Signature signature, java.time.Clock clock) {
    if (!signature.headers().containsKey(Signature.EXPIRES_HEADER)) {
      return null;
    }
    try {
      java.time.Instant expires = signature.expiresAt();
      return expires != null && !clock.instant().isBefore(expires)
          ? "expired: not started by " + expires
          : null;
    } catch (IllegalArgumentException e) {
      return "cannot run: " + e.getMessage();
    }
  }

  private Duration deadline() {
    Duration fromHeader = MessageHeaders.duration(signature.headers().get(MessageHeaders.TIMEOUT));
    return fromHeader.isPositive() ? fromHeader : settings.taskTimeout();
  }

  // -------------------------------------------------------------------------------------- after
  // the function

  /** Whether {@link #run()} stored a final FAILURE (no retry follows). */
  boolean endedInFailure() {
    return failure != null;
  }

  /** The error stored with the final FAILURE; empty unless {@link #endedInFailure()}. */
  String failure() {
    String error = failure;
    return error == null ? "" : error;
  }

  private void record(Outcome outcome) {
    switch (outcome) {
      case Succeeded s -> succeeded(s.results());
      case RetryIn r -> retryIn(r.delay());
      case Failed f when f.retryable() && signature.retryCount() > 0 -> retry(f.error());
      case Failed f -> failed(f.error());
    }
  }

  private void succeeded(List<TaskResult> results) {
    try {
      step("storing SUCCESS", () -> backend.setStateSuccess(signature, results));
    } catch (Refused e) {
      // The backend cannot hold these results (over DynamoDB's 400 KB item, say): trying again
      // cannot help, and the state would stay STARTED for ever. The task ends in FAILURE with the
      // reason instead, so whoever waits for it learns, and its error callbacks and chord follow.
      failed("the task succeeded but its results could not be stored: " + e.getMessage());
      return;
    }
    UniqueTasks.releaseAfterFinish(backend, signature);
    log.debug(
        "Processed task {} {}. Results = {}",
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        results);
    if (!signature.onSuccess().isEmpty()) {
      List<Arg> resultArgs = results.stream().map(TaskResult::toArg).toList();
      for (Signature callback : signature.onSuccess()) {
        sendCallback(
            signature.immutable() ? callback : callback.toBuilder().addArgs(resultArgs).build(),
            "success callback");
      }
    }
    Signature chordCallback = signature.chordCallback();
    if (!signature.groupUuid().isEmpty() && chordCallback != null) {
      new ChordCompletion(this, backend, signature, possiblyRerun).complete(chordCallback, null);
    }
    DagCompletion.succeeded(this, backend, signature, possiblyRerun);
  }

  private void retry(String error) {
    step("storing RETRY", () -> backend.setStateRetry(signature));
    int delay = Fibonacci.next(signature.retryTimeout());
    Signature next =
        signature.toBuilder()
            .retryCount(signature.retryCount() - 1)
            .retryTimeout(delay)
            .eta(settings.server().now().plusSeconds(delay))
            .headers(MessageHeaders.nextAttempt(signature))
            .build();
    log.info(
        "Task {} {} failed ({}). Going to retry in {} seconds.",
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        LogText.of(error),
        delay);
    publishRetry(next, error);
  }

  private void retryIn(Duration delay) {
    step("storing RETRY", () -> backend.setStateRetry(signature));
    OffsetDateTime eta = settings.server().now().plus(delay);
    log.info(
        "Task {} {} asked to retry in {}",
        LogText.of(signature.name()),
        LogText.of(signature.uuid()),
        delay);
    Signature next =
        signature.toBuilder().eta(eta).headers(MessageHeaders.nextAttempt(signature)).build();
    publishRetry(next, "the task asked to retry in " + GoDurations.format(delay));
  }

  /**
   * Publishes the next attempt as the task came (see {@link Server#resend}). One that can never be
   * published (over {@link io.machinery.config.Config#maxMessageBytes()} with its attempt header,
   * say) ends the task in FAILURE with the reason, not at RETRY with nothing in flight.
   */
  private void publishRetry(Signature next, String error) {
    try {
      step("publishing the retry", () -> settings.server().resend(next));
    } catch (Refused e) {
      failed(error + "; its retry could not be sent: " + e.getMessage());
    }
  }

  private void failed(String error) {
    step("storing FAILURE", () -> backend.setStateFailure(signature, error));
    UniqueTasks.releaseAfterFinish(backend, signature);
    failure = error;
    settings.failureReporter().accept(new TaskFailedException(signature.uuid(), error));
    for (Signature callback : signature.onError()) {
      List<Arg> args = new ArrayList<>();
      args.add(Arg.of("string", error));
      args.addAll(callback.args());
      sendCallback(callback.toBuilder().args(args).build(), "error callback");
    }
    Signature chordCallback = signature.chordCallback();
    if (!signature.groupUuid().isEmpty() && chordCallback != null) {
      new ChordCompletion(this, backend, signature, possiblyRerun)
          .complete(chordCallback, TaskState.failure(signature, error));
    }
    DagCompletion.failed(this, backend, signature, error);
  }

  /**
   * Publishes a callback; one that cannot be published gets FAILURE, so clients waiting for it
   * learn.
   */
  void sendCallback(Signature callback, String what) {
    if (cancelledBeforeSent(callback, what)) {
      return;
    }
    String failure;
    try {
      step(
          "sending " + what + " " + LogText.of(callback.uuid()),
          () -> settings.server().sendFollowUp(callback));
      return;
    } catch (Refused | BookkeepingFailed e) {
      failure = e.getMessage();
    }
    callbackNotSent(callback, what, failure);
  }

  /**
   * Publishes a chord's callback, then stores its PENDING unless a worker has stored a state
   * meanwhile, where the backend can ({@link Backend#storesPendingIfAbsent}), so that any state of
   * the callback proves it was published (see {@link ChordCompletion}); elsewhere as any callback,
   * PENDING first.
   */
  void sendChordCallback(Signature callback) {
    if (!backend.storesPendingIfAbsent()) {
      sendCallback(callback, "chord callback");
      return;
    }
    if (cancelledBeforeSent(callback, "chord callback")) {
      return;
    }
    Signature published;
    try {
      published =
          step(
              "publishing chord callback " + LogText.of(callback.uuid()),
              () -> settings.server().publishWithoutPending(callback));
    } catch (Refused | BookkeepingFailed e) {
      callbackNotSent(callback, "chord callback", e.getMessage());
      return;
    }
    try {
      step(
          "storing PENDING for chord callback " + LogText.of(callback.uuid()),
          () -> backend.setStatePendingIfAbsent(published));
    } catch (Refused | BookkeepingFailed e) {
      // Published all the same: its worker stores the states from RECEIVED on. Until then a re-run
      // of a member may send it again (a duplicate, never a loss).
      log.warn(
          "Chord callback {} was published but its PENDING state could not be stored: {}",
          LogText.of(callback.uuid()),
          e.getMessage());
    }
  }

  /**
   * Whether {@code callback} was cancelled before it was sent ({@link Server#cancel} stored FAILURE
   * {@value Server#CANCELLED_ERROR} for it: a chain's next step cancelled while its parent ran,
   * say). Then it is not sent, and its own error callbacks are, with that error, as a worker
   * meeting the revoked task would send them. Sending it anyway overwrote the FAILURE with PENDING,
   * and a worker that had not refreshed its revocations yet (up to a heartbeat) ran it: a task
   * reported cancelled ended in SUCCESS, and the rest of its chain ran. A backend whose reads
   * consume states, or that cannot be read, is not asked: the callback is sent as before.
   */
  private boolean cancelledBeforeSent(Signature callback, String what) {
    if (callback.uuid().isEmpty() || backend.consumesStatesOnRead()) {
      return false;
    }
    TaskState state;
    try {
      state = backend.getState(callback.uuid()).orElse(null);
    } catch (RuntimeException e) {
      log.debug(
          "Could not read the state of {} {}; sending it: {}",
          what,
          LogText.of(callback.uuid()),
          e.toString());
      return false;
    }
    if (state == null
        || state.state() != State.FAILURE
        || !Server.CANCELLED_ERROR.equals(state.error())) {
      return false;
    }
    log.info(
        "{} {} {} of task {} was cancelled before it was sent; not sending it",
        what,
        LogText.of(callback.name()),
        LogText.of(callback.uuid()),
        LogText.of(signature.uuid()));
    for (Signature onError : callback.onError()) {
      List<Arg> args = new ArrayList<>();
      args.add(Arg.of("string", Server.CANCELLED_ERROR));
      args.addAll(onError.args());
      sendCallback(onError.toBuilder().args(args).build(), "error callback");
    }
    return true;
  }

  private void callbackNotSent(Signature callback, String what, @Nullable String failure) {
    log.error(
        "Could not send {} {} {} of task {}: {}",
        what,
        LogText.of(callback.name()),
        LogText.of(callback.uuid()),
        LogText.of(signature.uuid()),
        failure);
    if (callback.uuid().isEmpty()) {
      return; // no id for a state: a client cannot wait for it (the send would have given it one)
    }
    step(
        "storing FAILURE for an unsent " + what,
        () -> backend.setStateFailure(callback, "could not be sent: " + failure));
  }

  // --------------------------------------------------------------------------------------------
  // bookkeeping

  void step(String what, Runnable action) {
    step(
        what,
        () -> {
          action.run();
          return null;
        });
  }

  <T> T step(String what, Supplier<T> action) {
    return attempt(what, action, false);
  }

  /**
   * A step that fails at once with {@link GroupMissing} when the backend says the group or a state
   * is gone.
   */
  <T> T chordStep(String what, Supplier<T> action) {
    return attempt(what, action, true);
  }

  private <T> T attempt(String what, Supplier<T> action, boolean chord) {
    RuntimeException last = null;
    int attempts = settings.bookkeepingAttempts();
    for (int attempt = 1; attempt <= attempts; attempt++) {
      checkAbandoned();
      try {
        checkHeld(what);
        return action.get();
      } catch (HoldLost e) {
        throw e;
      } catch (IllegalArgumentException e) {
        throw new Refused(e);
      } catch (RuntimeException e) {
        if (e.getCause() instanceof IllegalArgumentException refusal) {
          throw new Refused(refusal); // as the sender reports it: "Publish message error: ..."
        }
        if (chord && isMissing(e)) {
          throw new GroupMissing(e);
        }
        last = e;
      } catch (Error e) {
        // A StackOverflowError decoding a state or an OutOfMemoryError repeats deterministically:
        // no retry.
        throw new BookkeepingFailed(what + " failed: " + e, e);
      }
      if (attempt < attempts) {
        Duration delay = settings.bookkeepingBackoff().delay(attempt);
        log.warn(
            "Worker {}: {} for task {} {} failed (attempt {} of {}): {}; trying again in {}",
            settings.consumerTag(),
            what,
            LogText.of(signature.name()),
            LogText.of(signature.uuid()),
            attempt,
            attempts,
            last.toString(),
            delay);
        try {
          settings.pause().pause(delay);
        } catch (InterruptedException e) {
          throw new Cancelled();
        }
      }
    }
    throw new BookkeepingFailed(what + " failed " + attempts + " times, last: " + last, last);
  }

  /**
   * Before a bookkeeping step: while the broker holds the message, nothing to do. Once the hold
   * broke, the stored state decides, once: another run's SUCCESS, FAILURE or RETRY means the copy
   * the broker handed out again finished (or will retry), and this run stops ({@link HoldLost});
   * otherwise (no other run finished yet, or a backend whose reads consume states) this run records
   * its outcome as before. A task that always runs past its hold (longer than Pub/Sub's
   * MaxExtension or RabbitMQ's consumer_timeout) thus still ends: the first run to finish records
   * it, and a later copy finds it.
   */
  private void checkHeld(String what) {
    if (recordDespiteBrokenHold || held.getAsBoolean()) {
      return;
    }
    State stored = finishedByAnotherRun();
    if (stored != null) {
      throw new HoldLost(what, stored);
    }
    recordDespiteBrokenHold = true;
    log.warn(
        "Worker {}: the broker may have handed task {} {} to another worker (this worker's hold on"
            + " its message lapsed), but no other run has finished it; recording this run's outcome",
        settings.consumerTag(),
        LogText.of(signature.name()),
        LogText.of(signature.uuid()));
  }

  /** The stored SUCCESS, FAILURE or RETRY of this task; null when there is none to read. */
  private @Nullable State finishedByAnotherRun() {
    if (backend.consumesStatesOnRead()) {
      return null;
    }
    State state = backend.getState(signature.uuid()).map(TaskState::state).orElse(null);
    return state == State.SUCCESS || state == State.FAILURE || state == State.RETRY ? state : null;
  }

  /**
   * This project's backends throw {@link StateNotFoundException}; another backend may only say Go's
   * "Group not found: …" / "Task not found: …".
   */
  private static boolean isMissing(RuntimeException e) {
    for (Throwable t : Causes.of(e)) {
      if (t instanceof StateNotFoundException) {
        return true;
      }
      String message = t.getMessage();
      if (message != null
          && (message.contains("Group not found") || message.contains("Task not found"))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether {@link TaskListener#finished} was called for this run (else the worker reports it as
   * not run).
   */
  boolean outcomeReported() {
    return outcomeReported;
  }

  /**
   * Gives the outcome to the post-task outcome handler and the listeners, unless the run was
   * abandoned.
   */
  private void reportOutcome(Outcome outcome, boolean recorded) {
    Consumer<TaskOutcome> handler = settings.postTaskOutcomeHandler();
    boolean listening = settings.listener() != Listeners.NONE;
    if (abandoned || (handler == null && !listening)) {
      return;
    }
    String storedFailure = failure; // a success whose results were refused, a retry not sent
    TaskOutcome result =
        switch (outcome) {
          case Outcome o when storedFailure != null ->
              new TaskOutcome(
                  signature, State.FAILURE, storedFailure, Duration.ofNanos(runNanos), recorded);
          case Succeeded s ->
              new TaskOutcome(signature, State.SUCCESS, null, Duration.ofNanos(runNanos), recorded);
          case RetryIn r ->
              new TaskOutcome(signature, State.RETRY, null, Duration.ofNanos(runNanos), recorded);
          case Failed f ->
              new TaskOutcome(
                  signature,
                  f.retryable() && signature.retryCount() > 0 ? State.RETRY : State.FAILURE,
                  f.error(),
                  Duration.ofNanos(runNanos),
                  recorded);
        };
    if (handler != null) {
      try {
        handler.accept(result);
      } catch (Throwable t) {
        log.error(
            "Worker {}: the post-task outcome handler threw for task {} {}; ignoring it",
            settings.consumerTag(),
            LogText.of(signature.name()),
            LogText.of(signature.uuid()),
            t);
      }
    }
    if (listening) {
      outcomeReported = true;
      settings.listener().finished(result);
    }
  }

  private void checkAbandoned() {
    if (abandoned) {
      throw new Cancelled();
    }
  }

  private void runHandler(String what, @Nullable Consumer<Signature> handler) {
    if (handler == null || abandoned) {
      return;
    }
    try {
      handler.accept(signature);
    } catch (Throwable t) {
      log.error(
          "Worker {}: the {} threw for task {} {}; ignoring it",
          settings.consumerTag(),
          what,
          LogText.of(signature.name()),
          LogText.of(signature.uuid()),
          t);
    }
  }

  // ------------------------------------------------------------------------------------------------ results

  static String errorText(Throwable t) {
    String message = t.getMessage();
    return message != null ? message : t.getClass().getName();
  }

  private static List<TaskResult> toResults(@Nullable Object returned) {
    if (returned == null) {
      return List.of();
    }
    List<TaskResult> results =
        returned instanceof TaskResults many
            ? many.results()
            : returned instanceof TaskResult one ? List.of(one) : List.of(TaskResult.of(returned));
    for (TaskResult result : results) {
      checkEncodable(result.value());
    }
    return results;
  }

  private static void checkEncodable(@Nullable Object value) {
    if (value instanceof Double d && (d.isNaN() || d.isInfinite())) {
      throw new IllegalArgumentException("json: unsupported value: " + d);
    }
    if (value instanceof Float f && (f.isNaN() || f.isInfinite())) {
      throw new IllegalArgumentException("json: unsupported value: " + f);
    }
    List<?> list = GoTypes.asList(value);
    if (list != null) {
      list.forEach(TaskExecution::checkEncodable);
    }
  }
}
