package io.machinery;

import io.machinery.embedded.LocalTaskLimiter;
import io.machinery.spi.Backend;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.TaskLimiter;
import io.machinery.wire.LogText;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes tasks from a queue and runs them: Go's {@code machinery.Worker}.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Concurrency.</b> Each delivery is handled on its own virtual thread, which runs the task
 *       function too unless it has a deadline; then, or with {@link Builder#platformTaskThreads}
 *       (one of {@code concurrency} platform threads, so CPU-bound tasks cannot starve virtual
 *       threads), the function runs on a second thread ({@link TaskExecution}). A semaphore of
 *       {@code concurrency} slots bounds deliveries; the broker reserves slots before it fetches
 *       ({@link DeliveryHandler#reserve}), so the worker never holds a message it cannot start (no
 *       over-fetching, Go issue #559). A slot bounds a task <em>function</em>: once it has
 *       returned, the run moves to one of {@code concurrency} settling permits (state write,
 *       callbacks, acknowledgement) and its slot serves the next task, so a short task's round
 *       trips to the backend do not keep a slot idle; with every settling permit taken, the run
 *       keeps its slot until it has settled, so settling runs stay bounded too.
 *   <li><b>Every delivery is settled exactly once</b>, whatever is thrown while it is decoded or
 *       processed, and its slot is released exactly once: by the worker, or by the broker when
 *       handing it over threw ({@link DeliveryHandler#handle}'s rule: the worker frees a slot only
 *       once nothing after that can throw; closing a retired consumer when its last delivery has
 *       settled is logged, never thrown, if it fails); {@link Intake} decides how (dead letter,
 *       counted requeue with back-off up to {@link Builder#maxDeliveries}, ack), and dead-letters
 *       poison messages.
 *   <li><b>Delivery guarantee.</b> A message is acknowledged only after the task's outcome is
 *       recorded. Once the function has returned, only that bookkeeping is retried, never the
 *       function; see {@link TaskExecution} for the state machine, the chord protocol and task
 *       deadlines.
 *   <li><b>Unknown tasks</b> are requeued with a growing delay kept in the message, dead-lettered
 *       after {@link Builder#maxUnregisteredRequeues}, or dropped when they say {@code
 *       IgnoreWhenTaskNotRegistered}; see {@link UnregisteredBackoff}.
 *   <li><b>Task limits</b> ({@link Builder#limit}) are {@link TaskLimits}' business, circuit
 *       breakers ({@link Builder#breaker}) {@link TaskBreakers}': a task that must wait goes back
 *       to the broker with a delay instead of holding a slot.
 *   <li><b>Logging.</b> Names, UUIDs and queue names come from messages: they are logged through
 *       {@link LogText} (control characters escaped, long values cut).
 *   <li><b>Control plane.</b> When the server has a {@link io.machinery.spi.ControlPlane}, a {@link
 *       WorkerHeartbeat} announces this worker (running tasks, busy slots) every {@link
 *       Builder#heartbeatInterval} and follows the queue's pause flag: pausing stops fetching by
 *       retiring the consumer (its running tasks finish and settle through it; it is closed when
 *       the last one is done), resuming starts a new consumer.
 *   <li><b>Starting.</b> A start that the broker's server fails (a {@link MachineryException}: the
 *       server unreachable, or refusing writes when out of memory) is tried again on a thread of
 *       its own with {@link #START_BACKOFF}, until it works or the worker is stopped; a consumer
 *       the server refuses for good ({@link ConsumerRefusedException}) or a closed broker fails the
 *       launch at once. Either way it is logged.
 *   <li><b>A consumer that ends by itself</b> ({@link DeliveryHandler#consumptionEnded}: its broker
 *       closed under it, its fetch loop failed for good) is retired like a paused one and a new one
 *       is started the same way, at once and then with {@link #START_BACKOFF}; when the broker
 *       refuses (closed), the worker stops gracefully and its future fails with why. Go's worker
 *       likewise starts consuming again when its broker's consumption returns. Consumers that end
 *       one after the other before they did any work (no delivery, younger than {@link
 *       #PROVEN_CONSUMER_AGE}) are replaced with {@link #START_BACKOFF} between them (the first at
 *       once, the next 1 s, 2 s... later), so a consumer that fails as soon as it starts does not
 *       spin the worker.
 *   <li><b>Stopping.</b> {@link #quit()} stops fetching, waits up to the graceful timeout for
 *       running tasks, then abandons the rest (interrupted, their messages go back to the broker,
 *       nothing more is recorded for them) and returns at most {@link #CANCEL_MARGIN} later. A
 *       consumer whose stop of its fetching or whose close fails is logged and the stop still
 *       completes (one that cannot stop fetching holds its slots until the graceful timeout).
 *       Idempotent.
 * </ul>
 *
 * <p>Size: the class is over 400 lines because about half of it is the builder's documented
 * options.
 */
public final class Worker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  /** The message header counting runs of a task across retries (a string, as AMQP headers need). */
  public static final String ATTEMPT_HEADER = MessageHeaders.ATTEMPT;

  /**
   * The message header giving the task function a deadline, in milliseconds as a string or a
   * number; it overrides {@link Builder#taskTimeout}.
   */
  public static final String TIMEOUT_HEADER = MessageHeaders.TIMEOUT;

  /** The message header counting requeues after failures to process the message. */
  public static final String REQUEUES_HEADER = MessageHeaders.REQUEUES;

  /** The message header counting requeues because the task was not registered. */
  public static final String UNREGISTERED_HEADER = MessageHeaders.UNREGISTERED;

  /** SLF4J MDC key holding the task's name while a worker handles it or a server publishes it. */
  public static final String MDC_TASK_NAME = TaskMdc.TASK_NAME;

  /** SLF4J MDC key holding the task's UUID while a worker handles it or a server publishes it. */
  public static final String MDC_TASK_UUID = TaskMdc.TASK_UUID;

  /** SLF4J MDC key holding the task's group UUID (for group and chord members). */
  public static final String MDC_GROUP_UUID = TaskMdc.GROUP_UUID;

  /**
   * SLF4J MDC key holding the queue the task was taken from (or its routing key when published).
   */
  public static final String MDC_QUEUE = TaskMdc.QUEUE;

  /** How long {@link #quit()} waits for running tasks unless told otherwise. */
  public static final Duration DEFAULT_GRACEFUL_TIMEOUT = Duration.ofSeconds(30);

  /**
   * How much longer than the graceful timeout {@link #quit()} may take (abandoned tasks settle
   * meanwhile).
   */
  public static final Duration CANCEL_MARGIN = Duration.ofSeconds(1);

  /**
   * Between attempts to start consuming after the broker's server failed the first one: 1 s,
   * doubling up to 30 s.
   */
  static final Backoff START_BACKOFF = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30));

  /**
   * A consumer that ran this long before it ended by itself, or that delivered a task, had worked:
   * the one after it is started at once. Consumers that end younger and idle are replaced with
   * {@link #START_BACKOFF} between them.
   */
  static final Duration PROVEN_CONSUMER_AGE = Duration.ofSeconds(30);

  /**
   * First delay before an unknown task is delivered again; it doubles up to {@link
   * Builder#maxUnregisteredDelay}.
   */
  public static final Duration FIRST_UNREGISTERED_DELAY = Duration.ofMillis(100);

  /** Default of {@link Builder#maxUnregisteredDelay}. */
  public static final Duration MAX_UNREGISTERED_DELAY = Duration.ofSeconds(10);

  /** Default of {@link Builder#cancelGracePeriod}. */
  public static final Duration DEFAULT_CANCEL_GRACE_PERIOD = Duration.ofSeconds(10);

  /**
   * First delay before a task held back by its {@link TaskLimit} is offered again; it doubles with
   * each deferral up to {@link Builder#maxLimitDelay}.
   */
  public static final Duration FIRST_LIMIT_DELAY = Duration.ofMillis(50);

  /** Default of {@link Builder#maxLimitDelay}. */
  public static final Duration DEFAULT_MAX_LIMIT_DELAY = Duration.ofSeconds(2);

  /** Default of {@link Builder#heartbeatInterval}. */
  public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(5);

  /** Default of {@link Builder#maxDeliveries}. */
  public static final int DEFAULT_MAX_DELIVERIES = 20;

  /**
   * Default of {@link Builder#maxUnregisteredRequeues}: about 16 minutes of requeues at the capped
   * delay.
   */
  public static final int DEFAULT_MAX_UNREGISTERED_REQUEUES = 100;

  /**
   * Default of {@link Builder#bookkeepingAttempts}: about a minute of retries at the capped delay.
   */
  public static final int DEFAULT_BOOKKEEPING_ATTEMPTS = 12;

  /** Delays between requeues of a message that could not be processed. */
  static final Backoff REQUEUE_BACKOFF = new Backoff(Duration.ofSeconds(1), Duration.ofMinutes(1));

  /** Delays between attempts of one bookkeeping step (a state write, a callback publish). */
  static final Backoff BOOKKEEPING_BACKOFF =
      new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));

  private enum Phase {
    NEW,
    RUNNING,
    STOPPING,
    STOPPED
  }

  private final Server server;
  private final Backend backend;
  private final String consumerTag;
  private final int concurrency;
  private final String queue;
  private final @Nullable Consumer<Throwable> errorHandler;
  private final Duration gracefulTimeout;
  private final boolean handleSignals;
  private final Backoff requeueBackoff;
  private final Intake intake;
  private final TaskBreakers breakers;
  private final TaskLimits limits;

  private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.NEW);
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private final Semaphore slots;

  /** Runs whose function has ended and that still settle, without a slot (see the class notes). */
  private final Semaphore settling;

  private final Set<TaskExecution> running = ConcurrentHashMap.newKeySet();
  private final ExecutorService taskThreads;

  /** Where each delivery is handled (see the class notes); tests make it fail. */
  private final ThreadFactory deliveryThreads;

  private final Duration heartbeatInterval;

  /**
   * Guards {@link #consumer}, {@code paused} and the current handler. A lock, not a monitor: a
   * consumer starts with round trips to the broker, and a virtual thread blocked inside {@code
   * synchronized} holds its carrier on Java 21 to 23 (the control plane resumes a queue from any
   * thread).
   */
  private final ReentrantLock consumerLock = new ReentrantLock();

  private volatile @Nullable Consumption consumer;
  private volatile @Nullable Handler currentHandler;
  private volatile boolean paused;
  private final List<Handler> retired = new CopyOnWriteArrayList<>();
  private volatile @Nullable WorkerHeartbeat heartbeat;

  /** Counted down when the worker stops: ends the waits of {@link #startAgainLater}. */
  private final CountDownLatch stopRequested = new CountDownLatch(1);

  /** How many {@link #startAgainLater} threads try a start again (one at a time, in practice). */
  private final AtomicInteger startsInProgress = new AtomicInteger();

  /**
   * Consumers in a row that ended by themselves before they had worked (see {@link
   * #PROVEN_CONSUMER_AGE}), the latest included; under {@link #consumerLock}.
   */
  private int unprovenEndings;

  /** Why the worker stopped by itself, for its future; null after a {@link #quit()}. */
  private volatile @Nullable RuntimeException stoppedBy;

  private final Revocations revocations;
  private final @Nullable TaskEventLog taskEvents;

  private Worker(Builder b) {
    this.server = b.server;
    this.backend = b.server.backend();
    this.consumerTag = b.consumerTag;
    this.concurrency =
        b.concurrency > 0 ? b.concurrency : Runtime.getRuntime().availableProcessors() * 2;
    this.queue = b.queue;
    this.errorHandler = b.errorHandler;
    this.gracefulTimeout = b.gracefulTimeout;
    this.handleSignals = b.handleSignals;
    this.requeueBackoff = b.requeueBackoff;
    this.heartbeatInterval = b.heartbeatInterval;
    this.taskEvents =
        b.taskEvents
            ? TaskEventLog.create(b.server, consumerTag, () -> controlPlaneId().orElse(consumerTag))
            : null;
    this.slots = new Semaphore(concurrency);
    this.settling = new Semaphore(concurrency);
    this.deliveryThreads = b.deliveryThreads;
    this.taskThreads =
        b.platformTaskThreads
            ? Executors.newFixedThreadPool(
                concurrency,
                Thread.ofPlatform()
                    .daemon()
                    .name("machinery-task-" + consumerTag + "-", 0)
                    .factory())
            : Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("machinery-task-", 0).factory());
    TaskExecution.Settings settings =
        new TaskExecution.Settings(
            server,
            consumerTag,
            b.preTaskHandler,
            b.postTaskHandler,
            b.postTaskOutcomeHandler,
            taskEvents == null
                ? server.listener()
                : Listeners.of(List.of(server.listener(), taskEvents)),
            failure ->
                reportError(
                    failure,
                    () ->
                        log.error(
                            "Failed processing task {}. Error = {}",
                            LogText.of(failure.taskUuid()),
                            LogText.of(failure.getMessage()))),
            taskThreads,
            b.platformTaskThreads,
            b.taskTimeout,
            b.bookkeepingBackoff,
            b.bookkeepingAttempts,
            b.pause);
    UnregisteredBackoff unregistered =
        new UnregisteredBackoff(
            server.clock(),
            new Backoff(FIRST_UNREGISTERED_DELAY, b.maxUnregisteredDelay),
            b.maxUnregisteredRequeues);
    this.revocations = new Revocations(server.controlPlane().orElse(null), b.cancelGracePeriod);
    this.breakers = new TaskBreakers(b.breakers, server.clock(), consumerTag);
    this.limits =
        new TaskLimits(
            b.limits,
            b.limiter != null ? b.limiter : LocalTaskLimiter.create(server.clock()),
            b.maxLimitDelay,
            consumerTag);
    this.intake =
        new Intake(
            settings,
            unregistered,
            b.maxDeliveries,
            requeueBackoff,
            running,
            error -> reportError(error, () -> {}),
            revocations,
            limits,
            breakers,
            b.keepFailedTasks);
  }

  /**
   * Returns the consumer's name at the broker (Go's worker name).
   *
   * @return the consumer tag
   */
  public String consumerTag() {
    return consumerTag;
  }

  /**
   * Returns the task limits in force on this worker: those of its builder ({@link Builder#limit}),
   * with the settings of the control plane ({@link io.machinery.spi.ControlPlane#setTaskLimit}) in
   * their place or added, as read on its last heartbeat.
   *
   * @return the limits by task name
   */
  public Map<String, TaskLimit> limits() {
    return limits.inForce();
  }

  /**
   * Returns the state of each circuit breaker key this worker keeps ({@link Builder#breaker}):
   * every key it has seen, but past 10,000 keys the closed ones without failures are forgotten.
   *
   * @return the states by key, sorted; empty before the first run of a task with a breaker
   */
  public Map<String, TaskBreaker.State> breakerStates() {
    return breakers.states();
  }

  /**
   * Returns how many tasks this worker runs at once.
   *
   * @return the concurrency, after the builder's default was applied
   */
  public int concurrency() {
    return concurrency;
  }

  /**
   * Returns how many tasks this worker is handling now (busy slots; {@link #concurrency()} minus
   * this are free).
   *
   * @return the number of running tasks
   */
  public int runningTasks() {
    return running.size();
  }

  /**
   * Returns the queue this worker consumes (Go's {@code CustomQueue}).
   *
   * @return the queue; empty means the default queue
   */
  public String customQueue() {
    return queue;
  }

  /**
   * Tells whether this worker stopped fetching because its queue is paused in the control plane.
   *
   * @return true while paused
   */
  public boolean isPaused() {
    return paused;
  }

  /**
   * Returns this worker's id in the control plane ({@link io.machinery.spi.WorkerStatus#id()}).
   *
   * @return the id; empty before launch or when the server has no control plane
   */
  public Optional<String> controlPlaneId() {
    WorkerHeartbeat h = heartbeat;
    return h == null ? Optional.empty() : Optional.of(h.id());
  }

  /**
   * Starts consuming and blocks until the worker stops (Go's {@code Launch}).
   *
   * @throws MachineryException when the worker could not start for a reason trying again cannot
   *     mend (see {@link #launchAsync()}), or stopped abruptly
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
      throw cause instanceof MachineryException m
          ? m
          : new MachineryException(String.valueOf(cause), cause);
    }
  }

  /**
   * Starts consuming and returns once the first attempt to start has succeeded or failed; the
   * future completes when the worker has stopped (normally after {@link #quit()}, exceptionally
   * after {@link #quitAbruptly()} or a start failure that trying again cannot mend: a {@link
   * ConsumerRefusedException}, a closed broker, also when the broker is closed under the running
   * worker). When the broker's server fails the start (unreachable, refusing writes: a {@link
   * MachineryException}), the worker logs it and tries again in the background, 1 s later and then
   * at doubling intervals up to 30 s, until it starts or is stopped, as Go's worker does; {@link
   * #isRunning()} is true meanwhile. Calling it again returns the same future.
   *
   * @return a future completed when the worker has stopped
   */
  public CompletableFuture<Void> launchAsync() {
    if (!phase.compareAndSet(Phase.NEW, Phase.RUNNING)) {
      return done;
    }
    server.track(this);
    log.info(
        "Launching worker {} (concurrency {}, queue {}, broker {}, backend {})",
        consumerTag,
        concurrency,
        queue.isEmpty() ? server.config().defaultQueue() : queue,
        WorkerHeartbeat.brokerOf(server), // as its heartbeat says: old -> new during a move
        WorkerHeartbeat.resultBackendOf(server));
    WorkerHeartbeat beat = null;
    try {
      beat =
          server
              .controlPlane()
              .map(
                  plane ->
                      new WorkerHeartbeat(
                          plane,
                          server,
                          new HeartbeatSubject(),
                          heartbeatInterval,
                          revocations,
                          limits,
                          breakers))
              .orElse(null);
      if (beat != null) {
        // from the first delivery, tasks cancelled while no worker ran are skipped and the limits
        // set in the control plane hold
        beat.refreshBeforeStart();
      }
      start(beat);
    } catch (RuntimeException e) {
      if (!mayMend(e)) {
        phase.set(Phase.STOPPED);
        return failedToStart(e);
      }
      // the broker's server failed (unreachable, refusing writes): it may come back, so the worker
      // keeps trying, as Go's does, instead of staying stopped without a consumer
      WorkerHeartbeat b = beat;
      startAgainLater(
          e,
          () -> {
            if (b != null) {
              b.refreshBeforeStart();
            }
            return start(b);
          });
    }
    if (handleSignals) {
      Signals.install(this);
    }
    return done;
  }

  /**
   * A start that trying again cannot mend (a consumer the server refuses for good, a closed
   * broker): logged, then failed.
   */
  private CompletableFuture<Void> failedToStart(RuntimeException e) {
    log.error(
        "Worker {}: could not start consuming {}: {}",
        consumerTag,
        LogText.of(queueName()),
        e.toString(),
        e);
    stopHeartbeat(); // it announced the worker as starting
    taskThreads.shutdownNow();
    done.completeExceptionally(e);
    return done;
  }

  /**
   * Whether a failed start may work when tried again: a failure of the broker's server ({@link
   * MachineryException}) unless the server refused the consumer for good ({@link
   * ConsumerRefusedException}); not a closed broker's {@link IllegalStateException} or another
   * programming error.
   */
  private static boolean mayMend(RuntimeException e) {
    return e instanceof MachineryException && !(e instanceof ConsumerRefusedException);
  }

  /** One try at starting what is missing; false when nothing was left to start. */
  @FunctionalInterface
  private interface StartAttempt {
    boolean run();
  }

  /**
   * Tries {@code attempt} again on a thread of its own, with {@link #START_BACKOFF} between
   * attempts, until it works, fails in a way trying again cannot mend (then the worker stops), or
   * the worker is stopped ({@link #quit()} ends the wait). Each failed attempt is logged.
   */
  private void startAgainLater(RuntimeException first, StartAttempt attempt) {
    onStartThread(() -> tryStartAgain(first, attempt));
  }

  /** Runs {@code starting} on a thread of its own, {@link #isStarting()} until it ends. */
  private void onStartThread(Runnable starting) {
    startsInProgress.incrementAndGet();
    Thread.ofPlatform()
        .daemon()
        .name("machinery-start-" + consumerTag)
        .start(
            () -> {
              try {
                starting.run();
              } finally {
                startsInProgress.decrementAndGet();
              }
            });
  }

  private void tryStartAgain(RuntimeException first, StartAttempt attempt) {
    RuntimeException last = first;
    for (int n = 1; phase.get() == Phase.RUNNING; n++) {
      Duration delay = START_BACKOFF.delay(n);
      log.warn(
          "Worker {}: could not start consuming {} ({}); trying again in {} ms",
          consumerTag,
          LogText.of(queueName()),
          last.getMessage(),
          delay.toMillis());
      try {
        if (stopRequested.await(delay.toNanos(), TimeUnit.NANOSECONDS)) {
          return;
        }
        if (attempt.run()) {
          log.info(
              "Worker {}: started consuming {} at attempt {}",
              consumerTag,
              LogText.of(queueName()),
              n + 1);
        }
        return;
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        if (!mayMend(e)) {
          stopAfter(e);
          return;
        }
        last = e;
      }
    }
  }

  /**
   * A start that trying again cannot mend, after the worker had launched (a closed broker, a
   * consumer refused for good): logged, then the worker stops gracefully (tasks of an ended
   * consumer may still run) and its future fails with {@code cause}.
   */
  private void stopAfter(RuntimeException cause) {
    log.error(
        "Worker {}: could not start consuming {}: {}; stopping",
        consumerTag,
        LogText.of(queueName()),
        cause.toString(),
        cause);
    stoppedBy = cause;
    quit();
  }

  /**
   * The consumer behind {@code ended} stopped fetching by itself (see {@link
   * DeliveryHandler#consumptionEnded}): it is retired as a paused one is (its running tasks settle
   * through it) and a new one is started on another thread, at once and then as a failed start is
   * tried again; at once only if {@code ended} had worked or was the first of its kind (see {@link
   * #PROVEN_CONSUMER_AGE}).
   */
  private void consumptionEnded(Handler ended, Throwable cause) {
    int endingsInARow;
    consumerLock.lock();
    try {
      if (phase.get() != Phase.RUNNING || currentHandler != ended) {
        return; // stopped or paused by the worker meanwhile
      }
      consumer = null;
      currentHandler = null;
      unprovenEndings = ended.hasWorked() ? 1 : unprovenEndings + 1;
      endingsInARow = unprovenEndings;
    } finally {
      consumerLock.unlock();
    }
    Duration delay = endingsInARow == 1 ? Duration.ZERO : START_BACKOFF.delay(endingsInARow - 1);
    if (delay.isZero()) {
      log.error(
          "Worker {}: its consumer of {} ended by itself ({}); starting a new one",
          consumerTag,
          LogText.of(queueName()),
          cause.toString(),
          cause);
    } else {
      log.error(
          "Worker {}: its consumer of {} ended by itself ({}); {} in a row ended before they"
              + " delivered a task, so the next starts in {} ms",
          consumerTag,
          LogText.of(queueName()),
          cause.toString(),
          endingsInARow,
          delay.toMillis(),
          cause);
    }
    if (errorHandler != null) {
      reportError(cause, () -> {});
    }
    onStartThread(
        () -> {
          ended.retire(); // here, not on the broker's thread that reported the end: it may wait
          try {
            if (!delay.isZero() && stopRequested.await(delay.toNanos(), TimeUnit.NANOSECONDS)) {
              return;
            }
          } catch (InterruptedException e) {
            return;
          }
          try {
            if (startConsumerAgain()) {
              log.info(
                  "Worker {}: consuming {} with a new consumer",
                  consumerTag,
                  LogText.of(queueName()));
            }
          } catch (RuntimeException e) {
            if (mayMend(e)) {
              tryStartAgain(e, this::startConsumerAgain);
            } else {
              stopAfter(e);
            }
          }
        });
  }

  /**
   * Starts a consumer in place of one that ended, unless the worker stopped, was paused meanwhile
   * (resuming starts one) or has one again.
   *
   * @return false when nothing was started
   */
  private boolean startConsumerAgain() {
    consumerLock.lock();
    try {
      if (phase.get() != Phase.RUNNING || paused || consumer != null) {
        return false;
      }
      consumer = startConsumer();
      return true;
    } finally {
      consumerLock.unlock();
    }
  }

  /**
   * Starts the consumer (unless the control plane says the queue is paused, or one was started
   * meanwhile), then the heartbeat, which starts even when the consumer fails, so that a worker
   * trying to start is listed as {@link io.machinery.spi.WorkerStatus#starting()}; under {@link
   * #consumerLock}, and only while running, so that a {@link #quit()} racing a start from {@link
   * #startAgainLater} either finds the consumer and heartbeat to stop or prevents them.
   *
   * @return false when nothing was left to start: the worker was no longer running, or had a
   *     consumer or a paused queue
   */
  private boolean start(@Nullable WorkerHeartbeat beat) {
    consumerLock.lock();
    try {
      if (phase.get() != Phase.RUNNING) {
        return false;
      }
      try {
        if (consumer != null || paused) {
          return false; // resumed or paused meanwhile: the heartbeat follows the pause flag
        }
        if (beat != null && beat.queuePausedAtStart()) {
          paused = true;
          log.info(
              "Worker {}: queue {} is paused; it starts fetching when the queue is resumed",
              consumerTag,
              LogText.of(queueName()));
        } else {
          consumer = startConsumer();
        }
        return true;
      } finally {
        if (beat != null && heartbeat == null) {
          heartbeat = beat;
          beat.start(consumer != null || paused); // a failed start announces on its own thread
        }
      }
    } finally {
      consumerLock.unlock();
    }
  }

  /**
   * Stops gracefully: no new tasks are fetched, running tasks get up to the graceful timeout to
   * finish, the rest are abandoned (interrupted; their messages go back to the broker; nothing more
   * is recorded for them). Blocks until stopped, at most the graceful timeout plus {@link
   * #CANCEL_MARGIN}; idempotent and safe from any thread (Go panics on a second call, issue #437).
   * Called by one of this worker's own tasks (its function or a handler), it starts the stop on
   * another thread and returns at once, and the stop waits for that task as for any other: blocking
   * there would wait for the caller itself until the graceful timeout, then abandon it and send its
   * message back, so the task would run again, and stop the next worker too.
   */
  public void quit() {
    if (calledByOwnTask()) {
      if (phase.get() == Phase.RUNNING) {
        Thread.ofPlatform().daemon().name("machinery-quit-" + consumerTag).start(this::quit);
      }
      return; // a stop already under way waits for the calling task too: joining it would not end
    }
    if (phase.compareAndSet(Phase.NEW, Phase.STOPPED)) {
      taskThreads.shutdownNow();
      closeTaskEvents();
      done.complete(null);
      return;
    }
    if (!phase.compareAndSet(Phase.RUNNING, Phase.STOPPING)) {
      done.exceptionally(e -> null).join();
      return;
    }
    log.info("Worker {}: waiting for running tasks to finish before shutting down", consumerTag);
    long deadline = System.nanoTime() + gracefulTimeout.toNanos();
    WorkerHeartbeat stopped = stopHeartbeat();
    Consumption c;
    consumerLock.lock();
    try {
      c = consumer;
    } finally {
      consumerLock.unlock();
    }
    stopLateHeartbeat(stopped);
    if (c != null) {
      stopFetchingLogged(c);
    }
    boolean drained = awaitIdle(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    if (!drained) {
      log.warn(
          "Worker {}: {} tasks still running after {}; abandoning them",
          consumerTag,
          running.size(),
          gracefulTimeout);
      cancelRunning();
      awaitIdle(CANCEL_MARGIN);
    }
    if (c != null) {
      closeLogged(c);
    }
    closeRetired();
    taskThreads.shutdownNow();
    closeTaskEvents();
    phase.set(Phase.STOPPED);
    RuntimeException cause = stoppedBy;
    if (cause == null) {
      done.complete(null);
    } else {
      done.completeExceptionally(cause);
    }
  }

  /**
   * Stops at once: running tasks are abandoned (interrupted) and their messages go back to the
   * broker, to be delivered again (so they may run twice; see the warning on {@link
   * Server#registerTask}). The future of {@link #launchAsync()} completes exceptionally.
   * Idempotent.
   */
  public void quitAbruptly() {
    Phase previous = phase.getAndSet(Phase.STOPPED);
    if (previous == Phase.STOPPED) {
      return;
    }
    cancelRunning();
    WorkerHeartbeat stopped = stopHeartbeat();
    Consumption c;
    consumerLock.lock();
    try {
      c = consumer;
    } finally {
      consumerLock.unlock();
    }
    stopLateHeartbeat(stopped);
    if (c != null) {
      closeLogged(c);
    }
    closeRetired();
    taskThreads.shutdownNow();
    closeTaskEvents();
    done.completeExceptionally(new MachineryException("Worker quit abruptly"));
  }

  /** Stops gracefully, as {@link #quit()} does. */
  @Override
  public void close() {
    quit();
  }

  /**
   * Tells whether the worker is consuming.
   *
   * @return true between launch and the start of a stop
   */
  public boolean isRunning() {
    return phase.get() == Phase.RUNNING;
  }

  /**
   * Tells whether the worker is still trying to start: its broker's server failed the first attempt
   * (see {@link #launchAsync()}) and no later one has worked yet, or its consumer ended by itself
   * and no new one has started yet. It takes no task meanwhile, though {@link #isRunning()} is
   * true.
   *
   * @return true while the start is tried again
   */
  public boolean isStarting() {
    return startsInProgress.get() > 0 && phase.get() == Phase.RUNNING;
  }

  private boolean awaitIdle(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      if (!slots.tryAcquire(concurrency, timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        return false;
      }
      try {
        // and no run still settles without a slot
        if (!settling.tryAcquire(
            concurrency, Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          return false;
        }
        settling.release(concurrency);
        return true;
      } finally {
        slots.release(concurrency);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private boolean calledByOwnTask() {
    Thread caller = Thread.currentThread();
    for (TaskExecution execution : running) {
      if (execution.runsOn(caller)) {
        return true;
      }
    }
    return false;
  }

  private void cancelRunning() {
    for (TaskExecution execution : running) {
      execution.abandon();
    }
  }

  // ------------------------------------------------------------------------------ consumer and
  // control plane

  private String queueName() {
    return queue.isEmpty() ? server.config().defaultQueue() : queue;
  }

  /**
   * Starts a consumer with a handler of its own, so a retired consumer can be closed when its tasks
   * are done.
   */
  private Consumption startConsumer() {
    Handler handler = new Handler();
    Consumption started = server.broker().startConsuming(consumerTag, queue, handler);
    handler.consumer = started;
    currentHandler = handler;
    return started;
  }

  /** Stops the heartbeat and the attempts to start; returns the heartbeat stopped. */
  private @Nullable WorkerHeartbeat stopHeartbeat() {
    stopRequested.countDown();
    WorkerHeartbeat h = heartbeat;
    if (h != null) {
      h.stop();
    }
    return h;
  }

  /**
   * Stops a heartbeat that a start racing the stop began after {@link #stopHeartbeat} looked (the
   * stop has since held {@link #consumerLock}, so no later start begins one).
   */
  private void stopLateHeartbeat(@Nullable WorkerHeartbeat stopped) {
    WorkerHeartbeat h = heartbeat;
    if (h != null && h != stopped) {
      h.stop();
    }
  }

  private void closeTaskEvents() {
    if (taskEvents != null) {
      taskEvents.close(); // writes the events of the tasks that just finished
    }
  }

  /**
   * Asks a consumer to stop fetching, waiting up to the graceful timeout; a failure, an {@link
   * Error} too, is logged with its trace and goes no further. Its callers, a stop and a pause, go
   * on to close the consumer, which stops its fetching too: a throw here would leave a stop
   * half-done (its future never completed) or a paused worker with a consumer still fetching.
   */
  private void stopFetchingLogged(Consumption c) {
    try {
      c.stopFetching(gracefulTimeout);
    } catch (Throwable t) {
      log.error(
          "Worker {}: a consumer of {} could not stop fetching ({}); it is closed instead",
          consumerTag,
          LogText.of(queueName()),
          t.toString(),
          t);
    }
  }

  /**
   * Closes a consumer; a close that fails, with an {@link Error} too, is logged with its trace and
   * goes no further. Its callers must go on: a delivery that has settled (a throw would make its
   * broker take the message back twice), a retirement followed by a new consumer's start, a stop
   * (which would otherwise stay half-done: its future never completed, every later {@link #quit()}
   * waiting on it for ever). The broker's own recovery (its connection closed with the worker's,
   * its leases or unacknowledged deliveries expiring) ends what the close left.
   */
  private void closeLogged(Consumption c) {
    try {
      c.close();
    } catch (Throwable t) {
      log.error(
          "Worker {}: could not close a consumer of {}: {}",
          consumerTag,
          LogText.of(queueName()),
          t.toString(),
          t);
    }
  }

  private void closeRetired() {
    for (Handler handler : retired) {
      handler.closeConsumer();
    }
    retired.clear();
  }

  /** The worker as its heartbeat sees it. */
  private final class HeartbeatSubject implements WorkerHeartbeat.Subject {
    @Override
    public String consumerTag() {
      return consumerTag;
    }

    @Override
    public String queueName() {
      return Worker.this.queueName();
    }

    @Override
    public int concurrency() {
      return concurrency;
    }

    @Override
    public int busySlots() {
      return running.size();
    }

    @Override
    public boolean isPaused() {
      return paused;
    }

    @Override
    public boolean isStarting() {
      return phase.get() == Phase.RUNNING && consumer == null && !paused;
    }

    @Override
    public List<TaskExecution> runningTasks() {
      return List.copyOf(running);
    }

    @Override
    public Map<String, TaskBreaker.State> breakerStates() {
      return breakers.states();
    }

    @Override
    public void pauseConsuming() {
      Consumption c;
      Handler h;
      consumerLock.lock();
      try {
        c = consumer;
        h = currentHandler;
        if (phase.get() != Phase.RUNNING || paused) {
          return;
        }
        paused = true;
        if (c == null || h == null) {
          return; // between a consumer that ended by itself and its successor: none is started
        }
        consumer = null;
        currentHandler = null;
      } finally {
        consumerLock.unlock();
      }
      stopFetchingLogged(c);
      h.retire(); // else it would go on fetching while paused, a resume starting a second one
    }

    /**
     * Starts a consumer for the resumed queue. A start the broker's server fails is tried again as
     * a failed first start is ({@code startAgainLater}): the worker is listed as starting, not
     * paused, and takes tasks as soon as a try works, rather than waiting for a heartbeat to try
     * again (and skipping that heartbeat's announcement). A start trying again cannot mend leaves
     * the worker paused and throws.
     */
    @Override
    public void resumeConsuming() {
      RuntimeException failed;
      consumerLock.lock();
      try {
        if (phase.get() != Phase.RUNNING || !paused) {
          return;
        }
        // cleared before the consumer starts: once it has, a task can run and its result be read,
        // and a worker running tasks must not still say it is paused
        paused = false;
        try {
          consumer = startConsumer();
          return;
        } catch (RuntimeException e) {
          if (!mayMend(e)) {
            paused = true;
            throw e;
          }
          failed = e;
        } catch (Error e) {
          paused = true;
          throw e;
        }
      } finally {
        consumerLock.unlock();
      }
      startAgainLater(failed, Worker.this::startConsumerAgain);
    }
  }

  // -------------------------------------------------------------------------------------------
  // consuming

  /**
   * Receives the deliveries of one consumer. It counts the deliveries in progress so that, once its
   * consumer is retired (the queue was paused), the consumer is closed when the last of them has
   * settled.
   */
  private final class Handler implements DeliveryHandler {
    private final AtomicInteger inProgress = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean isRetired;
    private volatile @Nullable Consumption consumer;
    private final long startedAtMillis = server.clock().millis();
    private volatile boolean delivered;

    /**
     * Whether this consumer delivered a task or ran {@link #PROVEN_CONSUMER_AGE} by the server's
     * clock.
     */
    boolean hasWorked() {
      return delivered
          || server.clock().millis() - startedAtMillis >= PROVEN_CONSUMER_AGE.toMillis();
    }

    void retire() {
      isRetired = true;
      retired.add(this);
      if (inProgress.get() == 0) {
        closeConsumer();
      }
    }

    /**
     * Closes the consumer, once; never throws (see {@link #closeLogged}): it runs when a delivery
     * has settled, from {@link #settled()}, where a throw would reach the broker after the message
     * was settled and the slot freed (the broker would then take the message back a second time and
     * free the slot again), and on the threads that retire or stop consumers, which must go on.
     */
    void closeConsumer() {
      Consumption c = consumer;
      if (c != null && closed.compareAndSet(false, true)) {
        retired.remove(this);
        closeLogged(c);
      }
    }

    /** A delivery has settled; the last of a retired consumer closes it. Never throws. */
    private void settled() {
      if (inProgress.decrementAndGet() == 0 && isRetired) {
        closeConsumer();
      }
    }

    @Override
    public int reserve(int max) throws InterruptedException {
      slots.acquire();
      return 1 + moreSlots(max - 1);
    }

    @Override
    public int reserve(int max, Duration timeout) throws InterruptedException {
      if (!slots.tryAcquire(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        return 0;
      }
      return 1 + moreSlots(max - 1);
    }

    /** Up to {@code wanted} more slots that are free now, without waiting. */
    private int moreSlots(int wanted) {
      int more = 0;
      while (more < wanted && slots.tryAcquire()) {
        more++;
      }
      return more;
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

    /**
     * Starts {@code delivery} on a thread of its own, or gives it back (to a worker that quit
     * abruptly, or when no thread can be had). Follows {@link DeliveryHandler#handle}'s rule: a
     * delivery given back frees its slot last, once nothing after it can throw; when this throws (a
     * give-back failed with an {@link Error}), its slot is neither kept nor freed, for the broker
     * frees it. Either way the delivery is {@link #settled()} once.
     */
    @Override
    public void handle(Delivery delivery) {
      inProgress.incrementAndGet();
      if (!delivered) {
        delivered = true;
      }
      boolean started = false;
      try {
        started = !givenBackAfterAnAbruptQuit(delivery) && startedOnItsThread(delivery);
      } finally {
        if (!started) {
          settled();
        }
      }
      if (!started) {
        slots.release();
      }
    }

    /**
     * Whether {@code delivery} runs on a thread of its own now, which then owns its slot and
     * settles it; false when no thread could be started (out of memory) and it went back to the
     * broker.
     */
    private boolean startedOnItsThread(Delivery delivery) {
      SlotHold hold = new SlotHold();
      try {
        deliveryThreads
            .newThread(
                () -> {
                  try {
                    intake.process(delivery, false, hold::functionEnded);
                  } finally {
                    hold.release();
                    settled();
                  }
                })
            .start();
        return true;
      } catch (Throwable t) {
        // Logged before the requeue, which is the last step that may throw (an Error: SettleOnce
        // logs the rest): handle() then throws with the slot untouched.
        log.error(
            "Worker {}: could not start a thread for a delivery ({}); requeuing it",
            consumerTag,
            t.toString());
        new SettleOnce(delivery).requeue(requeueBackoff.first());
        return false;
      }
    }

    /** As {@link #handle}, on the calling thread and without a slot: settled once on every path. */
    @Override
    public void handleNow(Delivery delivery) {
      inProgress.incrementAndGet();
      if (!delivered) {
        delivered = true;
      }
      try {
        if (!givenBackAfterAnAbruptQuit(delivery)) {
          intake.process(delivery, true);
        }
      } finally {
        settled();
      }
    }

    /**
     * Whether the worker quit abruptly; if so, gives {@code delivery} back unrun. {@link
     * Worker#quitAbruptly()} hands its running tasks back before it closes the consumer, and a
     * broker may hand such a message out again at once, to this consumer (the memory broker does):
     * run here, it would start after the worker quit, where no one waits for it.
     */
    private boolean givenBackAfterAnAbruptQuit(Delivery delivery) {
      if (phase.get() != Phase.STOPPED) {
        return false;
      }
      new SettleOnce(delivery).requeue(Duration.ZERO);
      return true;
    }

    @Override
    public void brokerError(Throwable error) {
      reportError(
          error,
          () -> log.warn("Worker {}: broker failed with error: {}", consumerTag, error.toString()));
    }

    @Override
    public void consumptionEnded(Throwable cause) {
      Worker.this.consumptionEnded(this, cause);
    }
  }

  /**
   * What one delivery holds: its slot, until its function has ended and a settling permit is free;
   * then that permit, until it has settled (see the class notes). Thread-safe: the function may end
   * on another thread than the one that settles.
   */
  private final class SlotHold {
    private static final int SLOT = 0;
    private static final int SETTLING = 1;
    private static final int RELEASED = 2;
    private final AtomicInteger holds = new AtomicInteger(SLOT);

    /** The function has ended: trade the slot for a settling permit if one is free. */
    void functionEnded() {
      if (settling.tryAcquire()) {
        if (holds.compareAndSet(SLOT, SETTLING)) {
          slots.release();
        } else {
          settling.release(); // already released (or traded) by the delivery thread
        }
      }
    }

    /** The delivery is settled: give back what is held, once. */
    void release() {
      int held = holds.getAndSet(RELEASED);
      if (held == SLOT) {
        slots.release();
      } else if (held == SETTLING) {
        settling.release();
      }
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

  /**
   * Builds a {@link Worker}; get one from {@link Server#workerBuilder(String)}. Not thread-safe.
   */
  public static final class Builder {
    private final Server server;
    private final String consumerTag;
    private int concurrency;
    private String queue = "";
    private @Nullable Consumer<Throwable> errorHandler;
    private @Nullable Consumer<Signature> preTaskHandler;
    private @Nullable Consumer<Signature> postTaskHandler;
    private @Nullable Consumer<TaskOutcome> postTaskOutcomeHandler;
    private Duration gracefulTimeout = DEFAULT_GRACEFUL_TIMEOUT;
    private boolean handleSignals;
    private int maxDeliveries = DEFAULT_MAX_DELIVERIES;
    private boolean keepFailedTasks;
    private int maxUnregisteredRequeues = DEFAULT_MAX_UNREGISTERED_REQUEUES;
    private Duration maxUnregisteredDelay = MAX_UNREGISTERED_DELAY;
    private int bookkeepingAttempts = DEFAULT_BOOKKEEPING_ATTEMPTS;
    private Duration taskTimeout = Duration.ZERO;
    private Duration heartbeatInterval = DEFAULT_HEARTBEAT_INTERVAL;
    private Duration cancelGracePeriod = DEFAULT_CANCEL_GRACE_PERIOD;
    private boolean platformTaskThreads;
    private boolean taskEvents;
    private Backoff requeueBackoff = REQUEUE_BACKOFF;
    private Backoff bookkeepingBackoff = BOOKKEEPING_BACKOFF;
    private TaskExecution.Pause pause = delay -> Thread.sleep(delay);
    private ThreadFactory deliveryThreads =
        Thread.ofVirtual().name("machinery-delivery-", 0).factory();
    private final Map<String, TaskLimit> limits = new HashMap<>();
    private final Map<String, TaskBreaker> breakers = new HashMap<>();
    private @Nullable TaskLimiter limiter;
    private Duration maxLimitDelay = DEFAULT_MAX_LIMIT_DELAY;

    Builder(Server server, String consumerTag) {
      this.server = server;
      this.consumerTag = Objects.requireNonNull(consumerTag, "consumerTag");
      this.handleSignals = !server.config().noUnixSignals();
    }

    /**
     * Sets how many tasks run at once.
     *
     * @param value the concurrency; 0 or less means twice the number of processors (Go's Redis
     *     default)
     * @return this builder
     */
    public Builder concurrency(int value) {
      concurrency = value;
      return this;
    }

    /**
     * Sets the queue to consume.
     *
     * @param value the queue; empty means the default queue
     * @return this builder
     */
    public Builder queue(String value) {
      queue = Objects.requireNonNull(value, "queue");
      return this;
    }

    /**
     * Sets the receiver of task failures and broker errors, instead of the default log line (Go's
     * {@code SetErrorHandler}).
     *
     * @param handler receives each error; if it throws, that is logged
     * @return this builder
     */
    public Builder errorHandler(Consumer<Throwable> handler) {
      errorHandler = Objects.requireNonNull(handler);
      return this;
    }

    /**
     * Sets a hook called after STARTED is stored, before the task runs (Go's {@code
     * SetPreTaskHandler}).
     *
     * @param handler receives each task about to run; if it throws, that is logged and the task
     *     runs
     * @return this builder
     */
    public Builder preTaskHandler(Consumer<Signature> handler) {
      preTaskHandler = Objects.requireNonNull(handler);
      return this;
    }

    /**
     * Sets a hook called after the task's outcome is handled: success, failure or retry (Go's
     * {@code SetPostTaskHandler}). It runs while the run settles, after the task's slot has passed
     * to the next task (see the class notes), so with concurrency 1 it may still run when the next
     * task's {@link #preTaskHandler} does; within one task the order is pre, the task, the error
     * handler on failure, then post.
     *
     * @param handler receives each task that ran; if it throws, that is logged
     * @return this builder
     */
    public Builder postTaskHandler(Consumer<Signature> handler) {
      postTaskHandler = Objects.requireNonNull(handler);
      return this;
    }

    /**
     * Called after the task's outcome is handled, with the outcome: state (SUCCESS, FAILURE or
     * RETRY), error, how long the function ran, whether it was recorded. Not called for a run the
     * worker abandoned. If it throws, that is logged. Runs after {@link #postTaskHandler}.
     *
     * @param handler receives each recorded outcome
     * @return this builder
     */
    public Builder postTaskOutcomeHandler(Consumer<TaskOutcome> handler) {
      postTaskOutcomeHandler = Objects.requireNonNull(handler);
      return this;
    }

    /**
     * Sets how long {@link Worker#quit()} waits for running tasks before abandoning them; default
     * {@link Worker#DEFAULT_GRACEFUL_TIMEOUT}.
     *
     * @param value the timeout; zero abandons running tasks at once
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder gracefulTimeout(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("gracefulTimeout must not be negative, was " + value);
      }
      gracefulTimeout = value;
      return this;
    }

    /**
     * Whether the worker handles SIGINT/SIGTERM: the first stops it gracefully, the second
     * abruptly. Off by default (a library does not take over signals); {@code
     * NO_UNIX_SIGNALS=false} turns it on.
     *
     * @param value true to handle the signals
     * @return this builder
     */
    public Builder handleSignals(boolean value) {
      handleSignals = value;
      return this;
    }

    /**
     * The poison limit, default {@value #DEFAULT_MAX_DELIVERIES}; 0 turns it off. A message is
     * dead-lettered with its reason when the broker says it delivered it more often ({@link
     * Delivery#deliveryCount()}: a message that kills or stalls every worker), or when this many
     * requeues after failures to process it (counted in header {@value #REQUEUES_HEADER}) did not
     * help. Task retries ({@code RetryCount}) do not count.
     *
     * @param value the limit; 0 for none
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder maxDeliveries(int value) {
      if (value < 0) {
        throw new IllegalArgumentException(
            "maxDeliveries must be >= 0 (0 = no limit), was " + value);
      }
      maxDeliveries = value;
      return this;
    }

    /**
     * Whether a task that ends in FAILURE (its retries spent, or an error that is not retried) is
     * kept to run again: its message, with the rest of its chain, goes to the queue's dead letters
     * with the reason {@code "failed, kept to run again: task <name> <uuid>: <error>"} instead of
     * being acknowledged. Requeueing it ({@link io.machinery.spi.Inspector#requeueDeadLetters}, the
     * CLI's {@code machinery requeue}, the dashboard) runs it once more with the same UUID, and a
     * chain goes on from there: the tasks before it do not run again. FAILURE is stored, and the
     * error callbacks run, as without it. A failed chord member is kept too, but its chord has
     * settled (its callback got FAILURE): running the member again does not fire the callback.
     * Default false: Go acknowledges a failed task. A signature with {@code
     * StopTaskDeletionOnError} is left to the broker's redrive policy as before.
     *
     * @param value true to keep failed tasks among the dead letters
     * @return this builder
     */
    public Builder keepFailedTasks(boolean value) {
      keepFailedTasks = value;
      return this;
    }

    /**
     * How often a message for a task no worker here knows is requeued before it is dead-lettered;
     * default {@value #DEFAULT_MAX_UNREGISTERED_REQUEUES}. 0 requeues for ever, as Go does. Counted
     * in header {@value #UNREGISTERED_HEADER}; on a broker that cannot replace a requeued message
     * and counts deliveries, {@link #maxDeliveries} also bounds these requeues.
     *
     * @param value the limit; 0 for none
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder maxUnregisteredRequeues(int value) {
      if (value < 0) {
        throw new IllegalArgumentException(
            "maxUnregisteredRequeues must be >= 0 (0 = for ever), was " + value);
      }
      maxUnregisteredRequeues = value;
      return this;
    }

    /**
     * The longest a message for a task no worker here knows stays away before it is delivered
     * again; default {@link #MAX_UNREGISTERED_DELAY}. Its delays start at {@link
     * #FIRST_UNREGISTERED_DELAY} and double up to this cap. Shorter: where only some workers of a
     * queue know a task (a rolling deploy, workers split by task), it reaches one that does sooner,
     * which matters on brokers that hand a message back to any consumer rather than the next in
     * turn (SQS, Pub/Sub); longer: tasks that no worker knows cost fewer requeues. The broker may
     * round a delay up (SQS counts whole seconds).
     *
     * @param value the cap, from {@link #FIRST_UNREGISTERED_DELAY} to one hour
     * @return this builder
     * @throws IllegalArgumentException when out of that range
     */
    public Builder maxUnregisteredDelay(Duration value) {
      if (value.compareTo(FIRST_UNREGISTERED_DELAY) < 0
          || value.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException(
            "maxUnregisteredDelay must be from "
                + FIRST_UNREGISTERED_DELAY
                + " to 1 hour, was "
                + value);
      }
      maxUnregisteredDelay = value;
      return this;
    }

    /**
     * How often each bookkeeping step after a task ran (storing its state, publishing a retry or
     * callback, completing a chord) is tried before the worker gives up; default {@value
     * #DEFAULT_BOOKKEEPING_ATTEMPTS}, with delays doubling from 100 ms to 10 s. The task is never
     * run again for a bookkeeping failure: on giving up the message is dead-lettered with the
     * reason (a chord step gives up by storing FAILURE for the chord callback instead).
     *
     * @param value the attempts, at least 1
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is less than 1
     */
    public Builder bookkeepingAttempts(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("bookkeepingAttempts must be >= 1, was " + value);
      }
      bookkeepingAttempts = value;
      return this;
    }

    /**
     * The longest a task function may run; zero (the default) means no limit. At the deadline its
     * thread is interrupted and abandoned and the run is a failure "task timed out after …"
     * (retried if the task has retries left). A message's header {@value #TIMEOUT_HEADER}
     * (milliseconds, or a Go duration string such as "90s") overrides it.
     *
     * @param value the deadline; zero for none
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder taskTimeout(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException(
            "taskTimeout must not be negative (zero = no limit), was " + value);
      }
      taskTimeout = value;
      return this;
    }

    /**
     * How often the worker announces itself to the server's control plane and reads the paused
     * queues; default {@link #DEFAULT_HEARTBEAT_INTERVAL}. A pause takes effect within one
     * interval; a dead worker stays listed for up to three. Ignored when the server has no control
     * plane.
     *
     * @param value the interval; at least 100 ms
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is below 100 ms
     */
    public Builder heartbeatInterval(Duration value) {
      if (value.compareTo(Duration.ofMillis(100)) < 0) {
        throw new IllegalArgumentException(
            "heartbeatInterval must be at least 100ms, was " + value);
      }
      heartbeatInterval = value;
      return this;
    }

    /**
     * How long a cancelled running task ({@link Server#cancel}) may take to stop by itself, after
     * {@link TaskContext#isCancelled()} turned true, before its thread is interrupted; default
     * {@link #DEFAULT_CANCEL_GRACE_PERIOD}. The worker learns of a cancel within one {@link
     * #heartbeatInterval}.
     *
     * @param value the grace period; zero interrupts at once
     * @return this builder
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public Builder cancelGracePeriod(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("cancelGracePeriod must not be negative, was " + value);
      }
      cancelGracePeriod = value;
      return this;
    }

    /**
     * Runs task functions on a fixed pool of {@code concurrency} platform threads instead of one
     * virtual thread each; default false. Use it for CPU-bound tasks: a virtual thread is not
     * preempted, so long computations on every carrier thread delay the broker's own virtual
     * threads (heartbeats, lease renewals, promotion of delayed tasks), and a worker may then be
     * declared dead while it works.
     *
     * @param value true for platform threads
     * @return this builder
     */
    public Builder platformTaskThreads(boolean value) {
      platformTaskThreads = value;
      return this;
    }

    /**
     * Records each task's transitions (received, started, retry with its attempt and error,
     * success, failure; with the time and this worker's id) in the control plane, where {@link
     * Inspection#history} and the dashboard read a task's history; off by default. Go's backends
     * keep only a task's latest state, so this is the only history there is. The events are
     * buffered and written in batches by a thread of their own (one pipelined round trip per batch
     * on Redis, none on the task's path); each task keeps its last {@link
     * io.machinery.spi.ControlPlane#MAX_TASK_EVENTS} events for a day after its last one. Best
     * effort: events are dropped, never waited for, when the control plane does not keep up.
     *
     * @param value true to record task events
     * @return this builder
     * @throws IllegalStateException from {@link #build()} when the server's control plane keeps no
     *     task events (none, or the AMQP-only one): use Redis or the memory control plane
     */
    public Builder taskEvents(boolean value) {
      taskEvents = value;
      return this;
    }

    /**
     * Limits the runs of task {@code taskName}: a rate, a concurrency cap, or both, per task or per
     * key ({@link TaskLimit}). A run that may not start yet is handed back to the broker and
     * offered again later, holding no slot meanwhile; other tasks are not held up. The limit is as
     * wide as the {@link #limiter}: this worker alone by default, every worker with a shared one.
     *
     * @param taskName the registered name
     * @param limit the limit
     * @return this builder
     * @throws IllegalArgumentException when the name is empty or already has a limit
     */
    public Builder limit(String taskName, TaskLimit limit) {
      Objects.requireNonNull(taskName, "taskName");
      Objects.requireNonNull(limit, "limit");
      if (taskName.isEmpty()) {
        throw new IllegalArgumentException("limit needs a task name, was empty");
      }
      if (limits.putIfAbsent(taskName, limit) != null) {
        throw new IllegalArgumentException(
            "task "
                + taskName
                + " already has a limit ("
                + limits.get(taskName)
                + "); one TaskLimit can set both a rate and a cap");
      }
      return this;
    }

    /**
     * Puts a circuit breaker on the runs of task {@code taskName}, per task or per key ({@link
     * TaskBreaker}): once too many of its latest runs failed, its tasks are handed back to the
     * broker for a while instead of running, holding no slot and spending no retry, and then a
     * trial run decides whether they run again. Each worker keeps its own breakers; openings reach
     * them through the control plane too: an operator's ({@link Inspection#openBreaker}), and those
     * of the cluster's window that breakers built {@link TaskBreaker.Builder#shared} count their
     * runs in.
     *
     * @param taskName the registered name
     * @param breaker the breaker
     * @return this builder
     * @throws IllegalArgumentException when the name is empty or already has a breaker
     */
    public Builder breaker(String taskName, TaskBreaker breaker) {
      Objects.requireNonNull(taskName, "taskName");
      Objects.requireNonNull(breaker, "breaker");
      if (taskName.isEmpty()) {
        throw new IllegalArgumentException("breaker needs a task name, was empty");
      }
      if (breakers.putIfAbsent(taskName, breaker) != null) {
        throw new IllegalArgumentException(
            "task " + taskName + " already has a breaker (" + breakers.get(taskName) + ")");
      }
      return this;
    }

    /**
     * Where limit state lives; default a {@link io.machinery.embedded.LocalTaskLimiter} of this
     * worker's own. Pass one shared store (the Redis limiter of {@code machinery-lock-redis}) to
     * every worker for cluster-wide limits; the caller closes it after the workers.
     *
     * @param value the limiter
     * @return this builder
     */
    public Builder limiter(TaskLimiter value) {
      limiter = Objects.requireNonNull(value, "limiter");
      return this;
    }

    /**
     * The longest a task held back by its limit stays away before it is offered again (plus up to a
     * quarter at random); default {@link #DEFAULT_MAX_LIMIT_DELAY}. Shorter: it starts sooner after
     * a slot frees; longer: a backlog of waiting tasks costs fewer requeues.
     *
     * @param value the delay, from {@link #FIRST_LIMIT_DELAY} to one hour
     * @return this builder
     * @throws IllegalArgumentException when out of that range
     */
    public Builder maxLimitDelay(Duration value) {
      if (value.compareTo(FIRST_LIMIT_DELAY) < 0 || value.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException(
            "maxLimitDelay must be from " + FIRST_LIMIT_DELAY + " to 1 hour, was " + value);
      }
      maxLimitDelay = value;
      return this;
    }

    /** Delays between requeues after failures to process a message (tests shorten them). */
    Builder requeueBackoff(Backoff value) {
      requeueBackoff = Objects.requireNonNull(value);
      return this;
    }

    /** Delays between bookkeeping attempts, and how to wait them (tests shorten them). */
    Builder bookkeepingBackoff(Backoff value, TaskExecution.Pause howToPause) {
      bookkeepingBackoff = Objects.requireNonNull(value);
      pause = Objects.requireNonNull(howToPause);
      return this;
    }

    /** The threads deliveries are handled on (tests inject one that fails to start). */
    Builder deliveryThreads(ThreadFactory value) {
      deliveryThreads = Objects.requireNonNull(value);
      return this;
    }

    /**
     * Builds the worker; it does nothing until launched, and its server stops it on close.
     *
     * @return an unlaunched worker
     */
    public Worker build() {
      return new Worker(this);
    }
  }
}
