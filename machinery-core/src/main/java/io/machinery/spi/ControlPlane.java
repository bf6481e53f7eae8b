package io.machinery.spi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.TaskLimit;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The state that all processes of one deployment share to be operated as one: which workers are
 * alive and what they run, and which queues an operator paused. Workers write it ({@link #announce}
 * on every heartbeat); the inspection tools (CLI, dashboard, a service's own endpoints) read it and
 * pause or resume queues.
 *
 * <p>Get one from {@link Broker#controlPlane()} or {@link Backend#controlPlane()} (a server uses
 * its broker's, else its backend's, else the one given to its builder). Redis keeps it in a few
 * keys with expiry; the memory broker in memory.
 *
 * <p>Design notes: an announcement is a whole {@link WorkerStatus} with a time to live, replaced by
 * the next one; a worker that dies simply stops announcing and disappears when the time to live
 * runs out, so no reaper is needed and a crashed worker is never listed for long. Pausing is a flag
 * per queue that workers read on their heartbeat: a pause takes effect within one heartbeat
 * interval on every worker, including workers that start later, and tasks already running finish.
 * The data is small (one entry per worker, one per paused queue): listings are not paged.
 *
 * <p>Circuit breakers ({@link #openBreaker}, {@link #countBreakerRuns}): openings of breaker keys
 * that every worker with a breaker of the key follows on its heartbeat, written by an operator or
 * by the window a shared breaker's runs count in for the whole cluster; each expires by itself.
 * When an opening of a shared breaker's key ends, one worker claims the cluster's trial ({@link
 * #claimBreakerTrial}) and the others follow its trial opening until it passes or fails.
 *
 * <p>Task events (opt-in, {@code Worker.Builder.taskEvents(true)}): Go's backends keep only a
 * task's latest state, so a task's history (received, started, each retry with its error, the
 * outcome) is a log of {@link TaskEvent}s kept here, per task, bounded and expiring. A control
 * plane that keeps none says so in {@link #recordsTaskEvents()} and refuses the calls.
 *
 * <p>Implementations are thread-safe; methods throw {@link io.machinery.MachineryException} when
 * the store cannot be reached. The contract kit is {@code
 * io.machinery.testkit.ControlPlaneContract}.
 */
public interface ControlPlane {

  /**
   * Records (or replaces) a worker's status, to be listed until {@code ttl} passes without a newer
   * one.
   *
   * @param status the worker's status; {@link WorkerStatus#id()} identifies it
   * @param ttl how long the status stays listed without a newer announcement; positive
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void announce(WorkerStatus status, Duration ttl);

  /**
   * Removes a worker's status at once (a worker that stops cleanly).
   *
   * @param workerId the worker's {@link WorkerStatus#id()}; unknown ids are ignored
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void withdraw(String workerId);

  /**
   * Lists the live workers: those whose last announcement has not expired.
   *
   * @return the workers' last statuses, ordered by id
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  List<WorkerStatus> workers();

  /**
   * Pauses a queue: every worker consuming it stops fetching within one heartbeat, until {@link
   * #resume}. Idempotent.
   *
   * @param queue the queue's actual name (not empty)
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void pause(String queue);

  /**
   * Resumes a paused queue. Idempotent; resuming a queue that is not paused does nothing.
   *
   * @param queue the queue's actual name (not empty)
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void resume(String queue);

  /**
   * Returns the paused queues.
   *
   * @return the names of the paused queues
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  Set<String> pausedQueues();

  /**
   * Tells whether one queue is paused: what a worker's heartbeat asks about its own queue. A plane
   * whose listing is slow (the AMQP one lists through RabbitMQ's management API) answers this
   * directly.
   *
   * @param queue the queue's actual name
   * @return whether {@code queue} is paused
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default boolean isPaused(String queue) {
    return pausedQueues().contains(queue);
  }

  /**
   * Revokes tasks: records their UUIDs for {@code ttl}, so every worker skips them when they are
   * delivered and cancels them where they run (workers read {@link #revoked()} on every heartbeat).
   * Idempotent; revoking a UUID again extends its time to live. The default refuses: a control
   * plane that keeps no revocations.
   *
   * <p>An implementation keeps each UUID with its expiry and answers {@link #revoked()} with the
   * unexpired ones. On Redis: one sorted set under the control plane's prefix, scored by expiry in
   * epoch milliseconds ({@code ZADD}, pipelined with a {@code ZREMRANGEBYSCORE -inf <now>} that
   * drops expired ones); {@link #revoked()} is {@code ZRANGE … BYSCORE <now> +inf}. The set stays
   * small: revocations are rare and expire.
   *
   * @param taskUuids the tasks' UUIDs; empty does nothing
   * @param ttl how long workers remember them; positive (a task still queued after that runs)
   * @throws UnsupportedOperationException when this control plane keeps no revocations
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default void revoke(java.util.Collection<String> taskUuids, Duration ttl) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no revoked tasks");
  }

  /**
   * Returns the revoked task UUIDs whose time to live has not run out.
   *
   * @return the UUIDs
   * @throws UnsupportedOperationException when this control plane keeps no revocations
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default Set<String> revoked() {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no revoked tasks");
  }

  /** The most events kept per task; older ones are dropped first. */
  int MAX_TASK_EVENTS = 100;

  /**
   * Tells whether this control plane keeps task events ({@link #recordTaskEvents}, {@link
   * #taskHistory}). The default says no.
   *
   * @return true when it keeps them
   */
  default boolean recordsTaskEvents() {
    return false;
  }

  /**
   * Appends events to their tasks' histories, in the given order, in as few round trips as the
   * store allows (workers call it with a batch every few hundred milliseconds, never once per
   * task). Each task's history keeps its last {@link #MAX_TASK_EVENTS} events and is forgotten
   * {@code ttl} after its last write. The default refuses: a control plane that keeps no task
   * events.
   *
   * @param events the events; empty does nothing
   * @param ttl how long a task's history is kept after its last event; positive
   * @throws UnsupportedOperationException when this control plane keeps no task events
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default void recordTaskEvents(List<TaskEvent> events, Duration ttl) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName()
            + " keeps no task events (Worker.Builder.taskEvents needs the Redis or the memory"
            + " control plane)");
  }

  /**
   * Reads one task's history.
   *
   * @param taskUuid the task's UUID
   * @return its events, oldest first; empty when none were recorded or they expired
   * @throws UnsupportedOperationException when this control plane keeps no task events
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default List<TaskEvent> taskHistory(String taskUuid) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " keeps no task events, so no task history");
  }

  /**
   * Sets the limit of task {@code taskName} on every worker: in place of the numbers its worker's
   * builder gave ({@code Worker.Builder.limit}, whose key function stays), or as a new limit keyed
   * by the task's name. Workers read {@link #taskLimits()} on every heartbeat, so the setting holds
   * within one heartbeat on every worker, including workers started later, until {@link
   * #clearTaskLimit}. It is as wide as each worker's {@code TaskLimiter}: one budget for the
   * cluster with a shared limiter, one per worker with the default. The default refuses: a control
   * plane that keeps no limits.
   *
   * @param taskName the task's name (not empty)
   * @param setting the numbers
   * @throws UnsupportedOperationException when this control plane keeps no limits
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default void setTaskLimit(String taskName, TaskLimitSetting setting) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no task limits");
  }

  /**
   * Removes the setting of task {@code taskName}: within one heartbeat every worker goes back to
   * the limit its builder gave, or to none. Idempotent.
   *
   * @param taskName the task's name (not empty)
   * @throws UnsupportedOperationException when this control plane keeps no limits
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default void clearTaskLimit(String taskName) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no task limits");
  }

  /**
   * Returns the task limits set through {@link #setTaskLimit}, by task name. A setting that does
   * not decode (written by a newer version, or by hand) is left out with a warning.
   *
   * @return the settings by task name
   * @throws UnsupportedOperationException when this control plane keeps no limits
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default Map<String, TaskLimitSetting> taskLimits() {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no task limits");
  }

  /**
   * Opens the circuit breakers of {@code key} on every worker for {@code openFor}: each worker that
   * keeps a breaker of that key ({@code Worker.Builder.breaker}) parks the key's tasks as if its
   * own runs had opened it, within one heartbeat, until the time is up; then its breaker is
   * half-open, as after any opening, and its trial runs decide. Opening a key again replaces its
   * opening (a new {@link BreakerOpening#id()}), shorter or longer. What opens a key here: an
   * operator ({@code Inspection.openBreaker}, the CLI), and the cluster's window of the breakers
   * built {@code TaskBreaker.Builder.shared(true)} ({@link #countBreakerRuns}). The default
   * refuses: a control plane that keeps no breaker openings.
   *
   * <p>An implementation keeps each opening with its expiry in one clock (the store's, as for
   * revocations: the processes' clocks are never compared) and answers {@link #openBreakers()} with
   * the unexpired ones, their {@link BreakerOpening#until()} in the reader's clock.
   *
   * @param key the breaker key: a task name, or what a breaker's key function returns (1 to {@value
   *     io.machinery.TaskBreaker#MAX_KEY_LENGTH} characters)
   * @param openFor how long; from 1 ms to {@link BreakerOpening#MAX_OPEN_FOR}
   * @param reason why, for people (cut to {@value BreakerOpening#MAX_REASON_LENGTH} characters)
   * @param openedBy who: a worker's {@link WorkerStatus#id()}, or an operator's name
   * @return the opening as stored
   * @throws IllegalArgumentException when the key or the duration is out of range
   * @throws UnsupportedOperationException when this control plane keeps no breaker openings
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default BreakerOpening openBreaker(String key, Duration openFor, String reason, String openedBy) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " keeps no breaker openings");
  }

  /**
   * Removes the opening of {@code key}: within one heartbeat, every worker whose breaker of that
   * key is open because of it closes that breaker, with an empty window. Idempotent.
   *
   * @param key the breaker key
   * @throws IllegalArgumentException when the key is empty or too long
   * @throws UnsupportedOperationException when this control plane keeps no breaker openings
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default void closeBreaker(String key) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " keeps no breaker openings");
  }

  /**
   * Returns the breaker openings whose time is not up, by key. An opening that does not decode
   * (written by hand, or by a newer version) is left out with a warning.
   *
   * @return the openings by key
   * @throws UnsupportedOperationException when this control plane keeps no breaker openings
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default Map<String, BreakerOpening> openBreakers() {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " keeps no breaker openings");
  }

  /**
   * Adds the outcomes of runs of {@code key} to the key's window kept for the whole cluster, and
   * opens the key on every worker (as {@link #openBreaker} for {@link BreakerWindow#openFor()})
   * once the window holds at least {@link BreakerWindow#minimumRuns()} outcomes and the failed
   * share reaches {@link BreakerWindow#failureRate()}; the window then starts again empty. While
   * the key is open, outcomes are not counted. What workers with shared breakers call ({@code
   * TaskBreaker.Builder.shared}), a batch of outcomes at a time, never once per run on the task
   * path. The default refuses: a control plane that keeps no breaker openings.
   *
   * <p>An implementation keeps the window as the last {@link BreakerWindow#size()} outcomes in the
   * order they were added, and decides in one atomic step (on Redis one script), so two workers
   * adding at once open the key once.
   *
   * @param key the breaker key
   * @param failed the outcomes, oldest first: true for a failed run, false for a successful one
   * @param window the numbers of the key's breaker
   * @param openedBy the worker adding them, named in an opening it causes
   * @return the key's opening in force (one this call caused, or one already there); null when none
   * @throws UnsupportedOperationException when this control plane keeps no breaker openings
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default @Nullable BreakerOpening countBreakerRuns(
      String key, boolean[] failed, BreakerWindow window, String openedBy) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " keeps no breaker openings");
  }

  /**
   * Claims the one trial the cluster runs after {@code key}'s opening {@code endedId} ended, so a
   * downstream that comes back meets one trial run, not one per worker. What a worker whose shared
   * breaker ({@code TaskBreaker.Builder.shared}) followed an opening of the control plane calls
   * once that opening's time is up. In one atomic step:
   *
   * <ul>
   *   <li>an opening of the key is in force (another worker's trial, or a newer opening): {@link
   *       BreakerTrial.Answer#FOLLOW} with it;
   *   <li>the trial after {@code endedId} passed ({@link #passBreakerTrial}; {@code endedId} names
   *       the opening it followed or the trial's own): {@link BreakerTrial.Answer#PASSED};
   *   <li>otherwise the caller runs it: {@link BreakerTrial.Answer#RUN} with a trial opening
   *       written for the others ({@link BreakerOpening#trial()}, for {@code holdFor}, opened by
   *       {@code workerId}), which the others follow until the trial passes (the opening is removed
   *       and they close) or fails (the trial's worker opens the key again); if the trial's worker
   *       dies, the opening ends after {@code holdFor} and the next claim runs a trial.
   * </ul>
   *
   * The default refuses: a control plane that keeps no trials, where each worker runs its own.
   *
   * @param key the breaker key
   * @param endedId the id of the opening whose time is up
   * @param holdFor how long the trial opening lasts if its worker never reports (the breaker's
   *     {@code openFor})
   * @param workerId the claiming worker, named in the trial opening
   * @return the answer
   * @throws IllegalArgumentException when the key or the duration is out of range
   * @throws UnsupportedOperationException when this control plane keeps no breaker trials
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default BreakerTrial claimBreakerTrial(
      String key, String endedId, Duration holdFor, String workerId) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " keeps no breaker trials");
  }

  /**
   * Records that the trial {@code trialId} of {@code key} passed: its trial opening is removed (if
   * still the key's opening), so the workers following it close their breakers within a heartbeat,
   * and later claims after the same opening answer {@link BreakerTrial.Answer#PASSED}.
   *
   * @param key the breaker key
   * @param trialId the id of the trial opening {@link #claimBreakerTrial} answered with
   * @throws UnsupportedOperationException when this control plane keeps no breaker trials
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default void passBreakerTrial(String key, String trialId) {
    throw new UnsupportedOperationException(
        getClass().getSimpleName() + " keeps no breaker trials");
  }

  /**
   * What {@link #claimBreakerTrial} answered.
   *
   * @param answer run the trial, follow an opening, or close
   * @param opening the trial opening written for the others ({@link Answer#RUN}) or the opening in
   *     force ({@link Answer#FOLLOW}); null for {@link Answer#PASSED}
   */
  record BreakerTrial(Answer answer, @Nullable BreakerOpening opening) {
    /** The three answers. */
    public enum Answer {
      /** The caller runs the cluster's trial. */
      RUN,
      /** An opening is in force: follow it. */
      FOLLOW,
      /** The trial after that opening passed: close. */
      PASSED
    }

    /**
     * The reason a trial opening gives, for people.
     *
     * @param workerId the worker running the trial
     * @return the text
     */
    public static String reason(String workerId) {
      return "the cluster's trial run, on " + workerId + ", decides";
    }

    /**
     * Checks that an opening comes with {@link Answer#RUN} and {@link Answer#FOLLOW} only.
     *
     * @throws IllegalArgumentException otherwise
     */
    public BreakerTrial {
      Objects.requireNonNull(answer, "answer");
      if ((opening == null) != (answer == Answer.PASSED)) {
        throw new IllegalArgumentException(
            answer + " with " + (opening == null ? "no " : "an ") + "opening");
      }
    }
  }

  /**
   * The numbers a cluster-wide breaker window is judged by ({@link #countBreakerRuns}): those of
   * the key's {@code TaskBreaker}.
   *
   * @param size how many of the latest outcomes are kept, 1 to 10,000
   * @param minimumRuns how many must be kept before the key may open, 1 to {@code size}
   * @param failureRate the failed share that opens it, above 0 and at most 1
   * @param openFor how long an opening lasts
   */
  record BreakerWindow(int size, int minimumRuns, double failureRate, Duration openFor) {
    /**
     * Checks the numbers.
     *
     * @throws IllegalArgumentException when out of range
     */
    public BreakerWindow {
      if (size < 1 || size > 10_000 || minimumRuns < 1 || minimumRuns > size) {
        throw new IllegalArgumentException(
            "a breaker window keeps 1 to 10000 runs and needs 1 to that many, was "
                + size
                + " and "
                + minimumRuns);
      }
      if (!(failureRate > 0 && failureRate <= 1)) {
        throw new IllegalArgumentException(
            "a breaker's failure rate is above 0 and at most 1, was " + failureRate);
      }
      BreakerOpening.requireOpenFor(openFor);
    }

    /**
     * Whether {@code failures} of {@code kept} outcomes open the key.
     *
     * @param failures the failed ones
     * @param kept all kept
     * @return true when the key opens
     */
    public boolean opens(int failures, int kept) {
      return kept >= minimumRuns && failures > 0 && failures >= failureRate * kept;
    }

    /**
     * The reason an opening caused by the cluster's window gives.
     *
     * @param failures the failed outcomes
     * @param kept all kept
     * @return the text
     */
    public static String reason(int failures, int kept) {
      return String.format(REASON_FORMAT, failures, kept);
    }

    /**
     * The reason's format, failures then runs kept, for stores that write it themselves (Lua's
     * {@code string.format} reads it as Java's does).
     */
    public static final String REASON_FORMAT = "%d of the cluster's last %d runs failed";
  }

  /**
   * One breaker key opened on every worker ({@link #openBreaker}).
   *
   * <p>{@link #toJson()} and {@link #fromJson} are the one encoding every store uses for the parts
   * it does not keep itself (the key and the expiry are the store's); unknown fields are ignored.
   *
   * @param key the breaker key
   * @param id tells openings of one key apart: a worker applies each opening once, and closes its
   *     breaker when the opening it applied is gone before its time
   * @param until when the opening ends, in the clock of whoever read it
   * @param reason why, for people
   * @param openedBy who opened it: a worker's id or an operator's name
   * @param trial whether it holds the key while one worker runs the cluster's trial ({@link
   *     #claimBreakerTrial}): the others park its tasks as a half-open breaker does, briefly and
   *     again, since the trial may soon pass
   */
  record BreakerOpening(
      String key, String id, Instant until, String reason, String openedBy, boolean trial) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The longest an opening may last. */
    public static final Duration MAX_OPEN_FOR = Duration.ofDays(7);

    /** The longest reason kept; a longer one is cut. */
    public static final int MAX_REASON_LENGTH = 1_000;

    /** The most bytes {@link #fromJson} reads. */
    public static final int MAX_JSON_BYTES = 8 << 10;

    /**
     * Checks the parts.
     *
     * @throws IllegalArgumentException when the key is empty or too long, or the id empty
     */
    public BreakerOpening {
      requireBreakerKey(key);
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(until, "until");
      Objects.requireNonNull(reason, "reason");
      Objects.requireNonNull(openedBy, "openedBy");
      if (id.isEmpty()) {
        throw new IllegalArgumentException("a breaker opening's id cannot be empty");
      }
      if (reason.length() > MAX_REASON_LENGTH) {
        reason = reason.substring(0, MAX_REASON_LENGTH);
      }
    }

    /**
     * An opening that is no trial.
     *
     * @param key as in the record
     * @param id as in the record
     * @param until as in the record
     * @param reason as in the record
     * @param openedBy as in the record
     * @throws IllegalArgumentException when the key is empty or too long, or the id empty
     */
    public BreakerOpening(String key, String id, Instant until, String reason, String openedBy) {
      this(key, id, until, reason, openedBy, false);
    }

    /**
     * Checks a breaker key as {@link io.machinery.TaskBreaker#keyOf} does.
     *
     * @param key the key
     * @return the key
     * @throws IllegalArgumentException when it is empty or longer than {@value
     *     io.machinery.TaskBreaker#MAX_KEY_LENGTH} characters
     */
    public static String requireBreakerKey(String key) {
      Objects.requireNonNull(key, "key");
      if (key.isEmpty() || key.length() > io.machinery.TaskBreaker.MAX_KEY_LENGTH) {
        throw new IllegalArgumentException(
            "a breaker key must have 1 to "
                + io.machinery.TaskBreaker.MAX_KEY_LENGTH
                + " characters, had "
                + key.length());
      }
      return key;
    }

    /**
     * Checks how long an opening lasts.
     *
     * @param openFor the duration
     * @return it
     * @throws IllegalArgumentException when below 1 ms or above {@link #MAX_OPEN_FOR}
     */
    public static Duration requireOpenFor(Duration openFor) {
      Objects.requireNonNull(openFor, "openFor");
      if (openFor.toMillis() < 1 || openFor.compareTo(MAX_OPEN_FOR) > 0) {
        throw new IllegalArgumentException(
            "a breaker opening lasts from 1ms to "
                + io.machinery.internal.GoDurations.format(MAX_OPEN_FOR)
                + ", was "
                + io.machinery.internal.GoDurations.format(openFor));
      }
      return openFor;
    }

    /**
     * Encodes what a store does not keep itself: the id, the reason, who opened it and whether it
     * is a trial's.
     *
     * @return UTF-8 JSON
     */
    public byte[] toJson() {
      try {
        ObjectNode node =
            JSON.createObjectNode().put("id", id).put("reason", reason).put("openedBy", openedBy);
        if (trial) {
          node.put("trial", true);
        }
        return JSON.writeValueAsBytes(node);
      } catch (IOException e) {
        throw new IllegalStateException("cannot encode a breaker opening", e);
      }
    }

    /**
     * Decodes what {@link #toJson()} wrote, with the key and expiry the store kept.
     *
     * @param key the key it was stored under
     * @param until its expiry, in the reader's clock
     * @param json the encoded parts
     * @return the opening
     * @throws MalformedMessageException when {@code json} is not one
     */
    public static BreakerOpening fromJson(String key, Instant until, byte[] json) {
      requireJsonSize(json, MAX_JSON_BYTES, "a breaker opening");
      try {
        JsonNode n = JSON.readTree(json);
        if (n == null || !n.isObject()) {
          throw new MalformedMessageException("not a breaker opening: not a JSON object");
        }
        for (String field : List.of("id", "reason", "openedBy")) {
          if (!n.path(field).isTextual()) {
            throw new MalformedMessageException("not a breaker opening: " + field + " is not text");
          }
        }
        return new BreakerOpening(
            key,
            n.path("id").asText(),
            until,
            n.path("reason").asText(),
            n.path("openedBy").asText(),
            n.path("trial").asBoolean(false));
      } catch (IOException | IllegalArgumentException e) {
        throw new MalformedMessageException("not a breaker opening: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Refuses an encoded value over {@code max} bytes before it is parsed: what each value's {@code
   * fromJson} checks first.
   *
   * @throws MalformedMessageException when {@code json} is longer
   */
  private static void requireJsonSize(byte[] json, int max, String what) {
    if (json.length > max) {
      throw new MalformedMessageException(
          what + " of " + json.length + " bytes is over the limit of " + max);
    }
  }

  /**
   * The numbers of a {@link TaskLimit} as an operator sets them at run time ({@link
   * #setTaskLimit}): a rate of {@code ratePermits} starts per {@code ratePeriod} in bursts of
   * {@code burst}, a cap of {@code maxConcurrent} runs at once, or both. 0 (and a zero period)
   * means "none" for the rate and the cap, "the rate's permits" for the burst. The values are
   * checked as {@link TaskLimit.Builder} checks them.
   *
   * <p>{@link #toJson()} and {@link #fromJson(byte[])} are the one encoding every store uses.
   *
   * @param ratePermits starts per period; 0 for no rate
   * @param ratePeriod the rate's period; zero for no rate
   * @param burst how many starts may follow one another after an idle spell; 0 for the permits
   * @param maxConcurrent the most runs under one key at once; 0 for no cap
   */
  record TaskLimitSetting(int ratePermits, Duration ratePeriod, int burst, int maxConcurrent) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The most bytes {@link #fromJson} reads. */
    public static final int MAX_JSON_BYTES = 4 << 10;

    /**
     * Checks the numbers as {@link TaskLimit.Builder} does.
     *
     * @throws IllegalArgumentException when they make no limit (no rate and no cap, a burst without
     *     a rate, a rate below {@link TaskLimit#MIN_INTERVAL} between starts, a negative value)
     */
    public TaskLimitSetting {
      Objects.requireNonNull(ratePeriod, "ratePeriod");
      limit(ratePermits, ratePeriod, burst, maxConcurrent, Signature::name);
    }

    /**
     * Checks a task name a setting is kept under, as every control plane does.
     *
     * @param taskName the task's name
     * @return it
     * @throws IllegalArgumentException when it is empty
     */
    public static String requireTaskName(String taskName) {
      if (Objects.requireNonNull(taskName, "taskName").isEmpty()) {
        throw new IllegalArgumentException("a task name is needed, was empty");
      }
      return taskName;
    }

    /**
     * A rate: at most {@code permits} starts per {@code period}, in bursts of up to {@code
     * permits}.
     *
     * @param permits starts per period, at least 1
     * @param period the period
     * @return the setting
     * @throws IllegalArgumentException as {@link TaskLimit.Builder#rate}
     */
    public static TaskLimitSetting rate(int permits, Duration period) {
      return new TaskLimitSetting(permits, period, 0, 0);
    }

    /**
     * A cap: at most {@code max} runs at once.
     *
     * @param max runs at once, at least 1
     * @return the setting
     * @throws IllegalArgumentException when {@code max} is below 1
     */
    public static TaskLimitSetting maxConcurrent(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxConcurrent must be at least 1, was " + max);
      }
      return new TaskLimitSetting(0, Duration.ZERO, 0, max);
    }

    /**
     * This setting with another burst.
     *
     * @param value the burst, at least 1 (the setting needs a rate)
     * @return a new setting
     * @throws IllegalArgumentException as {@link TaskLimit.Builder#burst}
     */
    public TaskLimitSetting withBurst(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("burst must be at least 1, was " + value);
      }
      return new TaskLimitSetting(ratePermits, ratePeriod, value, maxConcurrent);
    }

    /**
     * This setting with another cap.
     *
     * @param value the cap, at least 1
     * @return a new setting
     * @throws IllegalArgumentException when {@code value} is below 1
     */
    public TaskLimitSetting withMaxConcurrent(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("maxConcurrent must be at least 1, was " + value);
      }
      return new TaskLimitSetting(ratePermits, ratePeriod, burst, value);
    }

    /**
     * The limit these numbers make, counted under {@code key}.
     *
     * @param key what a run counts against (a configured limit's key function, or the task name)
     * @return the limit
     */
    public TaskLimit toLimit(Function<Signature, String> key) {
      return limit(ratePermits, ratePeriod, burst, maxConcurrent, key);
    }

    private static TaskLimit limit(
        int ratePermits,
        Duration ratePeriod,
        int burst,
        int maxConcurrent,
        Function<Signature, String> key) {
      WorkerStatus.LimitInForce.requireNonNegative(ratePermits, ratePeriod, burst, maxConcurrent);
      TaskLimit.Builder b = TaskLimit.builder().key(key);
      if (ratePermits > 0 || !ratePeriod.isZero()) {
        b.rate(ratePermits, ratePeriod);
      }
      if (burst > 0) {
        b.burst(burst);
      }
      if (maxConcurrent > 0) {
        b.maxConcurrent(maxConcurrent);
      }
      return b.build();
    }

    /**
     * Says the setting for people, as the CLI prints it: {@code "10 per 1s, burst 5, at most 2 at
     * once"}.
     *
     * @return the text
     */
    public String describe() {
      return WorkerStatus.LimitInForce.text(ratePermits, ratePeriod, burst, maxConcurrent);
    }

    /**
     * Encodes the setting as a small JSON object ({@code ratePeriod} in milliseconds).
     *
     * @return UTF-8 JSON
     */
    public byte[] toJson() {
      try {
        return JSON.writeValueAsBytes(
            JSON.createObjectNode()
                .put("ratePermits", ratePermits)
                .put("ratePeriodMillis", ratePeriod.toMillis())
                .put("burst", burst)
                .put("maxConcurrent", maxConcurrent));
      } catch (IOException e) {
        throw new IllegalStateException("cannot encode a task limit setting", e);
      }
    }

    /**
     * Decodes a setting written by {@link #toJson()}.
     *
     * @param json the encoded setting
     * @return the setting
     * @throws MalformedMessageException when it is not one, or its numbers make no limit
     */
    public static TaskLimitSetting fromJson(byte[] json) {
      requireJsonSize(json, MAX_JSON_BYTES, "a task limit setting");
      try {
        JsonNode n = JSON.readTree(json);
        if (n == null || !n.isObject()) {
          throw new MalformedMessageException("not a task limit setting: not a JSON object");
        }
        for (String field : List.of("ratePermits", "ratePeriodMillis", "burst", "maxConcurrent")) {
          JsonNode value = n.path(field);
          boolean fits =
              field.equals("ratePeriodMillis") ? value.canConvertToLong() : value.canConvertToInt();
          if (!value.isIntegralNumber() || !fits) {
            throw new MalformedMessageException(
                "not a task limit setting: " + field + " is not a whole number in range");
          }
        }
        return new TaskLimitSetting(
            n.path("ratePermits").intValue(),
            Duration.ofMillis(n.path("ratePeriodMillis").longValue()),
            n.path("burst").intValue(),
            n.path("maxConcurrent").intValue());
      } catch (IOException | IllegalArgumentException e) {
        throw new MalformedMessageException("not a task limit setting: " + e.getMessage(), e);
      }
    }
  }

  /**
   * One step of a task's life as a worker saw it.
   *
   * <p>{@link #toJson()} and {@link #fromJson(byte[])} are the one encoding every store uses, so
   * the CLI or a dashboard of any version reads what any worker wrote; unknown fields are ignored.
   *
   * @param taskUuid the task's UUID
   * @param taskName the task's name
   * @param kind what happened
   * @param at when, by the worker's clock
   * @param workerId the worker: its control-plane id ({@link WorkerStatus#id()})
   * @param attempt the run this event belongs to (1 for the first; from the message's headers)
   * @param error the error of a {@link Kind#RETRY} or {@link Kind#FAILURE}, the reason of a {@link
   *     Kind#DEFERRED}; empty otherwise
   */
  record TaskEvent(
      String taskUuid,
      String taskName,
      Kind kind,
      Instant at,
      String workerId,
      int attempt,
      String error) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The most bytes {@link #fromJson} reads. */
    public static final int MAX_JSON_BYTES = 64 << 10;

    /** What happened to the task. */
    public enum Kind {
      /** A worker took it from its queue. */
      RECEIVED,
      /** The task function is about to run. */
      STARTED,
      /** The run failed and the task is sent again later. */
      RETRY,
      /** The run succeeded. */
      SUCCESS,
      /** The run failed for good (no retries left, or a permanent error). */
      FAILURE,
      /**
       * A worker handed it back to the broker without running it (its limit, its circuit breaker,
       * or no function for it there); the error field says why and for how long.
       */
      DEFERRED
    }

    /** Checks the fields; the error is cut to 4,000 characters. */
    public TaskEvent {
      Objects.requireNonNull(taskUuid, "taskUuid");
      Objects.requireNonNull(taskName, "taskName");
      Objects.requireNonNull(kind, "kind");
      Objects.requireNonNull(at, "at");
      Objects.requireNonNull(workerId, "workerId");
      Objects.requireNonNull(error, "error");
      if (error.length() > 4_000) {
        error = error.substring(0, 4_000);
      }
    }

    /**
     * Encodes the event as a small JSON object.
     *
     * @return UTF-8 JSON
     */
    public byte[] toJson() {
      try {
        return JSON.writeValueAsBytes(
            JSON.createObjectNode()
                .put("uuid", taskUuid)
                .put("name", taskName)
                .put("kind", kind.name())
                .put("at", at.toString())
                .put("worker", workerId)
                .put("attempt", attempt)
                .put("error", error));
      } catch (IOException e) {
        throw new IllegalStateException("cannot encode a task event", e);
      }
    }

    /**
     * Decodes an event written by {@link #toJson()}.
     *
     * @param json the encoded event
     * @return the event
     * @throws MalformedMessageException when it is not one
     */
    public static TaskEvent fromJson(byte[] json) {
      requireJsonSize(json, MAX_JSON_BYTES, "a task event");
      try {
        JsonNode n = JSON.readTree(json);
        if (n == null || !n.isObject() || !n.path("uuid").isTextual()) {
          throw new MalformedMessageException("not a task event: no uuid");
        }
        return new TaskEvent(
            n.path("uuid").asText(),
            n.path("name").asText(""),
            Kind.valueOf(n.path("kind").asText()),
            Instant.parse(n.path("at").asText()),
            n.path("worker").asText(""),
            n.path("attempt").asInt(0),
            n.path("error").asText(""));
      } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
        throw new MalformedMessageException("not a task event: " + e.getMessage(), e);
      }
    }
  }
}
