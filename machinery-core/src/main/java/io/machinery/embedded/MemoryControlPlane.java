package io.machinery.embedded;

import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The {@link ControlPlane} of one process: a map of statuses with their expiry times, a set of
 * paused queues, the revoked tasks, the task limits set at run time and the breaker openings. The
 * {@link MemoryBroker} keeps one; a test or a single-process service can build its own.
 *
 * <p>Task events are kept for at most {@link #MAX_HISTORIES} tasks (the least recently written
 * history is dropped first), each with its last {@link ControlPlane#MAX_TASK_EVENTS} events and its
 * expiry, so a long-running process with task events on holds bounded memory.
 */
public final class MemoryControlPlane implements ControlPlane {
  private record Announced(WorkerStatus status, Instant expires) {}

  private final Clock clock;
  private final ConcurrentHashMap<String, Announced> workers = new ConcurrentHashMap<>();
  private final Set<String> paused = ConcurrentHashMap.newKeySet();
  private final ConcurrentHashMap<String, Instant> revoked = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, TaskLimitSetting> limits = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, BreakerOpening> breakers = new ConcurrentHashMap<>();

  /**
   * How long a trial's record outlives its trial opening: a worker that comes late to claim the
   * trial after the same opening still learns that it passed.
   */
  static final Duration TRIAL_RECORD_LINGER = Duration.ofHours(1);

  /** The most breaker keys whose cluster window is kept (the least recently counted go first). */
  public static final int MAX_BREAKER_WINDOWS = 10_000;

  /**
   * Each shared breaker key's cluster window: its last outcomes, true for a failed run; bounded as
   * Redis bounds it by expiry, so keys per tenant do not grow the process's memory for ever.
   */
  private final Map<String, ArrayDeque<Boolean>> breakerRuns =
      leastRecentlyUsedFirstOut(MAX_BREAKER_WINDOWS);

  /**
   * The last trial claimed per breaker key ({@link #claimBreakerTrial}): the opening it followed,
   * its own id, whether it passed, and when the record is forgotten; bounded as the windows.
   */
  private record TrialRecord(String after, String trial, boolean passed, Instant expires) {
    boolean follows(String endedId) {
      return after.equals(endedId) || trial.equals(endedId);
    }
  }

  private final Map<String, TrialRecord> trials = leastRecentlyUsedFirstOut(MAX_BREAKER_WINDOWS);

  /** The most task histories kept. */
  public static final int MAX_HISTORIES = 10_000;

  private record History(ArrayDeque<TaskEvent> events, Instant expires) {}

  /** Task UUID to history, in write order (access order: a write moves a history to the end). */
  private final Map<String, History> histories = leastRecentlyUsedFirstOut(MAX_HISTORIES);

  private MemoryControlPlane(Clock clock) {
    this.clock = clock;
  }

  /** A map in access order that drops its least recently used entry past {@code max} (not safe). */
  private static <V> Map<String, V> leastRecentlyUsedFirstOut(int max) {
    return new LinkedHashMap<>(16, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
        return size() > max;
      }
    };
  }

  /**
   * Creates an empty control plane.
   *
   * @param clock the clock that expires announcements
   * @return a new control plane
   */
  public static MemoryControlPlane create(Clock clock) {
    return new MemoryControlPlane(Objects.requireNonNull(clock, "clock"));
  }

  @Override
  public void announce(WorkerStatus status, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    workers.put(status.id(), new Announced(status, clock.instant().plus(ttl)));
  }

  @Override
  public void withdraw(String workerId) {
    workers.remove(workerId);
  }

  @Override
  public List<WorkerStatus> workers() {
    Instant now = clock.instant();
    workers.values().removeIf(a -> !a.expires().isAfter(now));
    return workers.values().stream()
        .map(Announced::status)
        .sorted(Comparator.comparing(WorkerStatus::id))
        .toList();
  }

  @Override
  public void pause(String queue) {
    paused.add(requireName(queue));
  }

  @Override
  public void resume(String queue) {
    paused.remove(requireName(queue));
  }

  @Override
  public Set<String> pausedQueues() {
    return Set.copyOf(paused);
  }

  @Override
  public void revoke(java.util.Collection<String> taskUuids, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    Instant expires = clock.instant().plus(ttl);
    for (String uuid : taskUuids) {
      revoked.put(Objects.requireNonNull(uuid, "task uuid"), expires);
    }
  }

  @Override
  public Set<String> revoked() {
    Instant now = clock.instant();
    revoked.values().removeIf(expires -> !expires.isAfter(now));
    return Set.copyOf(revoked.keySet());
  }

  @Override
  public void setTaskLimit(String taskName, TaskLimitSetting setting) {
    limits.put(
        TaskLimitSetting.requireTaskName(taskName), Objects.requireNonNull(setting, "setting"));
  }

  @Override
  public void clearTaskLimit(String taskName) {
    limits.remove(TaskLimitSetting.requireTaskName(taskName));
  }

  @Override
  public Map<String, TaskLimitSetting> taskLimits() {
    return Map.copyOf(limits);
  }

  @Override
  public BreakerOpening openBreaker(String key, Duration openFor, String reason, String openedBy) {
    BreakerOpening opening =
        new BreakerOpening(
            key,
            UUID.randomUUID().toString(),
            clock.instant().plus(BreakerOpening.requireOpenFor(openFor)),
            reason,
            openedBy);
    breakers.put(key, opening);
    return opening;
  }

  @Override
  public void closeBreaker(String key) {
    breakers.remove(BreakerOpening.requireBreakerKey(key));
  }

  @Override
  public Map<String, BreakerOpening> openBreakers() {
    Instant now = clock.instant();
    breakers.values().removeIf(opening -> !opening.until().isAfter(now));
    return Map.copyOf(breakers);
  }

  @Override
  public synchronized @Nullable BreakerOpening countBreakerRuns(
      String key, boolean[] failed, BreakerWindow window, String openedBy) {
    BreakerOpening.requireBreakerKey(key);
    BreakerOpening open = openBreakers().get(key);
    if (open != null) {
      return open;
    }
    ArrayDeque<Boolean> runs = breakerRuns.computeIfAbsent(key, k -> new ArrayDeque<>());
    for (boolean f : failed) {
      runs.addLast(f);
    }
    while (runs.size() > window.size()) {
      runs.removeFirst();
    }
    int failures = (int) runs.stream().filter(f -> f).count();
    if (!window.opens(failures, runs.size())) {
      return null;
    }
    breakerRuns.remove(key);
    return openBreaker(
        key, window.openFor(), BreakerWindow.reason(failures, runs.size()), openedBy);
  }

  @Override
  public synchronized BreakerTrial claimBreakerTrial(
      String key, String endedId, Duration holdFor, String workerId) {
    BreakerOpening.requireBreakerKey(key);
    BreakerOpening.requireOpenFor(holdFor);
    Objects.requireNonNull(endedId, "endedId");
    Instant now = clock.instant();
    TrialRecord last = trials.get(key);
    if (last != null && !last.expires().isAfter(now)) {
      trials.remove(key);
      last = null;
    }
    BreakerOpening trial =
        new BreakerOpening(
            key,
            UUID.randomUUID().toString(),
            now.plus(holdFor),
            BreakerTrial.reason(workerId),
            workerId,
            true);
    boolean passed = last != null && last.passed() && last.follows(endedId);
    BreakerOpening inForce =
        breakers.compute(
            key,
            (k, open) -> {
              if (open != null && open.until().isAfter(now)) {
                return open;
              }
              return passed ? null : trial;
            });
    if (inForce != null && inForce != trial) {
      return new BreakerTrial(BreakerTrial.Answer.FOLLOW, inForce);
    }
    if (passed) {
      return new BreakerTrial(BreakerTrial.Answer.PASSED, null);
    }
    String after = last != null && last.trial().equals(endedId) ? last.after() : endedId;
    trials.put(
        key, new TrialRecord(after, trial.id(), false, trial.until().plus(TRIAL_RECORD_LINGER)));
    return new BreakerTrial(BreakerTrial.Answer.RUN, trial);
  }

  @Override
  public synchronized void passBreakerTrial(String key, String trialId) {
    BreakerOpening.requireBreakerKey(key);
    TrialRecord last = trials.get(key);
    if (last != null && last.trial().equals(trialId)) {
      trials.put(key, new TrialRecord(last.after(), last.trial(), true, last.expires()));
    }
    breakers.computeIfPresent(key, (k, open) -> open.id().equals(trialId) ? null : open);
  }

  @Override
  public boolean recordsTaskEvents() {
    return true;
  }

  @Override
  public void recordTaskEvents(List<TaskEvent> events, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    Instant expires = clock.instant().plus(ttl);
    synchronized (histories) {
      for (TaskEvent event : events) {
        History old = histories.get(event.taskUuid());
        ArrayDeque<TaskEvent> kept =
            old == null || !old.expires().isAfter(clock.instant())
                ? new ArrayDeque<>()
                : old.events();
        kept.addLast(event);
        while (kept.size() > MAX_TASK_EVENTS) {
          kept.removeFirst();
        }
        histories.put(event.taskUuid(), new History(kept, expires));
      }
    }
  }

  @Override
  public List<TaskEvent> taskHistory(String taskUuid) {
    Objects.requireNonNull(taskUuid, "taskUuid");
    synchronized (histories) {
      History h = histories.get(taskUuid);
      if (h == null) {
        return List.of();
      }
      if (!h.expires().isAfter(clock.instant())) {
        histories.remove(taskUuid);
        return List.of();
      }
      return List.copyOf(h.events());
    }
  }

  private static String requireName(String queue) {
    if (Objects.requireNonNull(queue, "queue").isEmpty()) {
      throw new IllegalArgumentException("a queue name is needed (the actual name, not empty)");
    }
    return queue;
  }
}
