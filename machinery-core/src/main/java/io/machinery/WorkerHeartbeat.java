package io.machinery;

import io.machinery.config.Config;
import io.machinery.config.Redaction;
import io.machinery.embedded.EagerBackend;
import io.machinery.embedded.EagerBroker;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.embedded.NullBackend;
import io.machinery.periodic.PeriodicEntry;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import io.machinery.wire.LogText;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's link to the {@link ControlPlane}: every interval it announces the worker's status (its
 * running tasks, busy slots, the server's periodic entries, its breakers that are not closed and
 * the task limits in force), reads the cancelled tasks, the task limits set there ({@link
 * TaskLimits#follow}) and the breaker openings ({@link TaskBreakers#follow}), and reads the paused
 * queues, pausing or resuming the worker's consumption to match.
 *
 * <p>Design notes: one platform thread per worker (a heartbeat must not wait behind CPU-bound
 * virtual threads); it survives any throwable, logging a failing control plane once per failure
 * streak, so an unreachable store never stops a worker (the worker keeps consuming; it is simply
 * not listed). The time to live of an announcement is three intervals, so one missed beat does not
 * make a worker disappear. On stop the status is withdrawn at once.
 */
final class WorkerHeartbeat {
  private static final Logger log = LoggerFactory.getLogger(WorkerHeartbeat.class);

  /** What the heartbeat needs from its worker. */
  interface Subject {
    String consumerTag();

    /** The queue's actual name. */
    String queueName();

    int concurrency();

    int busySlots();

    boolean isPaused();

    /**
     * Whether it runs without a consumer though its queue is not paused: it tries to start one, or
     * to replace one that ended by itself ({@link WorkerStatus#starting()}).
     */
    boolean isStarting();

    List<TaskExecution> runningTasks();

    /**
     * The state of each circuit breaker key the worker keeps (past 10,000 keys it forgets quiet
     * closed ones, see {@link Worker#breakerStates()}).
     */
    Map<String, TaskBreaker.State> breakerStates();

    /** Stops fetching (running tasks finish); no-op when already paused or stopping. */
    void pauseConsuming();

    /** Starts fetching again; no-op when not paused or stopping. */
    void resumeConsuming();
  }

  private final ControlPlane controlPlane;
  private final Server server;
  private final Subject worker;
  private final Revocations revocations;
  private final TaskLimits limits;
  private final TaskBreakers breakers;
  private final Duration interval;
  private final String id;
  private final String host;
  private final long pid;
  private final Instant startedAt;
  private final String broker;
  private final String resultBackend;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile @Nullable Thread thread;
  private boolean failing;

  WorkerHeartbeat(
      ControlPlane controlPlane,
      Server server,
      Subject worker,
      Duration interval,
      Revocations revocations,
      TaskLimits limits,
      TaskBreakers breakers) {
    this.controlPlane = controlPlane;
    this.revocations = revocations;
    this.limits = limits;
    this.breakers = breakers;
    this.server = server;
    this.worker = worker;
    this.interval = interval;
    this.host = hostName();
    this.pid = ProcessHandle.current().pid();
    this.id =
        host
            + ":"
            + pid
            + ":"
            + worker.consumerTag()
            + ":"
            + UUID.randomUUID().toString().substring(0, 8);
    this.startedAt = server.clock().instant();
    this.broker = brokerOf(server);
    this.resultBackend = resultBackendOf(server);
  }

  /**
   * Whether the worker's queue is paused now; false when the control plane cannot be read (logged).
   */
  boolean queuePausedAtStart() {
    try {
      return controlPlane.isPaused(worker.queueName());
    } catch (RuntimeException e) {
      log.warn(
          "Worker {}: could not read the paused queues ({}); starting to fetch",
          worker.consumerTag(),
          e.toString());
      return false;
    }
  }

  /**
   * Reads the revoked tasks and the task limits once; a failure is logged and leaves none known
   * (the configured limits hold).
   */
  void refreshBeforeStart() {
    try {
      revocations.refresh(List.of());
      limits.follow(controlPlane);
      breakers.follow(controlPlane, id);
    } catch (RuntimeException e) {
      log.warn(
          "Worker {}: could not read the cancelled tasks, task limits and breaker openings ({});"
              + " trying again on the next heartbeat",
          worker.consumerTag(),
          e.toString());
    }
  }

  /** The worker's id in the control plane. */
  String id() {
    return id;
  }

  /**
   * Starts beating. With {@code announceNow} the first announcement is made before this returns (a
   * CLI run right after a launch sees the worker); without, the heartbeat's thread makes it at
   * once, so that a caller whose start failed (the server may be the control plane's too, and
   * unreachable) does not wait for it as well.
   */
  void start(boolean announceNow) {
    if (announceNow) {
      beat();
    }
    Thread t =
        Thread.ofPlatform()
            .daemon()
            .name("machinery-heartbeat-" + worker.consumerTag())
            .start(
                () -> {
                  if (!announceNow) {
                    beat();
                  }
                  loop();
                });
    thread = t;
  }

  void stop() {
    stopped.countDown();
    Thread t = thread;
    if (t != null) {
      try {
        t.join(Duration.ofSeconds(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      controlPlane.withdraw(id);
    } catch (RuntimeException e) {
      log.debug("Worker {}: could not withdraw its status: {}", id, e.toString());
    }
  }

  private void loop() {
    try {
      while (!stopped.await(interval.toNanos(), TimeUnit.NANOSECONDS)) {
        beat();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** One heartbeat: follow the pause flag, then announce. Never throws. */
  void beat() {
    try {
      // first: a resumed consumer must not fetch a task cancelled while the queue was paused
      revocations.refresh(worker.runningTasks());
      limits.follow(controlPlane);
      breakers.follow(controlPlane, id);
      boolean paused = controlPlane.isPaused(worker.queueName());
      if (paused && !worker.isPaused()) {
        log.info(
            "Worker {}: queue {} is paused; fetching stops",
            worker.consumerTag(),
            LogText.of(worker.queueName()));
        worker.pauseConsuming();
      } else if (!paused && worker.isPaused()) {
        log.info(
            "Worker {}: queue {} resumed; fetching starts again",
            worker.consumerTag(),
            LogText.of(worker.queueName()));
        worker.resumeConsuming();
      }
      controlPlane.announce(status(), interval.multipliedBy(3));
      if (failing) {
        failing = false;
        log.info("Worker {}: the control plane is reachable again", worker.consumerTag());
      }
    } catch (Throwable t) {
      if (!failing) {
        failing = true;
        log.warn(
            "Worker {}: heartbeat failed ({}); the worker keeps consuming but is not listed and does not follow pauses until it works again",
            worker.consumerTag(),
            t.toString());
      }
    }
  }

  WorkerStatus status() {
    List<WorkerStatus.RunningTask> running = new ArrayList<>();
    for (TaskExecution execution : worker.runningTasks()) {
      Signature task = execution.signature();
      running.add(new WorkerStatus.RunningTask(task.uuid(), task.name(), execution.receivedAt()));
    }
    List<WorkerStatus.ScheduledEntry> periodic = new ArrayList<>();
    for (PeriodicEntry entry : server.periodicEntries()) {
      periodic.add(
          new WorkerStatus.ScheduledEntry(
              entry.name(), entry.spec(), entry.nextFireTime(), entry.lastFireTime()));
    }
    return new WorkerStatus(
        id,
        host,
        pid,
        worker.consumerTag(),
        worker.queueName(),
        worker.concurrency(),
        worker.busySlots(),
        worker.isPaused(),
        startedAt,
        server.clock().instant(),
        running,
        periodic,
        WorkerStatus.notClosed(worker.breakerStates()),
        broker,
        resultBackend,
        limits.status(),
        worker.isStarting());
  }

  /**
   * Where a worker of {@code server} takes tasks from, for people ({@link WorkerStatus#broker()}):
   * the broker URL of the server's config without credentials ({@code memory://} or {@code
   * eager://} for the in-process brokers, which a config built in code need not name), the old
   * broker first during a move ({@code another broker} when a move built in code has its old URL
   * nowhere).
   */
  static String brokerOf(Server server) {
    Config config = server.config();
    Broker broker = server.broker();
    if (broker instanceof MigratingBroker moving) {
      return move(
          inProcess(moving.from()),
          config.migrateFromBroker(),
          "another broker",
          inProcess(moving.to()),
          config.broker());
    }
    return inProcess(broker).orElse(Redaction.redactUrl(config.broker()));
  }

  /**
   * Where {@code server} stores results, for people ({@link WorkerStatus#resultBackend()}), in the
   * form of {@link #brokerOf}: the config's result backend URL without credentials ({@code
   * memory://}, {@code eager} or {@code null} for core's own), the old one first during a move
   * ({@code another result backend} when a move built in code has its old URL nowhere).
   */
  static String resultBackendOf(Server server) {
    Config config = server.config();
    Backend backend = server.backend();
    if (backend instanceof MigratingBackend moving) {
      return move(
          inProcess(moving.from()),
          config.migrateFromResultBackend(),
          "another result backend",
          inProcess(moving.to()),
          config.resultBackend());
    }
    return inProcess(backend).orElse(Redaction.redactUrl(config.resultBackend()));
  }

  /**
   * {@code old -> new}: each side's in-process name, else its URL without credentials ({@code
   * unnamed} for an old side whose URL the config does not hold: a move built in code).
   */
  private static String move(
      Optional<String> from, String fromUrl, String unnamed, Optional<String> to, String toUrl) {
    return from.orElse(fromUrl.isBlank() ? unnamed : Redaction.redactUrl(fromUrl))
        + " -> "
        + to.orElse(Redaction.redactUrl(toUrl));
  }

  private static Optional<String> inProcess(Backend backend) {
    if (backend instanceof MemoryBackend) {
      return Optional.of("memory://");
    }
    if (backend instanceof EagerBackend) {
      return Optional.of("eager");
    }
    return backend instanceof NullBackend ? Optional.of("null") : Optional.empty();
  }

  private static Optional<String> inProcess(Broker broker) {
    if (broker instanceof MemoryBroker) {
      return Optional.of("memory://");
    }
    return broker instanceof EagerBroker ? Optional.of("eager://") : Optional.empty();
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      String name = ManagementFactory.getRuntimeMXBean().getName();
      int at = name.indexOf('@');
      return at >= 0 ? name.substring(at + 1) : "unknown";
    }
  }
}
