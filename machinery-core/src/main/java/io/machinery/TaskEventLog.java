package io.machinery;

import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.TaskEvent;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's task event log ({@link Worker.Builder#taskEvents}): records each task's transitions
 * (received, started, retry with its attempt and error, success, failure, deferred with the reason)
 * in the control plane, so an operator sees a task's history, which Go's backends do not keep (they
 * store the latest state only).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>A listener.</b> It is one more {@link TaskListener} of the worker's task executions, so
 *       the worker's own code only creates, chains and closes it; the events come from the same
 *       hooks as metrics and traces, in the same order.
 *   <li><b>No round trip on the task's path.</b> A listener call only puts the event in a bounded
 *       buffer ({@link #BUFFER} events). One thread of this log takes what the buffer holds, up to
 *       {@link #BATCH} events, and writes it with one {@link ControlPlane#recordTaskEvents} call
 *       (one pipelined round trip on Redis). Under load batches grow by themselves: while one is
 *       written the next accumulates.
 *   <li><b>Best effort, bounded.</b> History is for people; it never slows or fails a task. When
 *       the buffer is full (the control plane is slow or down) events are dropped and counted; a
 *       batch whose write fails is dropped and logged once per run of failures. Each task's history
 *       lives {@link #TTL} after its last event, at most {@link ControlPlane#MAX_TASK_EVENTS}
 *       events.
 *   <li><b>Lifecycle.</b> The thread starts with the first event and stops on {@link #close()} (the
 *       worker's quit), after writing what the buffer still holds, waiting at most {@link
 *       #CLOSE_TIMEOUT}.
 * </ul>
 */
final class TaskEventLog implements TaskListener, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TaskEventLog.class);

  /** How long a task's history is kept after its last event. */
  static final Duration TTL = Duration.ofDays(1);

  /** The most events written in one call. */
  static final int BATCH = 500;

  /** The most events waiting to be written; more are dropped. */
  static final int BUFFER = 10_000;

  /** How often the writer looks whether it was closed while the buffer is empty. */
  private static final long POLL_MILLIS = 200;

  /** How long {@link #close()} waits for the last events to be written. */
  static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final ControlPlane plane;
  private final Clock clock;
  private final String name;
  private final Supplier<String> workerId;
  private final ArrayBlockingQueue<TaskEvent> buffer = new ArrayBlockingQueue<>(BUFFER);
  private final AtomicLong dropped = new AtomicLong();
  private final Object lock = new Object();
  private volatile @Nullable Thread writer;
  private volatile boolean closed;
  private boolean failing;

  private TaskEventLog(ControlPlane plane, Clock clock, String name, Supplier<String> workerId) {
    this.plane = plane;
    this.clock = clock;
    this.name = name;
    this.workerId = workerId;
  }

  /**
   * The log of one worker.
   *
   * @param server the worker's server, whose control plane keeps the events
   * @param consumerTag the worker's name, for the thread's name
   * @param workerId the worker's control-plane id, read when an event is made
   * @throws IllegalStateException when the server has no control plane that keeps task events
   */
  static TaskEventLog create(Server server, String consumerTag, Supplier<String> workerId) {
    ControlPlane plane =
        server
            .controlPlane()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "taskEvents(true) needs a control plane (Redis or memory): this server has"
                            + " none"));
    if (!plane.recordsTaskEvents()) {
      throw new IllegalStateException(
          "taskEvents(true) needs a control plane that keeps task events (Redis or memory); "
              + plane.getClass().getSimpleName()
              + " keeps none");
    }
    return new TaskEventLog(plane, server.clock(), consumerTag, workerId);
  }

  @Override
  public void received(Signature signature, String queue) {
    add(signature, TaskEvent.Kind.RECEIVED, "");
  }

  @Override
  public void started(Signature signature) {
    add(signature, TaskEvent.Kind.STARTED, "");
  }

  @Override
  public void finished(TaskOutcome outcome) {
    TaskEvent.Kind kind =
        switch (outcome.state()) {
          case SUCCESS -> TaskEvent.Kind.SUCCESS;
          case FAILURE -> TaskEvent.Kind.FAILURE;
          case RETRY -> TaskEvent.Kind.RETRY;
          default -> null;
        };
    if (kind != null) {
      add(outcome.signature(), kind, outcome.error().orElse(""));
    }
  }

  /**
   * Records the 1st, 2nd, 4th, 8th... hand-back of a message for one reason: a task parked for an
   * hour keeps the rest of its history (at most {@link ControlPlane#MAX_TASK_EVENTS} events).
   */
  @Override
  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
    int times = deferral.times();
    if (times <= 1 || Integer.bitCount(times) == 1) {
      add(signature, TaskEvent.Kind.DEFERRED, deferral.describe());
    }
  }

  private void add(Signature task, TaskEvent.Kind kind, String error) {
    if (closed) {
      return;
    }
    TaskEvent event =
        new TaskEvent(
            task.uuid(),
            task.name(),
            kind,
            clock.instant(),
            workerId.get(),
            MessageHeaders.attempt(task),
            error);
    if (!buffer.offer(event)) {
      long n = dropped.incrementAndGet();
      if (n == 1 || n % BUFFER == 0) {
        log.warn("Worker {}: {} task events dropped: the control plane does not keep up", name, n);
      }
      return;
    }
    startWriter();
  }

  private void startWriter() {
    if (writer != null) {
      return;
    }
    synchronized (lock) {
      if (writer == null && !closed) {
        writer =
            Thread.ofPlatform().daemon().name("machinery-task-events-" + name).start(this::loop);
      }
    }
  }

  private void loop() {
    List<TaskEvent> batch = new ArrayList<>(BATCH);
    try {
      while (!closed) {
        TaskEvent first = buffer.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
        if (first != null) {
          batch.add(first);
          buffer.drainTo(batch, BATCH - 1);
          write(batch);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // close() gave up waiting: the rest is dropped
      return;
    }
    while (buffer.drainTo(batch, BATCH) > 0) {
      write(batch);
    }
  }

  private void write(List<TaskEvent> batch) {
    try {
      plane.recordTaskEvents(batch, TTL);
      if (failing) {
        failing = false;
        log.info("Worker {}: task events are written again", name);
      }
    } catch (RuntimeException e) {
      if (!failing) {
        failing = true;
        log.warn(
            "Worker {}: cannot write {} task events, dropping them (and later ones until it"
                + " works): {}",
            name,
            batch.size(),
            e.toString());
      }
    } finally {
      batch.clear();
    }
  }

  /** Writes what the buffer holds, waiting at most {@link #CLOSE_TIMEOUT}, and stops. */
  @Override
  public void close() {
    Thread w;
    synchronized (lock) {
      closed = true;
      w = writer;
    }
    if (w == null) {
      return;
    }
    try {
      w.join(CLOSE_TIMEOUT);
      if (w.isAlive()) {
        w.interrupt();
        log.warn("Worker {}: gave up writing the last task events after {}", name, CLOSE_TIMEOUT);
      }
    } catch (InterruptedException e) {
      w.interrupt();
      Thread.currentThread().interrupt();
    }
  }
}
