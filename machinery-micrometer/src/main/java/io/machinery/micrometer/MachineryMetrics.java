package io.machinery.micrometer;

import io.machinery.BatchRun;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskBreaker;
import io.machinery.TaskDeferral;
import io.machinery.TaskListener;
import io.machinery.TaskOutcome;
import io.machinery.Worker;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.wire.LogText;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import java.lang.ref.WeakReference;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * Micrometer metrics for tasks, workers and queues. A {@link TaskListener}: register it with {@link
 * io.machinery.Server.Builder#listener}, then bind the workers and queues whose gauges you want.
 *
 * <pre>{@code
 * MachineryMetrics metrics = MachineryMetrics.builder(registry).build();
 * Server server = Server.builder().broker(broker).backend(backend).listener(metrics).build();
 * Worker worker = server.newWorker("worker-1", 10);
 * MachineryMetrics.Binding workerGauges = metrics.bindWorker(worker);
 * broker.inspector().ifPresent(inspector -> metrics.bindQueue(inspector, "machinery_tasks"));
 * // once the worker has stopped, its gauges go (a queue's binding closes the same way):
 * workerGauges.close();
 * }</pre>
 *
 * <p>Meters (Micrometer names; a Prometheus registry renders {@code machinery.tasks.sent} as {@code
 * machinery_tasks_sent_total} and timers in seconds):
 *
 * <ul>
 *   <li>counters {@value #SENT} (tags {@code task}, {@code exception}: {@code none} or the error's
 *       class), and {@value #RECEIVED}, {@value #SUCCEEDED}, {@value #FAILED}, {@value #RETRIED},
 *       {@value #DEAD_LETTERED} (tag {@code task}; {@code unknown} for a message that did not
 *       decode), all by task name, and {@value #DEFERRED} (tasks handed back to the broker without
 *       running; tags {@code task}, {@code reason}: {@code limit}, {@code breaker} or {@code
 *       unregistered}). A name that is not registered here (a deferral {@code unregistered}, a dead
 *       letter of a task never received here) comes off the wire: the first {@value
 *       #MAX_FOREIGN_TASK_NAMES} such names are tagged as they are (cut to {@link
 *       LogText#MAX_CHARS} characters), later ones {@value #OTHER_TASKS}. The three outcome
 *       counters count recorded outcomes only; a run whose outcome was not recorded ({@link
 *       TaskOutcome#recorded()} false: its bookkeeping gave up and the message was dead-lettered,
 *       or another worker's run of the same message already stored its outcome) counts in {@value
 *       #UNRECORDED} instead (tags {@code task}, {@code state}: {@code SUCCESS}, {@code FAILURE} or
 *       {@code RETRY}, what the run led to), so a task that ran twice is not counted twice and a
 *       failure rate is not raised by a run whose outcome nobody sees;
 *   <li>counter {@value #NOT_RUN} (tags {@code task}, {@code reason}): tasks received here that
 *       ended without an outcome ({@link TaskListener#notRun(Signature, TaskListener.NotRunCause,
 *       String) notRun}), by {@link TaskListener.NotRunCause} in lower case: {@code shutdown} (the
 *       worker abandoned them when it stopped; their messages went back to the broker: expected
 *       during a deploy), {@code backend_failed} (storing their state failed before they ran: alert
 *       on it) or {@code error} (an {@code Error} stopped them before they ran). The worker's log
 *       has each one's details. So every task {@value #RECEIVED} ends in exactly one of {@value
 *       #SUCCEEDED}, {@value #FAILED}, {@value #RETRIED}, {@value #UNRECORDED} or {@value #NOT_RUN}
 *       once it is no longer running;
 *   <li>timers {@value #RUN} (how long the function ran; tags {@code task}, {@code state}) and
 *       {@value #LATENCY} (from enqueue, or from the ETA when later, to start; tag {@code task}),
 *       with a percentile histogram when {@link Builder#publishPercentileHistogram} is set;
 *   <li>for batched task functions, the distribution summary {@value #BATCH_SIZE} (how many tasks
 *       each call received; tag {@code task}: watch its mean against the policy's {@code maxSize})
 *       and the timer {@value #BATCH_RUN} (how long each call ran; tags {@code task}, {@code
 *       exception}: {@code none} or the class of what failed the whole batch); batch keys are not a
 *       tag, as tenants and recipients would make one series each;
 *   <li>gauges {@value #SLOTS} (tags {@code worker}, {@code state}: {@code busy} or {@code free}),
 *       {@value #BREAKERS} (the worker's circuit breaker keys that are not closed; tags {@code
 *       worker}, {@code state}: {@code open} or {@code half_open}; alert on it), and per bound
 *       queue {@value #QUEUE_PENDING}, {@value #QUEUE_DELAYED}, {@value #QUEUE_DEAD_LETTERS},
 *       {@value #QUEUE_OLDEST_AGE} (tag {@code queue}).
 * </ul>
 *
 * <p>Design notes. The enqueue time travels in the message as header {@value #SENT_AT_HEADER}: an
 * RFC 3339 string (a string, so Go's AMQP broker accepts it and Go workers carry it on), set by
 * {@link #publishing} on every send, so a retry measures from its own publish (or its ETA). A
 * worker that meets a message without it (sent by Go, or by a server without this listener) and
 * without an ETA records no latency. Queue gauges read one {@link Inspector#queue} per queue at
 * most once per {@link Builder#queueSampleInterval}, shared by its four gauges, on a virtual thread
 * of its own: a scrape waits for it at most {@link Builder#queueSampleTimeout} and then shows the
 * last sample, so a broker that hangs delays a scrape by that much per queue, never by its command
 * timeout per gauge. Gauges are tagged by worker consumer tag and by queue name, and read through a
 * target that the latest {@link #bindWorker} or {@link #bindQueue} for that tag sets: a worker or a
 * server made again in the same registry takes its gauges over (Micrometer hands back the meter it
 * has for an id, which would otherwise read the old one for ever), and the old queue's inspector is
 * let go. Each bind returns a {@link Binding}, {@link AutoCloseable} like Micrometer's own binders
 * that hold resources: closing it removes that worker's or queue's gauges from the registry, which
 * then lets go of the worker and the inspector; close it when the worker stops or the broker
 * closes. Closing a binding that a later bind under the same tag or queue took over leaves the
 * gauges to that one. The counters and timers by task stay. Names of tasks sent and registered here
 * are a tag as they are: a deployment with unbounded task names should filter them with a
 * Micrometer {@code MeterFilter}. Thread-safe.
 */
public final class MachineryMetrics implements TaskListener {
  /** Header holding when a message was published, RFC 3339 in UTC. */
  public static final String SENT_AT_HEADER = "machinery_sent_at";

  /** Default of {@link Builder#queueSampleInterval}. */
  public static final Duration DEFAULT_QUEUE_SAMPLE_INTERVAL = Duration.ofSeconds(1);

  /** Default of {@link Builder#queueSampleTimeout}. */
  public static final Duration DEFAULT_QUEUE_SAMPLE_TIMEOUT = Duration.ofMillis(500);

  /**
   * Task names not registered here that get a {@code task} tag of their own; the rest share one.
   */
  static final int MAX_FOREIGN_TASK_NAMES = 100;

  /** The {@code task} tag of the names not registered here past {@link #MAX_FOREIGN_TASK_NAMES}. */
  static final String OTHER_TASKS = "other";

  static final String SENT = "machinery.tasks.sent";
  static final String RECEIVED = "machinery.tasks.received";
  static final String SUCCEEDED = "machinery.tasks.succeeded";
  static final String FAILED = "machinery.tasks.failed";
  static final String RETRIED = "machinery.tasks.retried";
  static final String DEAD_LETTERED = "machinery.tasks.dead.lettered";
  static final String DEFERRED = "machinery.tasks.deferred";
  static final String UNRECORDED = "machinery.tasks.unrecorded";
  static final String NOT_RUN = "machinery.tasks.not.run";
  static final String RUN = "machinery.task.run";
  static final String LATENCY = "machinery.task.latency";
  static final String BATCH_SIZE = "machinery.batch.size";
  static final String BATCH_RUN = "machinery.batch.run";
  static final String SLOTS = "machinery.worker.slots";
  static final String BREAKERS = "machinery.worker.breakers";
  static final String CONSUMING = "machinery.worker.consuming";
  static final String QUEUE_PENDING = "machinery.queue.pending";
  static final String QUEUE_DELAYED = "machinery.queue.delayed";
  static final String QUEUE_DEAD_LETTERS = "machinery.queue.dead.letters";
  static final String QUEUE_OLDEST_AGE = "machinery.queue.oldest.age";

  private final MeterRegistry registry;
  private final Tags tags;
  private final boolean histogram;
  private final Clock clock;
  private final Duration sampleInterval;
  private final Duration sampleTimeout;
  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();
  private final Set<String> knownTasks = ConcurrentHashMap.newKeySet();
  private final Set<String> foreignTasks = ConcurrentHashMap.newKeySet();
  private final ConcurrentHashMap<String, WeakReference<WorkerTarget>> workers =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, WeakReference<QueueTarget>> queues =
      new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, DistributionSummary> batchSizes =
      new ConcurrentHashMap<>();

  /**
   * Held by each bind and each {@link Binding#close}, so that a close never removes gauges a bind
   * under the same tag or queue is taking over. Never held while the broker is called.
   */
  private final ReentrantLock bindings = new ReentrantLock();

  private MachineryMetrics(Builder b) {
    this.registry = b.registry;
    this.tags = b.tags;
    this.histogram = b.histogram;
    this.clock = b.clock;
    this.sampleInterval = b.sampleInterval;
    this.sampleTimeout = b.sampleTimeout;
  }

  /** A builder for metrics recorded in {@code registry}. */
  public static Builder builder(MeterRegistry registry) {
    return new Builder(registry);
  }

  // ----------------------------------------------------------------------------------------------
  // events

  @Override
  public Signature publishing(Signature signature) {
    return signature.toBuilder().header(SENT_AT_HEADER, clock.instant().toString()).build();
  }

  @Override
  public void sent(Signature signature, @Nullable Throwable error) {
    counter(SENT, signature.name(), "exception", exceptionTag(error)).increment();
  }

  @Override
  public void received(Signature signature, String queue) {
    knownTasks.add(signature.name()); // only registered tasks are received
    counter(RECEIVED, signature.name(), null, null).increment();
  }

  @Override
  public void started(Signature signature) {
    Instant from = enqueuedOrDue(signature);
    if (from != null) {
      Duration latency = Duration.between(from, clock.instant());
      timer(LATENCY, signature.name(), null).record(latency.isNegative() ? Duration.ZERO : latency);
    }
  }

  @Override
  public void finished(TaskOutcome outcome) {
    String task = outcome.signature().name();
    timer(RUN, task, outcome.state()).record(outcome.runTime());
    if (!outcome.recorded()) {
      counter(UNRECORDED, task, "state", outcome.state().name()).increment();
      return;
    }
    String name =
        switch (outcome.state()) {
          case SUCCESS -> SUCCEEDED;
          case RETRY -> RETRIED;
          default -> FAILED;
        };
    counter(name, task, null, null).increment();
  }

  @Override
  public void notRun(Signature signature, NotRunCause cause, String reason) {
    // received: registered here
    counter(NOT_RUN, signature.name(), "reason", cause.name().toLowerCase(Locale.ROOT)).increment();
  }

  @Override
  public void deadLettered(String queue, @Nullable Signature signature, String reason) {
    counter(
            DEAD_LETTERED,
            signature == null ? "unknown" : foreignTask(signature.name()),
            null,
            null)
        .increment();
  }

  @Override
  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
    String task;
    if (deferral.reason() == TaskDeferral.Reason.UNREGISTERED) {
      task = foreignTask(signature.name());
    } else {
      knownTasks.add(signature.name()); // a limit or a breaker: a task registered here
      task = signature.name();
    }
    counter(DEFERRED, task, "reason", deferral.reason().name().toLowerCase(Locale.ROOT))
        .increment();
  }

  /**
   * The tag for a task name that came off the wire without being registered here: itself when it
   * was received here or is among the first {@value #MAX_FOREIGN_TASK_NAMES} such names (cut as
   * {@link LogText} cuts it), else {@value #OTHER_TASKS}.
   */
  private String foreignTask(String name) {
    if (knownTasks.contains(name)) {
      return name;
    }
    String cut = LogText.of(name);
    if (foreignTasks.contains(cut)) {
      return cut;
    }
    synchronized (foreignTasks) { // the check and the add together, so the bound holds
      if (foreignTasks.contains(cut) || foreignTasks.size() < MAX_FOREIGN_TASK_NAMES) {
        foreignTasks.add(cut);
        return cut;
      }
    }
    return OTHER_TASKS;
  }

  @Override
  public void batchRan(BatchRun run) {
    batchSizes
        .computeIfAbsent(
            run.task(),
            task ->
                DistributionSummary.builder(BATCH_SIZE)
                    .tags(tags)
                    .tag("task", task)
                    .baseUnit("tasks")
                    .description("How many tasks each call of a batched task function received")
                    .register(registry))
        .record(run.size());
    Throwable error = run.error();
    String exception = exceptionTag(error);
    timers
        .computeIfAbsent(
            BATCH_RUN + '\0' + run.task() + '\0' + exception,
            k -> {
              Timer.Builder builder =
                  Timer.builder(BATCH_RUN)
                      .tags(tags)
                      .tag("task", run.task())
                      .tag("exception", exception)
                      .description("How long calls of a batched task function ran");
              if (histogram) {
                builder.publishPercentileHistogram();
              }
              return builder.register(registry);
            })
        .record(run.runTime());
  }

  /**
   * {@code none}, or the error's simple class name; the binary name for a class that has none (an
   * anonymous one), as an empty tag value is an absent label to Prometheus.
   */
  private static String exceptionTag(@Nullable Throwable error) {
    if (error == null) {
      return "none";
    }
    String simple = error.getClass().getSimpleName();
    return simple.isEmpty() ? error.getClass().getName() : simple;
  }

  /** The later of the publish time (header) and the ETA; null when neither is known. */
  private static @Nullable Instant enqueuedOrDue(Signature signature) {
    Instant sentAt = null;
    if (signature.headers().get(SENT_AT_HEADER) instanceof String text) {
      try {
        sentAt = Instant.parse(text);
      } catch (DateTimeParseException e) {
        sentAt = null; // written by someone else: no latency rather than a wrong one
      }
    }
    OffsetDateTime eta = signature.eta();
    Instant due = eta == null ? null : eta.toInstant();
    if (sentAt == null) {
      return due;
    }
    return due != null && due.isAfter(sentAt) ? due : sentAt;
  }

  private Counter counter(
      String name, String task, @Nullable String extraKey, @Nullable String extraValue) {
    String key = name + '\0' + task + '\0' + extraValue;
    return counters.computeIfAbsent(
        key,
        k -> {
          Counter.Builder builder = Counter.builder(name).tags(tags).tag("task", task);
          if (extraKey != null && extraValue != null) {
            builder.tag(extraKey, extraValue);
          }
          return builder.register(registry);
        });
  }

  private Timer timer(String name, String task, @Nullable State state) {
    String key = name + '\0' + task + '\0' + state;
    return timers.computeIfAbsent(
        key,
        k -> {
          Timer.Builder builder =
              Timer.builder(name)
                  .tags(tags)
                  .tag("task", task)
                  .description(
                      name.equals(RUN)
                          ? "How long task functions ran"
                          : "From enqueue (or ETA) to the task's start");
          if (state != null) {
            builder.tag("state", state.name());
          }
          if (histogram) {
            builder.publishPercentileHistogram();
          }
          return builder.register(registry);
        });
  }

  // ----------------------------------------------------------------------------------------------
  // gauges

  /**
   * Registers {@value #SLOTS} gauges for {@code worker}: busy (tasks running) and free slots; and
   * {@value #BREAKERS} gauges: how many of its circuit breaker keys are open and half-open (one
   * gauge per state, not per key, so keys such as host names add no series); and {@value
   * #CONSUMING}: 1 while it has a consumer fetching tasks, 0 before its launch, while it tries to
   * start or to replace a consumer that ended ({@link Worker#isStarting()}), while its queue is
   * paused, and once it has stopped (an alert on 0 finds a worker that takes no task). The gauges
   * are tagged with its consumer tag; binding another worker with the same tag (the same worker
   * made again after a restart) moves them to that worker. They hold the worker weakly and read NaN
   * once it is collected.
   *
   * @param worker the worker
   * @return its gauges: close it once the worker has stopped, to remove them from the registry
   */
  public Binding bindWorker(Worker worker) {
    String consumerTag = worker.consumerTag();
    bindings.lock();
    try {
      WorkerTarget target = liveTarget(workers, consumerTag, WorkerTarget::new);
      target.bind(worker);
      List<Meter.Id> gauges = workerGauges(target, consumerTag);
      return new GaugeBinding(workers, consumerTag, target, gauges);
    } finally {
      bindings.unlock();
    }
  }

  /** Registers a worker's gauges (see {@link #bindWorker}) and returns their ids. */
  private List<Meter.Id> workerGauges(WorkerTarget target, String consumerTag) {
    List<Meter.Id> gauges = new ArrayList<>();
    // registered every time: a meter removed from the registry since is made again, one still
    // there is handed back and reads the same target
    Tags workerTags = tags.and("worker", consumerTag);
    workerGauge(
        gauges,
        SLOTS,
        target,
        workerTags.and("state", "busy"),
        Worker::runningTasks,
        "Worker slots running a task");
    workerGauge(
        gauges,
        SLOTS,
        target,
        workerTags.and("state", "free"),
        w -> Math.max(0, w.concurrency() - w.runningTasks()),
        "Worker slots free for a task");
    workerGauge(
        gauges,
        CONSUMING,
        target,
        workerTags,
        w -> w.isRunning() && !w.isStarting() && !w.isPaused() ? 1 : 0,
        "1 while the worker has a consumer fetching tasks, else 0");
    for (TaskBreaker.State state : List.of(TaskBreaker.State.OPEN, TaskBreaker.State.HALF_OPEN)) {
      workerGauge(
          gauges,
          BREAKERS,
          target,
          workerTags.and("state", state.name().toLowerCase(Locale.ROOT)),
          w -> breakersIn(w, state),
          "Circuit breaker keys of the worker in this state (their tasks are parked)");
    }
    return gauges;
  }

  /**
   * The target the gauges under {@code key} read, or a new one. Held weakly here (the gauges hold
   * it strongly), so a worker's or queue's meters removed from the registry let their target go,
   * and with it a queue's inspector, which is often a closed broker's.
   */
  private static <T> T liveTarget(
      ConcurrentHashMap<String, WeakReference<T>> targets, String key, Supplier<T> create) {
    targets.values().removeIf(ref -> ref.refersTo(null));
    while (true) {
      WeakReference<T> ref = targets.computeIfAbsent(key, k -> new WeakReference<>(create.get()));
      T live = ref.get();
      if (live != null) {
        return live;
      }
      targets.remove(key, ref);
    }
  }

  private void workerGauge(
      List<Meter.Id> gauges,
      String name,
      WorkerTarget target,
      Tags gaugeTags,
      ToDoubleFunction<Worker> value,
      String description) {
    // Strong: the target is what a rebinding changes; it holds the worker itself weakly.
    gauges.add(
        Gauge.builder(name, target, t -> t.read(value))
            .strongReference(true)
            .tags(gaugeTags)
            .description(description)
            .register(registry)
            .getId());
  }

  private static double breakersIn(Worker worker, TaskBreaker.State state) {
    return worker.breakerStates().values().stream().filter(state::equals).count();
  }

  /**
   * What a worker's or a queue's gauges read, and which {@link Binding} owns them: the one made by
   * the latest bind under its tag or queue name.
   */
  private abstract static class Target {
    @Nullable Object owner; // guarded by bindings
  }

  /** The worker a consumer tag's gauges read: the one bound last, held weakly. */
  private static final class WorkerTarget extends Target {
    private volatile WeakReference<Worker> worker = new WeakReference<>(null);

    void bind(Worker value) {
      worker = new WeakReference<>(value);
    }

    double read(ToDoubleFunction<Worker> value) {
      Worker w = worker.get();
      return w == null ? Double.NaN : value.applyAsDouble(w);
    }
  }

  /**
   * Registers queue gauges for {@code queue} (empty: the broker's default queue, tagged with its
   * real name, which costs one round trip now), sampled through {@code inspector} at most once per
   * {@link Builder#queueSampleInterval}. A read waits at most {@link Builder#queueSampleTimeout}
   * for a fresh sample, then shows the last one: a broker that hangs never holds a scrape for
   * longer. A failing sample reads NaN until the broker answers again; meanwhile reads do not wait
   * (so the first answer shows one scrape later). Binding the same queue again (with a new server's
   * inspector, say) moves its gauges to {@code inspector}, and lets go of the one bound before.
   *
   * @param inspector the broker's inspector
   * @param queue the queue's name; empty for the broker's default queue
   * @return its gauges: close it when the broker closes (or the queue is no longer watched), to
   *     remove them from the registry
   * @throws io.machinery.MachineryException when {@code queue} is empty and the broker cannot be
   *     reached to name its default queue
   */
  public Binding bindQueue(Inspector inspector, String queue) {
    Objects.requireNonNull(inspector, "inspector");
    String name = queue.isEmpty() ? inspector.queue("").queue() : queue;
    Sampler sampler = new Sampler(inspector, name, clock, sampleInterval, sampleTimeout);
    bindings.lock();
    try {
      QueueTarget target = liveTarget(queues, name, () -> new QueueTarget(sampler));
      target.sampler = sampler;
      List<Meter.Id> gauges = new ArrayList<>();
      Tags queueTags = tags.and("queue", name);
      gauge(
          gauges,
          QUEUE_PENDING,
          target,
          queueTags,
          QueueStats::pending,
          "Tasks waiting in the queue");
      gauge(
          gauges,
          QUEUE_DELAYED,
          target,
          queueTags,
          QueueStats::delayed,
          "Tasks waiting for their ETA");
      gauge(
          gauges,
          QUEUE_DEAD_LETTERS,
          target,
          queueTags,
          QueueStats::deadLettered,
          "Dead-lettered messages");
      gauges.add(
          TimeGauge.builder(
                  QUEUE_OLDEST_AGE,
                  target,
                  TimeUnit.MILLISECONDS,
                  t -> t.sampler.read(q -> q.oldestAge().map(Duration::toMillis).orElse(0L)))
              .strongReference(true)
              .tags(queueTags)
              .description("How long the oldest waiting task has waited")
              .register(registry)
              .getId());
      return new GaugeBinding(queues, name, target, gauges);
    } finally {
      bindings.unlock();
    }
  }

  private void gauge(
      List<Meter.Id> gauges,
      String name,
      QueueTarget target,
      Tags queueTags,
      ToDoubleFunction<QueueStats> value,
      String description) {
    // Strong: nothing but the gauges holds the target, and Micrometer holds gauge objects weakly
    // by default.
    gauges.add(
        Gauge.builder(name, target, t -> t.sampler.read(value))
            .strongReference(true)
            .tags(queueTags)
            .description(description)
            .register(registry)
            .getId());
  }

  /**
   * The gauges one {@link #bindWorker} or {@link #bindQueue} call registered. Closing it removes
   * them from the registry, which then lets go of the worker or of the queue's inspector: the way
   * Micrometer's own binders that hold resources ({@code JvmGcMetrics}, {@code KafkaClientMetrics})
   * are released. Thread-safe.
   */
  public interface Binding extends AutoCloseable {
    /**
     * Removes the gauges this binding registered, unless a later bind under the same worker tag or
     * queue name took them over (closing that one removes them). Idempotent; does not block on the
     * broker.
     */
    @Override
    void close();
  }

  /** A {@link Binding}: owns its target's gauges until a later bind takes them over. */
  private final class GaugeBinding implements Binding {
    private final Map<String, ? extends WeakReference<?>> targets;
    private final String key;
    private @Nullable Target target; // guarded by bindings; null once closed
    private final List<Meter.Id> gauges;

    GaugeBinding(
        Map<String, ? extends WeakReference<?>> targets,
        String key,
        Target target,
        List<Meter.Id> gauges) {
      this.targets = targets;
      this.key = key;
      this.target = target;
      this.gauges = List.copyOf(gauges);
      target.owner = this;
    }

    @Override
    public void close() {
      bindings.lock();
      try {
        Target bound = target;
        target = null; // a binding kept after its close holds nothing
        if (bound == null || bound.owner != this) {
          return;
        }
        bound.owner = null;
        gauges.forEach(registry::remove);
        WeakReference<?> ref = targets.get(key); // binds change the map only under the lock too
        if (ref != null && ref.get() == bound) {
          targets.remove(key, ref);
        }
      } finally {
        bindings.unlock();
      }
    }
  }

  /** The sampler a queue's gauges read: the one bound last. */
  private static final class QueueTarget extends Target {
    volatile Sampler sampler;

    QueueTarget(Sampler sampler) {
      this.sampler = sampler;
    }
  }

  /**
   * One queue's stats, read at most once per interval for all its gauges. A sample runs on a
   * virtual thread of its own, one at a time per queue; a read starts one when the last is older
   * than the interval, waits for it until the sample's deadline (its start plus the timeout, or its
   * start when the last sample failed), and then reads the newest answer. So a broker that hangs
   * costs one scrape at most the timeout per queue, its other gauges and later scrapes nothing
   * more, and the thread ends when the inspector's call does (within the broker's own timeout).
   */
  private static final class Sampler {
    private final Inspector inspector;
    private final String queue;
    private final Clock clock;
    private final long intervalMillis;
    private final long timeoutNanos;
    // a lock, not a monitor: a scrape may run on a virtual thread (Spring Boot's with virtual
    // threads on), which blocked inside synchronized holds its carrier on Java 21 to 23
    private final ReentrantLock lock = new ReentrantLock();
    private @Nullable QueueStats last;
    private boolean failed;
    private boolean sampled;
    private long sampledAt;
    private @Nullable CompletableFuture<Void> inFlight;
    private long inFlightDeadline;

    Sampler(Inspector inspector, String queue, Clock clock, Duration interval, Duration timeout) {
      this.inspector = inspector;
      this.queue = queue;
      this.clock = clock;
      this.intervalMillis = interval.toMillis();
      this.timeoutNanos = timeout.toNanos();
    }

    double read(ToDoubleFunction<QueueStats> value) {
      CompletableFuture<Void> sample;
      long deadline;
      lock.lock();
      try {
        if (inFlight == null && (!sampled || clock.millis() - sampledAt >= intervalMillis)) {
          CompletableFuture<Void> started = new CompletableFuture<>();
          inFlight = started;
          // after a failure, no wait: a broker that is down or hangs holds no more scrapes
          inFlightDeadline = System.nanoTime() + (failed ? 0 : timeoutNanos);
          Thread.ofVirtual().name("machinery-metrics-sample").start(() -> sample(started));
        }
        sample = inFlight;
        deadline = inFlightDeadline;
      } finally {
        lock.unlock();
      }
      if (sample != null) {
        try {
          sample.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
          // not answered in time: the last answer stands
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      lock.lock();
      try {
        QueueStats stats = last;
        return failed || stats == null ? Double.NaN : value.applyAsDouble(stats);
      } finally {
        lock.unlock();
      }
    }

    private void sample(CompletableFuture<Void> done) {
      QueueStats stats = null;
      try {
        stats = inspector.queue(queue);
      } catch (RuntimeException e) {
        stats = null;
      } finally {
        lock.lock();
        try {
          last = stats == null ? last : stats;
          failed = stats == null;
          sampled = true;
          sampledAt = clock.millis(); // from the answer: a slow one is not fetched again at once
          inFlight = null;
        } finally {
          lock.unlock();
        }
        done.complete(null);
      }
    }
  }

  /** Builds {@link MachineryMetrics}; not thread-safe. */
  public static final class Builder {
    private final MeterRegistry registry;
    private Tags tags = Tags.empty();
    private boolean histogram;
    private Clock clock = Clock.systemUTC();
    private Duration sampleInterval = DEFAULT_QUEUE_SAMPLE_INTERVAL;
    private Duration sampleTimeout = DEFAULT_QUEUE_SAMPLE_TIMEOUT;

    private Builder(MeterRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
    }

    /** Tags added to every meter (an application name, say). */
    public Builder tags(Iterable<io.micrometer.core.instrument.Tag> value) {
      tags = Tags.of(Objects.requireNonNull(value, "tags"));
      return this;
    }

    /** Whether the timers publish a percentile histogram (Prometheus buckets); default false. */
    public Builder publishPercentileHistogram(boolean value) {
      histogram = value;
      return this;
    }

    /** The wall clock for enqueue times and sampling; default the system UTC clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /** How long a queue sample is reused by its gauges; default 1 s. */
    public Builder queueSampleInterval(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException(
            "queueSampleInterval must not be negative, was " + value);
      }
      sampleInterval = value;
      return this;
    }

    /**
     * How long a gauge read waits for a queue sample it started (or found running) before it shows
     * the last one; default 500 ms. With several bound queues on a broker that starts to hang, a
     * scrape takes up to this much per queue (later ones none: a read does not wait after a failed
     * sample); zero never waits (each read shows the sample before).
     */
    public Builder queueSampleTimeout(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("queueSampleTimeout must not be negative, was " + value);
      }
      sampleTimeout = value;
      return this;
    }

    public MachineryMetrics build() {
      return new MachineryMetrics(this);
    }
  }
}
