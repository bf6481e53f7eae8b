package io.machinery;

import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import io.machinery.spi.TaskLimiter;
import io.machinery.spi.WorkerStatus;
import io.machinery.wire.LogText;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's gate for rate limits and concurrency caps ({@link TaskLimit}, set with {@link
 * Worker.Builder#limit}): asked after a delivery is decoded and before its task runs.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Waiting without a slot.</b> A limited task that may not start yet is handed back to the
 *       broker with a delay ({@link io.machinery.spi.Delivery#requeue(Duration, byte[])}), which
 *       every broker supports (Redis and memory: the delayed set; AMQP: a TTL queue; SQS: the
 *       visibility timeout), so it holds no worker slot while it waits, nothing polls in a loop,
 *       and the next message, of any task, takes the slot at once. The slot is held only for the
 *       limiter's one round trip. Parking the delivery in the worker instead would hold a
 *       prefetched message (and, on Redis, its processing-list entry) for an unbounded time, and a
 *       per-key wait queue would not be cluster-wide.
 *   <li><b>The delay.</b> {@code max(hint, backoff)}, where the hint is the limiter's (when the
 *       next rate token comes; unknown for a full cap) and the back-off doubles from {@link
 *       Worker#FIRST_LIMIT_DELAY} with each deferral of this message, up to the worker's {@link
 *       Worker.Builder#maxLimitDelay} (a hint is rounded up to the next step); then 0, 1 or 2
 *       eighths more at random, so messages deferred together do not all come back at once. The
 *       delays are few distinct values, so a broker that keeps a queue per delay (AMQP) keeps few.
 *       So a deferred task is offered again within {@code 1.25 × maxLimitDelay} (plus the broker's
 *       delayed-task resolution, e.g. Redis's DelayedTasksPollPeriod) of the moment a slot or token
 *       frees. The growing back-off bounds the load of a backlog: each waiting message costs one
 *       limiter call and one requeue per re-offer, at most once per back-off.
 *   <li><b>Counted, not failed.</b> Each deferral counts up header {@value MessageHeaders#LIMITED}
 *       in the message (so the back-off grows across workers); it is not a failure ({@code
 *       maxDeliveries} does not see it) nor a retry ({@code RetryCount} is untouched). A key
 *       function that throws, or a limiter that cannot be reached, is a failure to process the
 *       message (counted requeue, as any other).
 *   <li><b>Release.</b> A run that took a concurrency slot gives it back when it ends, whatever the
 *       outcome, abandoned runs included; a worker that dies keeps it until the shared store's
 *       lease lapses.
 *   <li><b>Set at run time.</b> An operator's setting in the control plane ({@link
 *       ControlPlane#setTaskLimit}) replaces a configured limit's numbers (its key function stays)
 *       or adds a limit keyed by the task name; the worker's heartbeat reads the settings ({@link
 *       #follow}) and swaps in a new immutable map, so a delivery reads one volatile field and no
 *       store. A run admitted under the old numbers releases under them (its {@link Permit} keeps
 *       its limit). The heartbeat's status tells the limits in force and which numbers came from
 *       the control plane ({@link #status}), read from the same swapped map, so an operator sees
 *       which workers took a setting up.
 *   <li><b>Eager broker.</b> Its deliveries run in the sender's thread and cannot be requeued: the
 *       gate waits there instead, asking again after each delay.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class TaskLimits {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  /** What the gate decided. */
  sealed interface Entry {}

  /** Run the task, then {@link #close()} the permit. */
  static final class Permit implements Entry, AutoCloseable {
    private final @Nullable TaskLimiter limiter;
    private final String key;
    private final @Nullable TaskLimit limit;
    private final String holder;

    private Permit(
        @Nullable TaskLimiter limiter, String key, @Nullable TaskLimit limit, String holder) {
      this.limiter = limiter;
      this.key = key;
      this.limit = limit;
      this.holder = holder;
    }

    @Override
    public void close() {
      if (limiter != null && limit != null && limit.maxConcurrent() > 0) {
        try {
          limiter.release(key, limit, holder);
        } catch (RuntimeException e) {
          log.warn(
              "Could not give back the concurrency slot of {} under key {}: {}",
              holder,
              LogText.of(key),
              e.toString());
        }
      }
    }
  }

  /** Hand the message back: {@code replacement} after {@code delay}. */
  record Defer(Duration delay, Signature replacement, String key, int deferrals) implements Entry {}

  static final Permit UNLIMITED = new Permit(null, "", null, "");

  /** The limits the worker's builder gave. */
  private final Map<String, TaskLimit> configured;

  /**
   * What is in force, swapped whole by {@link #follow}, so a reader sees a limit and the setting it
   * came from together.
   */
  private volatile InForce state;

  /** False once the control plane said it keeps no limits. */
  private volatile boolean settingsSupported = true;

  private final TaskLimiter limiter;
  private final Backoff backoff;
  private final String consumerTag;
  private final AtomicLong runs = new AtomicLong();

  /**
   * The limits in force and the control plane's settings last read ({@link #follow}).
   *
   * @param limits {@link #configured}, with the settings over it or beside it
   * @param settings the settings, by task name
   */
  private record InForce(Map<String, TaskLimit> limits, Map<String, TaskLimitSetting> settings) {}

  TaskLimits(
      Map<String, TaskLimit> limits, TaskLimiter limiter, Duration maxDelay, String consumerTag) {
    this.configured = Map.copyOf(limits);
    this.state = new InForce(configured, Map.of());
    this.limiter = limiter;
    Duration first =
        Worker.FIRST_LIMIT_DELAY.compareTo(maxDelay) < 0 ? Worker.FIRST_LIMIT_DELAY : maxDelay;
    this.backoff = new Backoff(first, maxDelay);
    this.consumerTag = consumerTag;
  }

  boolean isEmpty() {
    return state.limits().isEmpty();
  }

  /** The limits in force, by task name. */
  Map<String, TaskLimit> inForce() {
    return state.limits();
  }

  /**
   * The limits in force as a heartbeat tells them ({@link WorkerStatus#limits()}): each one's
   * numbers, whether it counts per key, and whether its numbers are a control plane's setting.
   */
  Map<String, WorkerStatus.LimitInForce> status() {
    InForce now = state;
    Map<String, WorkerStatus.LimitInForce> out = new HashMap<>();
    now.limits()
        .forEach(
            (task, limit) ->
                out.put(
                    task,
                    new WorkerStatus.LimitInForce(
                        limit.ratePermits(),
                        limit.ratePeriod(),
                        limit.burst(),
                        limit.maxConcurrent(),
                        !limit.keyedByTaskName(),
                        now.settings().containsKey(task))));
    return out;
  }

  /**
   * Reads the task limits set in the control plane ({@link ControlPlane#taskLimits()}) and puts
   * them in force over the configured ones, logging each change. A control plane that keeps no
   * limits turns this off for good (logged once).
   *
   * @throws RuntimeException when the control plane cannot be read (the heartbeat logs it; the
   *     limits in force stay)
   */
  void follow(ControlPlane plane) {
    if (!settingsSupported) {
      return;
    }
    Map<String, TaskLimitSetting> read;
    try {
      read = Map.copyOf(plane.taskLimits());
    } catch (UnsupportedOperationException e) {
      settingsSupported = false;
      log.debug(
          "The control plane {} keeps no task limits: worker {} keeps its configured ones",
          plane.getClass().getSimpleName(),
          consumerTag);
      return;
    }
    Map<String, TaskLimitSetting> before = state.settings();
    if (read.equals(before)) {
      return;
    }
    Map<String, TaskLimit> next = new HashMap<>(configured);
    read.forEach(
        (task, setting) -> {
          TaskLimit own = configured.get(task);
          next.put(task, setting.toLimit(own != null ? own.keyFunction() : TaskLimit.BY_TASK_NAME));
        });
    state = new InForce(Map.copyOf(next), read);
    read.forEach(
        (task, setting) -> {
          if (!setting.equals(before.get(task))) {
            log.info(
                "Worker {}: task {} is limited to {} (set in the control plane{})",
                consumerTag,
                LogText.of(task),
                setting.describe(),
                configured.containsKey(task) ? ", over " + configured.get(task) : "");
          }
        });
    before.keySet().stream()
        .filter(task -> !read.containsKey(task))
        .forEach(
            task ->
                log.info(
                    "Worker {}: the control plane's limit on task {} was cleared; {}",
                    consumerTag,
                    LogText.of(task),
                    configured.containsKey(task)
                        ? "back to " + configured.get(task)
                        : "it runs without a limit"));
  }

  /**
   * Asks the limiter whether {@code signature} may run now.
   *
   * @throws RuntimeException when the key function throws or the limiter cannot be reached
   */
  Entry enter(Signature signature) {
    TaskLimit limit = state.limits().get(signature.name());
    if (limit == null) {
      return UNLIMITED;
    }
    String key = limit.keyOf(signature);
    String holder = consumerTag + "/" + signature.uuid() + "/" + runs.incrementAndGet();
    TaskLimiter.Decision decision = limiter.tryAcquire(key, limit, holder);
    if (decision.admitted()) {
      return new Permit(limiter, key, limit, holder);
    }
    int deferrals = MessageHeaders.count(signature, MessageHeaders.LIMITED) + 1;
    return new Defer(
        delay(deferrals, decision.retryAfter(), ThreadLocalRandom.current().nextInt(3)),
        MessageHeaders.with(signature, MessageHeaders.LIMITED, deferrals),
        key,
        deferrals);
  }

  /**
   * The back-off step of this deferral, or the first later step that covers the limiter's hint,
   * plus {@code jitterStep} (0-2) eighths: a few distinct values only, so a broker that keeps a
   * queue per delay (AMQP's requeue queues) keeps few of them.
   */
  Duration delay(int deferrals, Duration hint, int jitterStep) {
    int step = deferrals;
    Duration base = backoff.delay(step);
    while (base.compareTo(hint) < 0 && base.compareTo(backoff.max()) < 0) {
      base = backoff.delay(++step);
    }
    return base.plus(base.dividedBy(8).multipliedBy(jitterStep));
  }

  /**
   * {@link #enter} until admitted, waiting in this thread between tries (the eager broker).
   *
   * @throws InterruptedException when interrupted while waiting
   */
  Permit enterWaiting(Signature signature) throws InterruptedException {
    Signature current = signature;
    while (true) {
      Entry entry = enter(current);
      if (entry instanceof Permit permit) {
        return permit;
      }
      Defer defer = (Defer) entry;
      current = defer.replacement();
      Thread.sleep(defer.delay());
    }
  }
}
