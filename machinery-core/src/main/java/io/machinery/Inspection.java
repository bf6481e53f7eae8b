package io.machinery;

import io.machinery.periodic.PeriodicEntry;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.spi.WorkerStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Everything an operator asks about a deployment, through one server: queue sizes and pages of
 * tasks (the broker's {@link Inspector}), live workers, in-flight tasks, paused queues and periodic
 * entries (the {@link ControlPlane}), one task wherever it is (the backend's state and the broker's
 * queues), and the repairs (requeue or delete dead letters, purge, pause, resume). The CLI and the
 * dashboard are built on it; a service can expose it on its own endpoints.
 *
 * <p>Design notes: a thin facade; every call is the one bounded read or write of the part it
 * delegates to, and a part that is missing gives a clear {@link UnsupportedOperationException}
 * naming the part, never an empty answer that looks true. Looking up one task reads its state
 * first, then the workers' running tasks, then scans the queue's pending, delayed and dead-lettered
 * pages up to a bound ({@link #DEFAULT_SCAN_LIMIT} entries each), so it stays cheap on a queue of
 * millions and says when it stopped looking.
 *
 * <p>Size: a facade, one short documented method per operation of the {@code Inspector} and {@code
 * ControlPlane} SPIs.
 */
public final class Inspection {
  /** How many entries of each list {@link #task(String, String)} scans at most. */
  public static final int DEFAULT_SCAN_LIMIT = 10_000;

  private static final int PAGE = 500;

  private final Server server;

  private Inspection(Server server) {
    this.server = server;
  }

  /**
   * Returns the inspection of a server's broker, backend and control plane. It owns nothing:
   * closing the server is enough.
   *
   * @param server the server
   * @return the inspection
   */
  public static Inspection of(Server server) {
    return new Inspection(Objects.requireNonNull(server, "server"));
  }

  /**
   * Tells whether the broker can be inspected (sizes, listings, purge, dead letters).
   *
   * @return true when the broker has an {@link Inspector}
   */
  public boolean canInspectQueues() {
    return server.broker().inspector().isPresent();
  }

  /**
   * Tells whether workers are listed and queues can be paused.
   *
   * @return true when the server has a {@link ControlPlane}
   */
  public boolean hasControlPlane() {
    return server.controlPlane().isPresent();
  }

  private Inspector inspector() {
    return server
        .broker()
        .inspector()
        .orElseThrow(
            () ->
                new UnsupportedOperationException(
                    "the broker "
                        + server.broker().getClass().getSimpleName()
                        + " cannot inspect its queues"));
  }

  private ControlPlane controlPlane() {
    return server
        .controlPlane()
        .orElseThrow(
            () ->
                new UnsupportedOperationException(
                    "no control plane: neither the broker "
                        + server.broker().getClass().getSimpleName()
                        + " nor the backend "
                        + server.backend().getClass().getSimpleName()
                        + " keeps one, and none was given to Server.builder().controlPlane()"));
  }

  /**
   * The queue name an empty name stands for.
   *
   * @param queue a queue name, or empty for the default queue
   * @return the actual name
   */
  public String queueName(String queue) {
    return Objects.requireNonNull(queue, "queue").isEmpty()
        ? server.config().defaultQueue()
        : queue;
  }

  /**
   * Lists the broker's known queues with their sizes. See {@link Inspector#queues()}.
   *
   * @return the queues' sizes
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public List<QueueStats> queues() {
    return inspector().queues();
  }

  /**
   * Reads one queue's sizes. See {@link Inspector#queue(String)}.
   *
   * @param queue the queue; empty means the default queue
   * @return its sizes
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public QueueStats queue(String queue) {
    return inspector().queue(queue);
  }

  /**
   * Lists a page of waiting tasks, oldest first. See {@link Inspector#pending}.
   *
   * @param queue the queue; empty means the default queue
   * @param offset how many to skip
   * @param limit the most to return
   * @return the page
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public List<Signature> pending(String queue, int offset, int limit) {
    return inspector().pending(queue, offset, limit);
  }

  /**
   * Lists a page of delayed tasks, soonest first. See {@link Inspector#delayed}.
   *
   * @param queue the queue; empty means the default queue
   * @param offset how many to skip
   * @param limit the most to return
   * @return the page
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public List<Signature> delayed(String queue, int offset, int limit) {
    return inspector().delayed(queue, offset, limit);
  }

  /**
   * Lists a page of dead letters, oldest first. See {@link Inspector#deadLetters}.
   *
   * @param queue the queue; empty means the default queue
   * @param offset how many to skip
   * @param limit the most to return
   * @return the page
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public List<DeadLetterEntry> deadLetters(String queue, int offset, int limit) {
    return inspector().deadLetters(queue, offset, limit);
  }

  /**
   * Requeues the selected dead letters. See {@link Inspector#requeueDeadLetters}.
   *
   * @param queue the queue; empty means the default queue
   * @param which selects the entries
   * @return how many were requeued
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public int requeueDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return inspector().requeueDeadLetters(queue, which);
  }

  /**
   * Deletes the selected dead letters. See {@link Inspector#deleteDeadLetters}.
   *
   * @param queue the queue; empty means the default queue
   * @param which selects the entries
   * @return how many were deleted
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public int deleteDeadLetters(String queue, Predicate<DeadLetterEntry> which) {
    return inspector().deleteDeadLetters(queue, which);
  }

  /**
   * Removes every waiting task of a queue. See {@link Inspector#purge}.
   *
   * @param queue the queue; empty means the default queue
   * @return how many were removed
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public long purge(String queue) {
    return inspector().purge(queue);
  }

  /**
   * Lists the fairness keys with waiting tasks, in turn order, with their counts. See {@link
   * Inspector#fairnessKeys}.
   *
   * @param queue the queue; empty means the default queue
   * @param limit the most keys to return
   * @return the keys and how many of their tasks wait
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public Map<String, Long> fairnessKeys(String queue, int limit) {
    return inspector().fairnessKeys(queue, limit);
  }

  /**
   * Gives a fairness key of a queue a weight: it takes up to that many tasks in a row when its turn
   * comes. See {@link Inspector#setFairnessWeight}.
   *
   * @param queue the queue; empty means the default queue
   * @param key the fairness key
   * @param weight from 1 (the default; removes the setting) to {@value
   *     io.machinery.spi.FairShares#MAX_WEIGHT}
   * @throws IllegalArgumentException if the key is no usable key or the weight is out of range
   * @throws UnsupportedOperationException when the broker cannot be inspected or keeps no lanes
   */
  public void setFairnessWeight(String queue, String key, int weight) {
    inspector().setFairnessWeight(queue, key, weight);
  }

  /**
   * Returns the fairness weights set for a queue. See {@link Inspector#fairnessWeights}.
   *
   * @param queue the queue; empty means the default queue
   * @return the keys with a weight above 1, sorted by key
   * @throws UnsupportedOperationException when the broker cannot be inspected
   */
  public Map<String, Integer> fairnessWeights(String queue) {
    return inspector().fairnessWeights(queue);
  }

  /**
   * Lists the live workers of the deployment.
   *
   * @return their last statuses, by id
   * @throws UnsupportedOperationException when there is no control plane
   */
  public List<WorkerStatus> workers() {
    return controlPlane().workers();
  }

  /**
   * A task a live worker is running.
   *
   * @param workerId the worker's id
   * @param queue the queue the worker consumes
   * @param task the task
   */
  public record InFlightTask(String workerId, String queue, WorkerStatus.RunningTask task) {}

  /**
   * Lists the tasks live workers run now, oldest first.
   *
   * @param queue the queue; empty means all queues
   * @return the in-flight tasks with the worker holding each
   * @throws UnsupportedOperationException when there is no control plane
   */
  public List<InFlightTask> inFlight(String queue) {
    List<InFlightTask> out = new ArrayList<>();
    for (WorkerStatus worker : workers()) {
      if (queue.isEmpty() || worker.queue().equals(queue)) {
        for (WorkerStatus.RunningTask task : worker.running()) {
          out.add(new InFlightTask(worker.id(), worker.queue(), task));
        }
      }
    }
    out.sort(Comparator.comparing((InFlightTask t) -> t.task().startedAt()));
    return out;
  }

  /**
   * Pauses a queue across all workers (within one heartbeat).
   *
   * @param queue the queue; empty means the default queue
   * @throws UnsupportedOperationException when there is no control plane
   */
  public void pause(String queue) {
    controlPlane().pause(queueName(queue));
  }

  /**
   * Resumes a paused queue.
   *
   * @param queue the queue; empty means the default queue
   * @throws UnsupportedOperationException when there is no control plane
   */
  public void resume(String queue) {
    controlPlane().resume(queueName(queue));
  }

  /**
   * Returns the paused queues.
   *
   * @return the names of the paused queues
   * @throws UnsupportedOperationException when there is no control plane
   */
  public Set<String> pausedQueues() {
    return controlPlane().pausedQueues();
  }

  /**
   * Sets the limit of a task on every worker, within one heartbeat, until {@link #clearTaskLimit};
   * see {@link ControlPlane#setTaskLimit}.
   *
   * @param taskName the task's name
   * @param setting the numbers
   * @throws UnsupportedOperationException when there is no control plane or it keeps no limits
   */
  public void setTaskLimit(String taskName, ControlPlane.TaskLimitSetting setting) {
    controlPlane().setTaskLimit(taskName, setting);
  }

  /**
   * Removes the limit set on a task at run time: its workers go back to their configured limit, or
   * none.
   *
   * @param taskName the task's name
   * @throws UnsupportedOperationException when there is no control plane or it keeps no limits
   */
  public void clearTaskLimit(String taskName) {
    controlPlane().clearTaskLimit(taskName);
  }

  /**
   * Returns the task limits set at run time, by task name.
   *
   * @return the settings
   * @throws UnsupportedOperationException when there is no control plane or it keeps no limits
   */
  public Map<String, ControlPlane.TaskLimitSetting> taskLimits() {
    return controlPlane().taskLimits();
  }

  /**
   * Opens the circuit breakers of {@code key} on every worker for {@code openFor}: within one
   * heartbeat each worker with a breaker of that key parks its tasks until the time is up, then
   * lets its trial runs decide; see {@link ControlPlane#openBreaker}.
   *
   * @param key the breaker key: a task name, or what a breaker's key function returns
   * @param openFor how long, up to {@link ControlPlane.BreakerOpening#MAX_OPEN_FOR}
   * @param reason why, for people
   * @param openedBy who, for people
   * @return the opening as stored
   * @throws IllegalArgumentException when the key or the duration is out of range
   * @throws UnsupportedOperationException when there is no control plane or it keeps no openings
   */
  public ControlPlane.BreakerOpening openBreaker(
      String key, Duration openFor, String reason, String openedBy) {
    return controlPlane().openBreaker(key, openFor, reason, openedBy);
  }

  /**
   * Removes the opening of {@code key}: within one heartbeat the workers whose breaker it opened
   * close it; see {@link ControlPlane#closeBreaker}.
   *
   * @param key the breaker key
   * @throws UnsupportedOperationException when there is no control plane or it keeps no openings
   */
  public void closeBreaker(String key) {
    controlPlane().closeBreaker(key);
  }

  /**
   * Returns the breaker openings in force, by key: an operator's and those of the cluster's window
   * of shared breakers ({@code TaskBreaker.Builder.shared}).
   *
   * @return the openings by key
   * @throws UnsupportedOperationException when there is no control plane or it keeps no openings
   */
  public Map<String, ControlPlane.BreakerOpening> openBreakers() {
    return controlPlane().openBreakers();
  }

  /**
   * Lists the periodic entries of this server and of every live worker's server, by name (an entry
   * announced by several workers is listed once, from the latest heartbeat).
   *
   * @return the entries with their next fire times
   */
  public List<WorkerStatus.ScheduledEntry> periodic() {
    Map<String, WorkerStatus.ScheduledEntry> byName = new LinkedHashMap<>();
    if (hasControlPlane()) {
      List<WorkerStatus> workers = new ArrayList<>(workers());
      workers.sort(Comparator.comparing(WorkerStatus::heartbeatAt));
      for (WorkerStatus worker : workers) {
        for (WorkerStatus.ScheduledEntry entry : worker.periodic()) {
          byName.put(entry.name(), entry);
        }
      }
    }
    for (PeriodicEntry entry : server.periodicEntries()) {
      byName.put(
          entry.name(),
          new WorkerStatus.ScheduledEntry(
              entry.name(), entry.spec(), entry.nextFireTime(), entry.lastFireTime()));
    }
    return byName.values().stream()
        .sorted(Comparator.comparing(WorkerStatus.ScheduledEntry::name))
        .toList();
  }

  /**
   * A task of a DAG and where it is ({@link #dag}).
   *
   * @param name its name in the DAG
   * @param uuid its task UUID
   * @param dependsOn the names of the tasks it depends on, in its order
   * @param state its stored state; empty when it has none (not sent yet, expired) or the backend's
   *     reads consume states
   */
  public record DagTask(String name, String uuid, List<String> dependsOn, Optional<State> state) {}

  /**
   * Reads the DAG a task's message carries (the header {@value DagHeader#HEADER}, see {@link Dag})
   * with the stored state of its first {@code limit} tasks: where a DAG is, from any of its
   * messages (a root still pending, a failure among the dead letters). One state read per task
   * returned.
   *
   * @param message a task's message, as {@link #task} finds it
   * @param limit the most tasks to return, in the order they were added; 1 or more
   * @return the DAG's tasks; empty when the message carries no DAG, or one this version cannot read
   * @throws IllegalArgumentException if {@code limit} is below 1
   * @throws MachineryException when the backend cannot be read
   */
  public List<DagTask> dag(Signature message, int limit) {
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be 1 or more, was " + limit);
    }
    DagHeader header;
    try {
      header = DagHeader.of(message, server.config()).orElse(null);
    } catch (MalformedMessageException e) {
      return List.of();
    }
    if (header == null) {
      return List.of();
    }
    Map<String, String> names = new LinkedHashMap<>();
    for (int i = 0; i < header.size(); i++) {
      names.put(header.uuid(i), header.name(i));
    }
    boolean readable = !server.backend().consumesStatesOnRead();
    List<DagTask> tasks = new ArrayList<>();
    for (int i = 0; i < Math.min(limit, header.size()); i++) {
      String uuid = header.uuid(i);
      Optional<State> state =
          readable ? server.backend().getState(uuid).map(TaskState::state) : Optional.empty();
      tasks.add(
          new DagTask(
              header.name(i),
              uuid,
              header.dependencyUuids(i).stream().map(u -> names.getOrDefault(u, u)).toList(),
              state));
    }
    return List.copyOf(tasks);
  }

  /**
   * Tells whether task histories can be read ({@link #history}): the control plane keeps task
   * events.
   *
   * @return true when {@link #history} answers
   */
  public boolean keepsTaskHistory() {
    return server.controlPlane().map(ControlPlane::recordsTaskEvents).orElse(false);
  }

  /**
   * Reads a task's history: the transitions workers with {@link Worker.Builder#taskEvents} recorded
   * (received, started, each retry with its error, success or failure), oldest first. See {@link
   * ControlPlane#taskHistory}.
   *
   * @param uuid the task's UUID
   * @return its events; empty when no such worker ran it, or its history expired
   * @throws UnsupportedOperationException when there is no control plane or it keeps no task events
   */
  public List<ControlPlane.TaskEvent> history(String uuid) {
    return controlPlane().taskHistory(Objects.requireNonNull(uuid, "uuid"));
  }

  /**
   * Counts the runs of a task from its message's attempt header (1 for the first run).
   *
   * @param message the task's message
   * @return the attempt number
   */
  public static int attempts(Signature message) {
    return MessageHeaders.attempt(message);
  }

  /** Where a task was found. */
  public enum Location {
    /** A live worker runs it. */
    RUNNING,
    /** It waits in its queue. */
    PENDING,
    /** It waits for its ETA. */
    DELAYED,
    /** It is in the queue's dead letters. */
    DEAD_LETTERED,
    /** Not in any place looked at: finished (see the state), not sent, or beyond the scan bound. */
    NOT_FOUND
  }

  /**
   * What is known about one task.
   *
   * @param uuid the task's UUID
   * @param state its stored state, when the backend has one
   * @param location where it was found
   * @param message its message (name, args, headers, ETA), when found in a queue
   * @param workerId the worker running it, when {@link Location#RUNNING}
   * @param deadLetter its dead-letter entry (reason, time), when {@link Location#DEAD_LETTERED}
   * @param scanComplete false when a list was longer than the scan bound and the task may be
   *     further in it
   * @param progress the task's last progress report, when it made one and the backend keeps
   *     progress
   */
  public record TaskReport(
      String uuid,
      Optional<TaskState> state,
      Location location,
      Optional<Signature> message,
      Optional<String> workerId,
      Optional<DeadLetterEntry> deadLetter,
      boolean scanComplete,
      Optional<TaskProgress> progress) {
    /**
     * Counts the runs of the task, from its message's attempt header.
     *
     * @return the attempt number (1 for the first run), or 0 when the message was not found
     */
    public int attempts() {
      return message.map(MessageHeaders::attempt).orElse(0);
    }
  }

  /**
   * Looks up one task in the default queue. See {@link #task(String, String)}.
   *
   * @param uuid the task's UUID
   * @return what is known about it
   */
  public TaskReport task(String uuid) {
    return task(uuid, "");
  }

  /**
   * Looks up one task: its stored state, a worker running it, or its message in the queue's
   * pending, delayed or dead-lettered lists (each scanned up to {@link #DEFAULT_SCAN_LIMIT}
   * entries). Parts the deployment lacks (no inspector, no control plane) are skipped.
   *
   * @param uuid the task's UUID
   * @param queue the queue to scan; empty means the default queue
   * @return what is known about it
   */
  public TaskReport task(String uuid, String queue) {
    Objects.requireNonNull(uuid, "uuid");
    Optional<TaskState> state =
        server.backend().consumesStatesOnRead()
            ? Optional.empty()
            : server.backend().getState(uuid);
    Optional<TaskProgress> progress = Progresses.read(server.backend(), uuid);
    // A completed state wins over a worker's last heartbeat, which may be up to one interval old.
    if (hasControlPlane() && state.map(s -> !s.isCompleted()).orElse(true)) {
      for (InFlightTask running : inFlight("")) {
        if (running.task().uuid().equals(uuid)) {
          return new TaskReport(
              uuid,
              state,
              Location.RUNNING,
              Optional.empty(),
              Optional.of(running.workerId()),
              Optional.empty(),
              true,
              progress);
        }
      }
    }
    if (!canInspectQueues()) {
      return new TaskReport(
          uuid,
          state,
          Location.NOT_FOUND,
          Optional.empty(),
          Optional.empty(),
          Optional.empty(),
          false,
          progress);
    }
    Inspector inspector = inspector();
    boolean complete = true;
    Scan<Signature> pending =
        scan(uuid, (offset, limit) -> inspector.pending(queue, offset, limit), Signature::uuid);
    if (pending.found != null) {
      return new TaskReport(
          uuid,
          state,
          Location.PENDING,
          Optional.of(pending.found),
          Optional.empty(),
          Optional.empty(),
          true,
          progress);
    }
    complete &= pending.complete;
    Scan<Signature> delayed =
        scan(uuid, (offset, limit) -> inspector.delayed(queue, offset, limit), Signature::uuid);
    if (delayed.found != null) {
      return new TaskReport(
          uuid,
          state,
          Location.DELAYED,
          Optional.of(delayed.found),
          Optional.empty(),
          Optional.empty(),
          true,
          progress);
    }
    complete &= delayed.complete;
    Scan<DeadLetterEntry> dead =
        scan(
            uuid,
            (offset, limit) -> inspector.deadLetters(queue, offset, limit),
            entry -> entry.signature().map(Signature::uuid).orElse(""));
    if (dead.found != null) {
      return new TaskReport(
          uuid,
          state,
          Location.DEAD_LETTERED,
          dead.found.signature(),
          Optional.empty(),
          Optional.of(dead.found),
          true,
          progress);
    }
    complete &= dead.complete;
    return new TaskReport(
        uuid,
        state,
        Location.NOT_FOUND,
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        complete,
        progress);
  }

  private interface Pager<T> {
    List<T> page(int offset, int limit);
  }

  private record Scan<T>(@Nullable T found, boolean complete) {}

  private static <T> Scan<T> scan(
      String uuid, Pager<T> pager, java.util.function.Function<T, String> uuidOf) {
    int offset = 0;
    try {
      while (offset < DEFAULT_SCAN_LIMIT) {
        List<T> page = pager.page(offset, PAGE);
        for (T item : page) {
          if (uuid.equals(uuidOf.apply(item))) {
            return new Scan<>(item, true);
          }
        }
        if (page.isEmpty()) { // a shorter page is not the end: undecodable messages are left out of
          // pages
          return new Scan<>(null, true);
        }
        offset += PAGE;
      }
      return new Scan<>(null, false);
    } catch (UnsupportedOperationException e) {
      return new Scan<>(null, false); // a broker that cannot list this kind of task
    }
  }
}
