package io.machinery;

import io.machinery.internal.Fibonacci;
import io.machinery.spi.Backend;
import io.machinery.spi.Consumer;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes tasks from a queue and runs them: Go's {@code machinery.Worker}.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Concurrency.</b> Each task runs on its own virtual thread. A semaphore of {@code concurrency} slots
 *       bounds them; the broker reserves slots before it fetches ({@link DeliveryHandler#reserve}), so the
 *       worker never holds a message it cannot start (no over-fetching, Go issue #559).
 *   <li><b>Delivery guarantee.</b> A message is acknowledged only after the task's final state (SUCCESS,
 *       FAILURE, or RETRY plus the republished retry) is stored. If the backend or broker fails on the way,
 *       the message is requeued and the task may run again: at-least-once.
 *   <li><b>State machine</b> (spec §2.5–2.8): RECEIVED, argument reflection (a bad argument is FAILURE without
 *       retry), STARTED, pre-task handler, the call, then success (results stored, OnSuccess callbacks with the
 *       results appended unless the task is immutable, chord trigger), retry (Fibonacci delays, or the delay
 *       of a {@link RetryTaskLaterException}), or failure (error stored, OnError callbacks with the error
 *       prepended), and finally the post-task handler.
 *   <li><b>Bad input never stops the worker.</b> A malformed message is dead-lettered with its reason; an
 *       unknown task is requeued with a growing delay (never a hot loop) or dropped when it says {@code
 *       IgnoreWhenTaskNotRegistered}; a task that throws is a FAILURE.
 *   <li><b>Beyond Go for chords.</b> When a group member fails, the chord callback will never run; the worker
 *       that completes the group stores FAILURE for the callback so that waiting clients learn it.
 *   <li><b>Stopping.</b> {@link #quit()} stops fetching, waits up to the graceful timeout for running tasks,
 *       then cancels the rest (their messages go back to the broker). Idempotent.
 * </ul>
 */
public final class Worker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  /** The message header counting runs of a task across retries (a string, as AMQP headers need). */
  public static final String ATTEMPT_HEADER = "machinery_attempt";
  /** How long {@link #quit()} waits for running tasks unless told otherwise. */
  public static final Duration DEFAULT_GRACEFUL_TIMEOUT = Duration.ofSeconds(30);
  /** First delay before an unknown task is delivered again; it doubles up to {@link #MAX_UNREGISTERED_DELAY}. */
  public static final Duration FIRST_UNREGISTERED_DELAY = Duration.ofMillis(100);
  public static final Duration MAX_UNREGISTERED_DELAY = Duration.ofSeconds(10);
  private static final int CALLBACK_PUBLISH_ATTEMPTS = 3;

  private enum Phase { NEW, RUNNING, STOPPING, STOPPED }

  private final Server server;
  private final Backend backend;
  private final String consumerTag;
  private final int concurrency;
  private final String queue;
  private final java.util.function.@Nullable Consumer<Throwable> errorHandler;
  private final java.util.function.@Nullable Consumer<Signature> preTaskHandler;
  private final java.util.function.@Nullable Consumer<Signature> postTaskHandler;
  private final Duration gracefulTimeout;
  private final boolean handleSignals;

  private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.NEW);
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private final Semaphore slots;
  private final Set<Running> running = ConcurrentHashMap.newKeySet();
  private final Map<String, Integer> unregisteredCounts = new LinkedHashMap<>(64, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
      return size() > 10_000;
    }
  };
  private final Set<String> warnedUnregistered = ConcurrentHashMap.newKeySet();
  private volatile @Nullable Consumer consumer;

  private Worker(Builder b) {
    this.server = b.server;
    this.backend = b.server.backend();
    this.consumerTag = b.consumerTag;
    this.concurrency = b.concurrency > 0 ? b.concurrency : Runtime.getRuntime().availableProcessors() * 2;
    this.queue = b.queue;
    this.errorHandler = b.errorHandler;
    this.preTaskHandler = b.preTaskHandler;
    this.postTaskHandler = b.postTaskHandler;
    this.gracefulTimeout = b.gracefulTimeout;
    this.handleSignals = b.handleSignals;
    this.slots = new Semaphore(concurrency);
  }

  public String consumerTag() { return consumerTag; }
  public int concurrency() { return concurrency; }
  /** The queue this worker consumes; empty means the default queue (Go's {@code CustomQueue}). */
  public String customQueue() { return queue; }

  /**
   * Starts consuming and blocks until the worker stops (Go's {@code Launch}).
   *
   * @throws MachineryException when the worker could not start, or stopped abruptly
   */
  public void launch() {
    CompletableFuture<Void> future = launchAsync();
    try {
      future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      quit();
      throw new MachineryException("interrupted while the worker was running", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof MachineryException m ? m : new MachineryException(String.valueOf(cause), cause);
    }
  }

  /**
   * Starts consuming and returns at once; the future completes when the worker has stopped (normally after
   * {@link #quit()}, exceptionally after {@link #quitAbruptly()} or a start failure). Calling it again returns
   * the same future.
   */
  public CompletableFuture<Void> launchAsync() {
    if (!phase.compareAndSet(Phase.NEW, Phase.RUNNING)) {
      return done;
    }
    server.track(this);
    log.info("Launching worker {} (concurrency {}, queue {}, broker {}, backend {})", consumerTag, concurrency,
        queue.isEmpty() ? server.config().defaultQueue() : queue,
        io.machinery.config.Redaction.redactUrl(server.config().broker()), backend.getClass().getSimpleName());
    try {
      consumer = server.broker().startConsuming(consumerTag, queue, new Handler());
    } catch (RuntimeException e) {
      phase.set(Phase.STOPPED);
      done.completeExceptionally(e);
      return done;
    }
    if (handleSignals) {
      Signals.install(this);
    }
    return done;
  }

  /**
   * Stops gracefully: no new tasks are fetched, running tasks get up to the graceful timeout to finish, the
   * rest are cancelled and their messages returned to the broker. Blocks until stopped; idempotent and safe
   * from any thread (Go panics on a second call, issue #437).
   */
  public void quit() {
    if (phase.compareAndSet(Phase.NEW, Phase.STOPPED)) {
      done.complete(null);
      return;
    }
    if (!phase.compareAndSet(Phase.RUNNING, Phase.STOPPING)) {
      done.exceptionally(e -> null).join();
      return;
    }
    log.info("Worker {}: waiting for running tasks to finish before shutting down", consumerTag);
    Consumer c = consumer;
    if (c != null) {
      c.stopFetching(gracefulTimeout);
    }
    boolean drained = awaitIdle(gracefulTimeout);
    if (!drained) {
      log.warn("Worker {}: {} tasks still running after {}; cancelling them", consumerTag, running.size(), gracefulTimeout);
      cancelRunning();
      awaitIdle(Duration.ofSeconds(5));
    }
    if (c != null) {
      c.close();
    }
    phase.set(Phase.STOPPED);
    done.complete(null);
  }

  /** Stops at once: running tasks are cancelled (interrupted) and their messages go back to the broker. */
  public void quitAbruptly() {
    Phase previous = phase.getAndSet(Phase.STOPPED);
    if (previous == Phase.STOPPED) {
      return;
    }
    cancelRunning();
    Consumer c = consumer;
    if (c != null) {
      c.close();
    }
    done.completeExceptionally(new MachineryException("Worker quit abruptly"));
  }

  /** {@link #quit()}. */
  @Override
  public void close() {
    quit();
  }

  public boolean isRunning() {
    return phase.get() == Phase.RUNNING;
  }

  private boolean awaitIdle(Duration timeout) {
    try {
      if (slots.tryAcquire(concurrency, timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        slots.release(concurrency);
        return true;
      }
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void cancelRunning() {
    for (Running r : running) {
      r.cancelled = true;
      r.thread.interrupt();
    }
  }

  // ------------------------------------------------------------------------------------------- consuming

  private final class Handler implements DeliveryHandler {
    @Override
    public int reserve(int max) throws InterruptedException {
      slots.acquire();
      int reserved = 1;
      while (reserved < max && slots.tryAcquire()) {
        reserved++;
      }
      return reserved;
    }

    @Override
    public int capacity() {
      return concurrency;
    }

    @Override
    public void release(int count) {
      if (count > 0) {
        slots.release(count);
      }
    }

    @Override
    public void handle(Delivery delivery) {
      Thread.ofVirtual().name("machinery-task-", 0).start(() -> {
        try {
          process(delivery);
        } finally {
          slots.release();
        }
      });
    }

    @Override
    public void handleNow(Delivery delivery) {
      process(delivery);
    }

    @Override
    public void brokerError(Throwable error) {
      reportError(error, () -> log.warn("Worker {}: broker failed with error: {}", consumerTag, error.toString()));
    }
  }

  private void reportError(Throwable error, Runnable fallbackLog) {
    if (errorHandler != null) {
      try {
        errorHandler.accept(error);
      } catch (RuntimeException e) {
        log.warn("Worker {}: the error handler threw {}", consumerTag, e.toString());
      }
    } else {
      fallbackLog.run();
    }
  }

  private void process(Delivery delivery) {
    Signature signature;
    byte[] body = delivery.body();
    int limit = server.config().maxMessageBytes();
    if (body.length > limit) {
      String reason = "message of " + body.length + " bytes is over the limit of " + limit + " bytes";
      log.error("Worker {}: dead-lettering a message from queue {}: {}", consumerTag, delivery.queue(), reason);
      delivery.deadLetter(reason);
      return;
    }
    try {
      signature = WireCodec.decodeSignature(body);
    } catch (MalformedMessageException e) {
      log.error("Worker {}: dead-lettering a malformed message from queue {}: {}", consumerTag, delivery.queue(), e.getMessage());
      delivery.deadLetter(e.getMessage());
      return;
    }
    TaskFunction function = server.findTask(signature.name());
    if (function == null) {
      handleUnregistered(delivery, signature);
      return;
    }
    Running self = new Running(Thread.currentThread(), signature);
    running.add(self);
    try {
      new Execution(signature, function, self).run();
      delivery.ack();
    } catch (Cancelled e) {
      log.warn("Worker {}: task {} {} was cancelled by shutdown; returning it to the broker", consumerTag,
          signature.name(), signature.uuid());
      delivery.requeue(Duration.ZERO);
    } catch (RuntimeException | Error e) {
      // The backend or broker failed while the task was being handled: nothing was acknowledged, so the
      // message goes back and the task runs again (at-least-once).
      log.error("Worker {}: could not finish task {} {} ({}); requeuing it", consumerTag, signature.name(),
          signature.uuid(), e.toString());
      reportError(e, () -> {});
      delivery.requeue(Duration.ofSeconds(1));
      if (e instanceof VirtualMachineError vm && !(e instanceof StackOverflowError)) {
        throw vm;
      }
    } finally {
      running.remove(self);
      if (self.cancelled) {
        Thread.interrupted(); // do not leak the cancellation interrupt into the next use of this thread
      }
    }
  }

  private void handleUnregistered(Delivery delivery, Signature signature) {
    if (signature.ignoreWhenTaskNotRegistered()) {
      log.warn("Worker {}: dropping task {} {}: not registered here and IgnoreWhenTaskNotRegistered is set",
          consumerTag, signature.name(), signature.uuid());
      delivery.ack();
      return;
    }
    int count;
    synchronized (unregisteredCounts) {
      count = unregisteredCounts.merge(signature.uuid(), 1, Integer::sum);
    }
    long millis = Math.min(MAX_UNREGISTERED_DELAY.toMillis(), FIRST_UNREGISTERED_DELAY.toMillis() << Math.min(count - 1, 20));
    if (warnedUnregistered.add(signature.name())) {
      log.warn("Worker {}: task {} is not registered with this worker; requeuing such messages with back-off"
          + " (first: {})", consumerTag, signature.name(), signature.uuid());
    } else {
      log.debug("Worker {}: requeuing unregistered task {} {} in {} ms", consumerTag, signature.name(), signature.uuid(), millis);
    }
    delivery.requeue(Duration.ofMillis(millis));
  }

  /** A running task, for cancellation on shutdown. */
  private static final class Running {
    final Thread thread;
    final Signature signature;
    volatile boolean cancelled;

    Running(Thread thread, Signature signature) {
      this.thread = thread;
      this.signature = signature;
    }
  }

  private static final class Cancelled extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Cancelled() {
      super(null, null, false, false);
    }
  }

  /** One run of one task through Go's state machine. */
  private final class Execution implements TaskContext {
    private final Signature signature;
    private final TaskFunction function;
    private final Running running;

    Execution(Signature signature, TaskFunction function, Running running) {
      this.signature = signature;
      this.function = function;
      this.running = running;
    }

    @Override public Signature signature() { return signature; }
    @Override public int attempt() { return attemptOf(signature); }
    @Override public boolean isCancelled() { return running.cancelled; }

    void run() {
      // RECEIVED and STARTED are written without waiting (pipelined where the backend can); the final state
      // is written blocking, and the early writes are joined before the message is acknowledged.
      CompletableFuture<Void> received = backend.setStateReceivedAsync(signature);
      try {
        runAfterReceived();
      } finally {
        received.join();
      }
    }

    private void runAfterReceived() {
      List<Arg> args = signature.args();
      List<@Nullable Object> typed = new ArrayList<>(args.size());
      for (Arg arg : args) {
        try {
          typed.add(arg.typedValue());
        } catch (IllegalArgumentException e) {
          taskFailed("Reflect task args error: " + e.getMessage());
          return;
        }
      }
      CompletableFuture<Void> started = backend.setStateStartedAsync(signature);
      try {
        runAfterStarted(args, typed);
      } finally {
        started.join();
      }
    }

    private void runAfterStarted(List<Arg> args, List<@Nullable Object> typed) {
      if (preTaskHandler != null) {
        preTaskHandler.accept(signature);
      }
      try {
        List<TaskResult> results;
        try {
          results = toResults(function.invoke(this, function.bind(args, typed)));
        } catch (RetryTaskLaterException e) {
          retryTaskIn(e.retryIn());
          return;
        } catch (Throwable t) {
          if (running.cancelled) {
            throw new Cancelled();
          }
          if (t instanceof VirtualMachineError vm && !(t instanceof StackOverflowError)) {
            throw vm;
          }
          String error = errorText(t);
          if (signature.retryCount() > 0) {
            taskRetry(error);
          } else {
            log.debug("Task {} {} failed", signature.name(), signature.uuid(), t);
            taskFailed(error);
          }
          return;
        }
        taskSucceeded(results);
      } finally {
        if (postTaskHandler != null) {
          postTaskHandler.accept(signature);
        }
      }
    }

    private void taskSucceeded(List<TaskResult> results) {
      backend.setStateSuccess(signature, results);
      log.debug("Processed task {} {}. Results = {}", signature.name(), signature.uuid(), results);
      List<Arg> resultArgs = results.stream().map(TaskResult::toArg).toList();
      for (Signature callback : signature.onSuccess()) {
        Signature withResults = signature.immutable() ? callback : callback.toBuilder().addArgs(resultArgs).build();
        sendCallback(withResults, "success callback");
      }
      Signature chordCallback = signature.chordCallback();
      if (signature.groupUuid().isEmpty() || chordCallback == null) {
        return;
      }
      completeChord(chordCallback);
    }

    private void completeChord(Signature callback) {
      String group = signature.groupUuid();
      if (!backend.groupCompleted(group, signature.groupTaskCount())) {
        return;
      }
      if (!backend.triggerChord(group)) {
        return; // another worker completes this chord
      }
      try {
        List<TaskState> states;
        try {
          states = backend.groupTaskStates(group, signature.groupTaskCount());
        } catch (RuntimeException e) {
          log.error("Failed to get tasks states for group {}: {}. The chord may not be triggered", group, e.toString());
          return;
        }
        List<Arg> args = new ArrayList<>();
        for (TaskState state : states) {
          if (!state.isSuccess()) {
            chordFailed(callback, state);
            return;
          }
          for (TaskResult result : state.results()) {
            args.add(result.toArg());
          }
        }
        sendCallback(callback.immutable() ? callback : callback.toBuilder().addArgs(args).build(), "chord callback");
      } finally {
        // Only the worker that triggered the chord purges (Go purges on every completion, which can delete the
        // states before the winner reads them).
        if (backend.consumesStatesOnRead()) {
          backend.purgeGroupMeta(group);
        }
      }
    }

    private void chordFailed(Signature callback, TaskState failed) {
      String error = "chord group " + signature.groupUuid() + " failed: task " + failed.taskUuid() + " is "
          + failed.state() + (failed.error().isEmpty() ? "" : ": " + failed.error());
      log.warn("Chord callback {} {} will not run: {}", callback.name(), callback.uuid(), error);
      backend.setStateFailure(callback, error);
    }

    private void taskRetry(String error) {
      backend.setStateRetry(signature);
      int delay = Fibonacci.next(signature.retryTimeout());
      Signature retry = signature.toBuilder()
          .retryCount(signature.retryCount() - 1)
          .retryTimeout(delay)
          .eta(server.now().plusSeconds(delay))
          .headers(nextAttemptHeaders(signature))
          .build();
      log.info("Task {} {} failed ({}). Going to retry in {} seconds.", signature.name(), signature.uuid(), error, delay);
      server.sendTask(retry);
    }

    private void retryTaskIn(Duration delay) {
      backend.setStateRetry(signature);
      OffsetDateTime eta = server.now().plus(delay);
      log.info("Task {} {} asked to retry in {}", signature.name(), signature.uuid(), delay);
      server.sendTask(signature.toBuilder().eta(eta).headers(nextAttemptHeaders(signature)).build());
    }

    private void taskFailed(String error) {
      backend.setStateFailure(signature, error);
      TaskFailedException failure = new TaskFailedException(signature.uuid(), error);
      reportError(failure, () -> log.error("Failed processing task {} {}. Error = {}", signature.name(), signature.uuid(), error));
      for (Signature callback : signature.onError()) {
        List<Arg> args = new ArrayList<>();
        args.add(Arg.of("string", error));
        args.addAll(callback.args());
        sendCallback(callback.toBuilder().args(args).build(), "error callback");
      }
      Signature chordCallback = signature.chordCallback();
      if (!signature.groupUuid().isEmpty() && chordCallback != null
          && backend.groupCompleted(signature.groupUuid(), signature.groupTaskCount())
          && backend.triggerChord(signature.groupUuid())) {
        chordFailed(chordCallback, TaskState.failure(signature, error));
      }
    }

    private void sendCallback(Signature callback, String what) {
      RuntimeException last = null;
      for (int attempt = 1; attempt <= CALLBACK_PUBLISH_ATTEMPTS; attempt++) {
        try {
          server.sendTask(callback);
          return;
        } catch (IllegalArgumentException e) {
          last = e;
          break; // a bad callback does not get better by retrying
        } catch (RuntimeException e) {
          last = e;
          AsyncResult.pause(Duration.ofMillis(100L * attempt));
        }
      }
      log.error("Could not send {} {} {} of task {}: {}", what, callback.name(), callback.uuid(), signature.uuid(),
          last == null ? "" : last.getMessage());
      try {
        backend.setStateFailure(callback, "could not be sent: " + (last == null ? "" : last.getMessage()));
      } catch (RuntimeException ignored) {
        // already logged above; the backend is the likely culprit
      }
    }
  }

  static int attemptOf(Signature signature) {
    Object value = signature.headers().get(ATTEMPT_HEADER);
    if (value == null) {
      return 1;
    }
    try {
      return Math.max(1, Integer.parseInt(String.valueOf(value)));
    } catch (NumberFormatException e) {
      return 1;
    }
  }

  private static Map<String, @Nullable Object> nextAttemptHeaders(Signature signature) {
    Map<String, @Nullable Object> headers = new LinkedHashMap<>(signature.headers());
    headers.put(ATTEMPT_HEADER, Integer.toString(attemptOf(signature) + 1));
    return headers;
  }

  private static String errorText(Throwable t) {
    String message = t.getMessage();
    return message != null ? message : t.getClass().getName();
  }

  private static List<TaskResult> toResults(@Nullable Object returned) {
    if (returned == null) {
      return List.of();
    }
    List<TaskResult> results = returned instanceof TaskResults many ? many.results()
        : returned instanceof TaskResult one ? List.of(one)
        : List.of(TaskResult.of(returned));
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
    List<?> list = io.machinery.internal.GoTypes.asList(value);
    if (list != null) {
      list.forEach(Worker::checkEncodable);
    }
  }

  /** Builds a {@link Worker}; get one from {@link Server#workerBuilder(String)}. Not thread-safe. */
  public static final class Builder {
    private final Server server;
    private final String consumerTag;
    private int concurrency;
    private String queue = "";
    private java.util.function.@Nullable Consumer<Throwable> errorHandler;
    private java.util.function.@Nullable Consumer<Signature> preTaskHandler;
    private java.util.function.@Nullable Consumer<Signature> postTaskHandler;
    private Duration gracefulTimeout = DEFAULT_GRACEFUL_TIMEOUT;
    private boolean handleSignals;

    Builder(Server server, String consumerTag) {
      this.server = server;
      this.consumerTag = Objects.requireNonNull(consumerTag, "consumerTag");
      this.handleSignals = !server.config().noUnixSignals();
    }

    /** Tasks run at once; 0 or less means twice the number of processors (Go's Redis default). */
    public Builder concurrency(int value) { concurrency = value; return this; }
    /** The queue to consume; empty means the default queue. */
    public Builder queue(String value) { queue = Objects.requireNonNull(value, "queue"); return this; }
    /** Receives task failures and broker errors instead of the default log line. */
    public Builder errorHandler(java.util.function.Consumer<Throwable> handler) { errorHandler = Objects.requireNonNull(handler); return this; }
    /** Called after STARTED is stored, before the task runs. */
    public Builder preTaskHandler(java.util.function.Consumer<Signature> handler) { preTaskHandler = Objects.requireNonNull(handler); return this; }
    /** Called after the task's outcome is handled (success, failure or retry). */
    public Builder postTaskHandler(java.util.function.Consumer<Signature> handler) { postTaskHandler = Objects.requireNonNull(handler); return this; }
    /** How long {@link #quit()} waits for running tasks before cancelling them; default 30 s. */
    public Builder gracefulTimeout(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("gracefulTimeout must not be negative, was " + value);
      }
      gracefulTimeout = value;
      return this;
    }
    /**
     * Whether the worker handles SIGINT/SIGTERM: the first stops it gracefully, the second abruptly. Off by
     * default (a library does not take over signals); {@code NO_UNIX_SIGNALS=false} turns it on.
     */
    public Builder handleSignals(boolean value) { handleSignals = value; return this; }

    public Worker build() {
      return new Worker(this);
    }
  }
}
