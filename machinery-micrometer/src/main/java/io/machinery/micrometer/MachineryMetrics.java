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
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
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
 * metrics.bindWorker(worker);
 * broker.inspector().ifPresent(inspector -> metrics.bindQueue(inspector, "machinery_tasks"));
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
 *       unregistered}). The three outcome counters count recorded outcomes only; a run whose
 *       outcome was not recorded ({@link TaskOutcome#recorded()} false: its bookkeeping gave up and
 *       the message was dead-lettered, or another worker's run of the same message already stored
 *       its outcome) counts in {@value #UNRECORDED} instead (tags {@code task}, {@code state}:
 *       {@code SUCCESS}, {@code FAILURE} or {@code RETRY}, what the run led to), so a task that ran
 *       twice is not counted twice and a failure rate is not raised by a run whose outcome nobody
 *       sees;
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
 * most once per {@link Builder#queueSampleInterval}, shared by its four gauges, so a scrape costs
 * one round trip per queue. Task names are a tag: a deployment with unbounded task names should
 * filter them with a Micrometer {@code MeterFilter}. Thread-safe.
 */
public final class MachineryMetrics implements TaskListener {
  /** Header holding when a message was published, RFC 3339 in UTC. */
  public static final String SENT_AT_HEADER = "machinery_sent_at";

  /** Default of {@link Builder#queueSampleInterval}. */
  public static final Duration DEFAULT_QUEUE_SAMPLE_INTERVAL = Duration.ofSeconds(1);

  static final String SENT = "machinery.tasks.sent";
  static final String RECEIVED = "machinery.tasks.received";
  static final String SUCCEEDED = "machinery.tasks.succeeded";
  static final String FAILED = "machinery.tasks.failed";
  static final String RETRIED = "machinery.tasks.retried";
  static final String DEAD_LETTERED = "machinery.tasks.dead.lettered";
  static final String DEFERRED = "machinery.tasks.deferred";
  static final String UNRECORDED = "machinery.tasks.unrecorded";
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
  private final ConcurrentHashMap<String, Counter> counters = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, DistributionSummary> batchSizes =
      new ConcurrentHashMap<>();

  private MachineryMetrics(Builder b) {
    this.registry = b.registry;
    this.tags = b.tags;
    this.histogram = b.histogram;
    this.clock = b.clock;
    this.sampleInterval = b.sampleInterval;
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
    counter(
            SENT,
            signature.name(),
            "exception",
            error == null ? "none" : error.getClass().getSimpleName())
        .increment();
  }

  @Override
  public void received(Signature signature, String queue) {
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
  public void deadLettered(String queue, @Nullable Signature signature, String reason) {
    counter(DEAD_LETTERED, signature == null ? "unknown" : signature.name(), null, null)
        .increment();
  }

  @Override
  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
    counter(DEFERRED, signature.name(), "reason", deferral.reason().name().toLowerCase(Locale.ROOT))
        .increment();
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
    String exception = error == null ? "none" : error.getClass().getSimpleName();
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
   * hold the worker weakly, as Micrometer gauges do; they read NaN once it is collected.
   */
  public MachineryMetrics bindWorker(Worker worker) {
    Tags workerTags = tags.and("worker", worker.consumerTag());
    Gauge.builder(SLOTS, worker, w -> w.runningTasks())
        .tags(workerTags)
        .tag("state", "busy")
        .description("Worker slots running a task")
        .register(registry);
    Gauge.builder(SLOTS, worker, w -> Math.max(0, w.concurrency() - w.runningTasks()))
        .tags(workerTags)
        .tag("state", "free")
        .description("Worker slots free for a task")
        .register(registry);
    Gauge.builder(CONSUMING, worker, w -> w.isRunning() && !w.isStarting() && !w.isPaused() ? 1 : 0)
        .tags(workerTags)
        .description("1 while the worker has a consumer fetching tasks, else 0")
        .register(registry);
    for (TaskBreaker.State state : List.of(TaskBreaker.State.OPEN, TaskBreaker.State.HALF_OPEN)) {
      Gauge.builder(BREAKERS, worker, w -> breakersIn(w, state))
          .tags(workerTags)
          .tag("state", state.name().toLowerCase(Locale.ROOT))
          .description("Circuit breaker keys of the worker in this state (their tasks are parked)")
          .register(registry);
    }
    return this;
  }

  private static double breakersIn(Worker worker, TaskBreaker.State state) {
    return worker.breakerStates().values().stream().filter(state::equals).count();
  }

  /**
   * Registers queue gauges for {@code queue} (empty: the broker's default queue, tagged with its
   * real name), sampled through {@code inspector} at most once per {@link
   * Builder#queueSampleInterval}. A failing sample reads NaN until the broker answers again.
   */
  public MachineryMetrics bindQueue(Inspector inspector, String queue) {
    Objects.requireNonNull(inspector, "inspector");
    Sampler sampler = new Sampler(inspector, queue, clock, sampleInterval);
    Tags queueTags = tags.and("queue", sampler.name());
    gauge(QUEUE_PENDING, sampler, queueTags, QueueStats::pending, "Tasks waiting in the queue");
    gauge(QUEUE_DELAYED, sampler, queueTags, QueueStats::delayed, "Tasks waiting for their ETA");
    gauge(
        QUEUE_DEAD_LETTERS, sampler, queueTags, QueueStats::deadLettered, "Dead-lettered messages");
    TimeGauge.builder(
            QUEUE_OLDEST_AGE,
            sampler,
            TimeUnit.MILLISECONDS,
            s -> s.read(q -> q.oldestAge().map(Duration::toMillis).orElse(0L)))
        .strongReference(true)
        .tags(queueTags)
        .description("How long the oldest waiting task has waited")
        .register(registry);
    return this;
  }

  private void gauge(
      String name,
      Sampler sampler,
      Tags queueTags,
      ToDoubleFunction<QueueStats> value,
      String description) {
    // Strong: nothing but the gauges holds the sampler, and Micrometer holds gauge objects weakly
    // by default.
    Gauge.builder(name, sampler, s -> s.read(value))
        .strongReference(true)
        .tags(queueTags)
        .description(description)
        .register(registry);
  }

  /** One queue's stats, read at most once per interval for all its gauges. */
  private static final class Sampler {
    private final Inspector inspector;
    private final String queue;
    private final Clock clock;
    private final long intervalMillis;
    private @Nullable QueueStats last;
    private long readAt;
    private boolean failed;
    private final ReentrantLock lock = new ReentrantLock();

    Sampler(Inspector inspector, String queue, Clock clock, Duration interval) {
      this.inspector = inspector;
      this.queue = queue;
      this.clock = clock;
      this.intervalMillis = interval.toMillis();
    }

    String name() {
      return queue.isEmpty() ? inspector.queue("").queue() : queue;
    }

    double read(ToDoubleFunction<QueueStats> value) {
      // a lock, not a monitor: the read is a round trip, and a scrape may run on a virtual thread
      // (Spring Boot's with virtual threads on), which blocked inside synchronized holds its
      // carrier on Java 21 to 23
      lock.lock();
      try {
        long now = clock.millis();
        if (last == null && !failed || now - readAt >= intervalMillis) {
          readAt = now;
          try {
            last = inspector.queue(queue);
            failed = false;
          } catch (RuntimeException e) {
            failed = true;
          }
        }
        QueueStats stats = last;
        return failed || stats == null ? Double.NaN : value.applyAsDouble(stats);
      } finally {
        lock.unlock();
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

    public MachineryMetrics build() {
      return new MachineryMetrics(this);
    }
  }
}
