package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.BreakerOpening;
import io.machinery.spi.ControlPlane.BreakerTrial;
import io.machinery.spi.ControlPlane.BreakerWindow;
import io.machinery.spi.ControlPlane.TaskEvent;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import io.machinery.spi.WorkerStatus;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link ControlPlane} passes. Subclass it with a factory; the control plane
 * given must be empty of the ids and queue names the tests use (they are random), so a shared
 * server is fine:
 *
 * <pre>{@code
 * class MemoryControlPlaneTest extends ControlPlaneContract {
 *   protected ControlPlane createControlPlane() { return MemoryControlPlane.create(Clock.systemUTC()); }
 * }
 * }</pre>
 *
 * <p>Listings may hold other tests' workers (a shared server): assertions look at this test's ids
 * only.
 */
public abstract class ControlPlaneContract {
  protected static final Duration PATIENCE = Duration.ofSeconds(20);

  protected ControlPlane plane;
  private final String prefix = "cp-" + UUID.randomUUID().toString().substring(0, 8) + "-";

  /** Builds the control plane under test. */
  protected abstract ControlPlane createControlPlane();

  /** Closes what {@link #createControlPlane()} built; override when it built something. */
  protected void closeControlPlane() {}

  @BeforeEach
  void createControlPlaneUnderTest() {
    plane = createControlPlane();
  }

  @AfterEach
  void closeControlPlaneUnderTest() {
    closeControlPlane();
  }

  private WorkerStatus status(String name, int busy) {
    Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
    return new WorkerStatus(
        prefix + name,
        "host-a",
        42,
        name,
        prefix + "queue",
        8,
        busy,
        false,
        now,
        now,
        List.of(new WorkerStatus.RunningTask("task_" + UUID.randomUUID(), "add", now)),
        List.of(
            new WorkerStatus.ScheduledEntry("nightly", "0 3 * * *", now.plusSeconds(3600), null)),
        Map.of(),
        "redis://127.0.0.1:6379",
        "redis://127.0.0.1:6379",
        Map.of(
            "add",
            new WorkerStatus.LimitInForce(10, Duration.ofSeconds(1), 5, 2, true, true),
            "resize",
            new WorkerStatus.LimitInForce(0, Duration.ZERO, 0, 4, false, false)),
        false);
  }

  private List<WorkerStatus> mine() {
    return plane.workers().stream().filter(w -> w.id().startsWith(prefix)).toList();
  }

  @Test
  void announcedWorkersAreListedByIdWithTheirLastStatus() {
    WorkerStatus b = status("b", 1);
    WorkerStatus a = status("a", 0);
    plane.announce(b, Duration.ofMinutes(1));
    plane.announce(a, Duration.ofMinutes(1));
    WorkerStatus busier = status("a", 5);
    plane.announce(busier, Duration.ofMinutes(1));

    assertThat(mine()).containsExactly(busier, b);
  }

  @Test
  void aWithdrawnWorkerIsGoneAtOnce() {
    plane.announce(status("gone", 0), Duration.ofMinutes(1));
    plane.announce(status("stays", 0), Duration.ofMinutes(1));

    plane.withdraw(prefix + "gone");
    plane.withdraw(prefix + "never-there");

    assertThat(mine()).extracting(WorkerStatus::consumerTag).containsExactly("stays");
  }

  @Test
  void aWorkerThatStopsAnnouncingDisappearsWhenItsTimeToLiveRunsOut() {
    // 5 s: long enough to be listed first on a busy machine (a listing through RabbitMQ's
    // management API can take
    // a second or more), short enough to wait for
    plane.announce(status("silent", 0), Duration.ofSeconds(5));
    plane.announce(status("alive", 0), Duration.ofMinutes(1));
    assertThat(mine()).hasSize(2);

    await().atMost(PATIENCE).until(() -> mine().size() == 1);
    assertThat(mine()).extracting(WorkerStatus::consumerTag).containsExactly("alive");
  }

  @Test
  void queuesArePausedAndResumedIdempotently() {
    String q1 = prefix + "q1";
    String q2 = prefix + "q2";
    plane.pause(q1);
    plane.pause(q1);
    plane.pause(q2);
    assertThat(plane.pausedQueues()).contains(q1, q2);
    assertThat(plane.isPaused(q1)).isTrue();

    plane.resume(q1);
    plane.resume(q1);
    plane.resume(prefix + "never-paused");
    assertThat(plane.pausedQueues()).contains(q2).doesNotContain(q1);
    assertThat(plane.isPaused(q1)).isFalse();
    assertThat(plane.isPaused(q2)).isTrue();
    plane.resume(q2);
    assertThat(plane.pausedQueues()).doesNotContain(q2);
  }

  @Test
  void badArgumentsAreRefused() {
    assertThatThrownBy(() -> plane.pause("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> plane.announce(status("x", 0), Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------------------------------ revoked
  // tasks

  /**
   * Whether the control plane keeps revoked tasks (for {@code Server.cancel}); one that does not is
   * held to refusing {@code revoke} and {@code revoked} with {@link UnsupportedOperationException}.
   */
  protected boolean keepsRevokedTasks() {
    return true;
  }

  /**
   * One test per kind of plane, without skipping: a plane that keeps revocations lists them until
   * their time to live runs out and refuses a bad one; a plane that does not refuses both calls
   * clearly.
   */
  @Test
  void revokedTasksAreListedUntilTheirTimeToLiveRunsOutOrRevocationIsRefusedClearly() {
    if (!keepsRevokedTasks()) {
      assertThatThrownBy(() -> plane.revoke(List.of("task_" + prefix), Duration.ofMinutes(1)))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> plane.revoked()).isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    String kept = "task_" + prefix + UUID.randomUUID();
    String brief = "task_" + prefix + UUID.randomUUID();
    plane.revoke(List.of(), Duration.ofMinutes(1)); // nothing to do
    plane.revoke(List.of(kept), Duration.ofMinutes(5));
    plane.revoke(List.of(brief), Duration.ofMillis(300));
    assertThat(plane.revoked()).contains(kept);
    await().atMost(PATIENCE).until(() -> !plane.revoked().contains(brief));
    assertThat(plane.revoked()).contains(kept);
    assertThatThrownBy(() -> plane.revoke(List.of("task_" + prefix), Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttl");
  }

  // -------------------------------------------------------------------------------- task events

  /**
   * Whether the control plane keeps task events ({@code Worker.Builder.taskEvents}); one that does
   * not is held to saying so and refusing both calls with {@link UnsupportedOperationException}.
   */
  protected boolean keepsTaskEvents() {
    return true;
  }

  private TaskEvent event(String uuid, TaskEvent.Kind kind, int attempt, String error) {
    return new TaskEvent(uuid, "add", kind, Instant.now(), prefix + "worker", attempt, error);
  }

  /**
   * A plane that keeps task events returns each task's history in the order written, across
   * batches, and refuses a bad time to live; one that does not refuses clearly.
   */
  @Test
  void taskEventsAreReadBackPerTaskInOrderOrRefusedClearly() {
    String one = "task_" + prefix + UUID.randomUUID();
    String two = "task_" + prefix + UUID.randomUUID();
    assertThat(plane.recordsTaskEvents()).isEqualTo(keepsTaskEvents());
    if (!keepsTaskEvents()) {
      assertThatThrownBy(
              () ->
                  plane.recordTaskEvents(
                      List.of(event(one, TaskEvent.Kind.RECEIVED, 1, "")), Duration.ofMinutes(1)))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("keeps no task events");
      assertThatThrownBy(() -> plane.taskHistory(one))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("keeps no task events");
      return;
    }
    List<TaskEvent> first =
        List.of(
            event(one, TaskEvent.Kind.RECEIVED, 1, ""),
            event(two, TaskEvent.Kind.RECEIVED, 1, ""),
            event(one, TaskEvent.Kind.STARTED, 1, ""),
            event(one, TaskEvent.Kind.RETRY, 1, "connection reset <b>"));
    List<TaskEvent> second =
        List.of(
            event(one, TaskEvent.Kind.RECEIVED, 2, ""),
            event(two, TaskEvent.Kind.FAILURE, 1, "boom"),
            event(one, TaskEvent.Kind.SUCCESS, 2, ""));
    plane.recordTaskEvents(List.of(), Duration.ofMinutes(1)); // nothing to do
    plane.recordTaskEvents(first, Duration.ofMinutes(5));
    plane.recordTaskEvents(second, Duration.ofMinutes(5));

    assertThat(plane.taskHistory(one))
        .containsExactly(first.get(0), first.get(2), first.get(3), second.get(0), second.get(2));
    assertThat(plane.taskHistory(two)).containsExactly(first.get(1), second.get(1));
    assertThat(plane.taskHistory("task_" + prefix + "never-ran")).isEmpty();
    assertThatThrownBy(() -> plane.recordTaskEvents(first, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttl");
  }

  /** A history keeps the last events only, and is forgotten when its time to live runs out. */
  @Test
  void aTaskHistoryIsBoundedAndExpires() {
    if (!keepsTaskEvents()) {
      return; // refusal: the test above
    }
    String busy = "task_" + prefix + UUID.randomUUID();
    List<TaskEvent> many = new java.util.ArrayList<>();
    for (int attempt = 1; attempt <= ControlPlane.MAX_TASK_EVENTS + 5; attempt++) {
      many.add(event(busy, TaskEvent.Kind.RETRY, attempt, "again"));
    }
    plane.recordTaskEvents(many, Duration.ofMinutes(5));
    List<TaskEvent> kept = plane.taskHistory(busy);
    assertThat(kept).hasSize(ControlPlane.MAX_TASK_EVENTS);
    assertThat(kept.get(0).attempt()).isEqualTo(6);
    assertThat(kept.get(kept.size() - 1).attempt()).isEqualTo(ControlPlane.MAX_TASK_EVENTS + 5);

    String brief = "task_" + prefix + UUID.randomUUID();
    plane.recordTaskEvents(
        List.of(event(brief, TaskEvent.Kind.SUCCESS, 1, "")), Duration.ofMillis(300));
    await().atMost(PATIENCE).until(() -> plane.taskHistory(brief).isEmpty());
    assertThat(plane.taskHistory(busy)).hasSize(ControlPlane.MAX_TASK_EVENTS);
  }

  // -------------------------------------------------------------------------------- task limits

  /**
   * Whether the control plane keeps task limits set at run time ({@code Inspection.setTaskLimit});
   * one that does not is held to refusing the three calls with {@link
   * UnsupportedOperationException}.
   */
  protected boolean keepsTaskLimits() {
    return true;
  }

  private Map<String, TaskLimitSetting> myLimits() {
    Map<String, TaskLimitSetting> mine = new java.util.HashMap<>(plane.taskLimits());
    mine.keySet().removeIf(task -> !task.startsWith(prefix));
    return mine;
  }

  /**
   * A plane that keeps task limits returns each setting as written, replaces it, forgets a cleared
   * one (idempotently) and refuses an empty task name; one that does not refuses clearly.
   */
  @Test
  void taskLimitsAreSetReplacedAndClearedOrRefusedClearly() {
    String rated = prefix + "rated";
    String capped = prefix + "capped";
    TaskLimitSetting rate = TaskLimitSetting.rate(10, Duration.ofSeconds(1)).withBurst(5);
    if (!keepsTaskLimits()) {
      assertThatThrownBy(() -> plane.setTaskLimit(rated, rate))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> plane.clearTaskLimit(rated))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> plane.taskLimits())
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    plane.setTaskLimit(rated, rate);
    plane.setTaskLimit(capped, TaskLimitSetting.maxConcurrent(2));
    assertThat(myLimits())
        .isEqualTo(Map.of(rated, rate, capped, TaskLimitSetting.maxConcurrent(2)));

    TaskLimitSetting both = TaskLimitSetting.rate(1, Duration.ofMinutes(1)).withMaxConcurrent(1);
    plane.setTaskLimit(rated, both);
    plane.clearTaskLimit(capped);
    plane.clearTaskLimit(capped); // idempotent
    assertThat(myLimits()).isEqualTo(Map.of(rated, both));

    plane.clearTaskLimit(rated);
    assertThat(myLimits()).isEmpty();
    assertThatThrownBy(() -> plane.setTaskLimit("", rate))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> plane.clearTaskLimit("")).isInstanceOf(IllegalArgumentException.class);
  }

  // -------------------------------------------------------------------------- breaker openings

  /**
   * Whether the control plane keeps breaker openings ({@code Inspection.openBreaker}); one that
   * does not is held to refusing the three calls with {@link UnsupportedOperationException}.
   */
  protected boolean keepsBreakerOpenings() {
    return true;
  }

  /**
   * Whether the control plane keeps the cluster's breaker windows and trials ({@code
   * countBreakerRuns}, {@code claimBreakerTrial}: shared breakers); one that does not is held to
   * refusing them with {@link UnsupportedOperationException}. By default, as {@link
   * #keepsBreakerOpenings()}.
   */
  protected boolean keepsBreakerWindows() {
    return keepsBreakerOpenings();
  }

  private Map<String, BreakerOpening> myOpenings() {
    Map<String, BreakerOpening> mine = new java.util.HashMap<>(plane.openBreakers());
    mine.keySet().removeIf(key -> !key.startsWith(prefix));
    return mine;
  }

  /**
   * A plane that keeps breaker openings lists each with what it was given and an expiry about
   * {@code openFor} from now in the reader's clock; opening a key again replaces its opening (a new
   * id), closing forgets it (idempotently), one whose time is up is gone; bad keys and durations
   * are refused. One that does not keep them refuses clearly.
   */
  @Test
  void breakerOpeningsAreListedReplacedAndClosedOrRefusedClearly() {
    String charge = prefix + "charge";
    String host = prefix + "host:payments.example";
    if (!keepsBreakerOpenings()) {
      assertThatThrownBy(() -> plane.openBreaker(charge, Duration.ofMinutes(1), "down", "ops"))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> plane.closeBreaker(charge))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> plane.openBreakers())
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    Instant before = Instant.now();
    BreakerOpening first = plane.openBreaker(charge, Duration.ofMinutes(10), "maintenance", "ops");
    plane.openBreaker(host, Duration.ofMinutes(1), "5 of the last 10 runs failed", "worker-1");
    Instant after = Instant.now();
    Map<String, BreakerOpening> listed = myOpenings();
    assertThat(listed).containsOnlyKeys(charge, host);
    BreakerOpening read = Objects.requireNonNull(listed.get(charge));
    assertThat(read.id()).isEqualTo(first.id());
    assertThat(read.reason()).isEqualTo("maintenance");
    assertThat(read.openedBy()).isEqualTo("ops");
    assertThat(read.until())
        .isBetween(
            before.plus(Duration.ofMinutes(10)).minusSeconds(2),
            after.plus(Duration.ofMinutes(10)).plusSeconds(2));
    assertThat(Objects.requireNonNull(listed.get(host)).openedBy()).isEqualTo("worker-1");

    BreakerOpening again = plane.openBreaker(charge, Duration.ofMinutes(2), "shorter", "ops");
    assertThat(again.id()).isNotEqualTo(first.id());
    read = Objects.requireNonNull(myOpenings().get(charge));
    assertThat(read.id()).isEqualTo(again.id());
    assertThat(read.until()).isBefore(Instant.now().plus(Duration.ofMinutes(3)));

    plane.closeBreaker(host);
    plane.closeBreaker(host); // idempotent
    assertThat(myOpenings()).containsOnlyKeys(charge);
    plane.closeBreaker(charge);
    assertThat(myOpenings()).isEmpty();

    assertThatThrownBy(() -> plane.openBreaker("", Duration.ofMinutes(1), "r", "ops"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> plane.openBreaker(charge, Duration.ZERO, "r", "ops"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> plane.openBreaker(charge, Duration.ofDays(8), "r", "ops"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> plane.closeBreaker("")).isInstanceOf(IllegalArgumentException.class);
    assertThat(myOpenings()).isEmpty();

    String brief = prefix + "brief"; // listed until its time is up, then gone
    plane.openBreaker(brief, Duration.ofMillis(300), "brief", "ops");
    assertThat(myOpenings()).containsOnlyKeys(brief);
    await().atMost(PATIENCE).until(() -> myOpenings().isEmpty());
  }

  /**
   * A cluster's window of breaker outcomes ({@code countBreakerRuns}): outcomes added by several
   * workers count together, the oldest leave past the window's size, and the key opens once at the
   * failure rate (the window then starts again); while open, the opening is answered and nothing
   * counts. A plane that keeps no windows refuses clearly.
   */
  @Test
  void breakerRunsCountForTheClusterAndOpenTheKeyOnce() {
    String key = prefix + "cluster";
    BreakerWindow window = new BreakerWindow(4, 4, 0.5, Duration.ofMinutes(1));
    if (!keepsBreakerWindows()) {
      assertThatThrownBy(
              () -> plane.countBreakerRuns(key, new boolean[] {true}, window, "worker-1"))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    assertThat(plane.countBreakerRuns(key, new boolean[] {false, true}, window, "worker-1"))
        .isNull();
    assertThat(plane.countBreakerRuns(key, new boolean[] {false}, window, "worker-2"))
        .as("3 kept, under the minimum of 4")
        .isNull();
    assertThat(plane.countBreakerRuns(key, new boolean[] {false, false}, window, "worker-2"))
        .as("the oldest leave: 1 failure of the last 4")
        .isNull();
    assertThat(myOpenings()).isEmpty();

    BreakerOpening opened =
        plane.countBreakerRuns(key, new boolean[] {true, true}, window, "worker-3"); // F F T T
    assertThat(opened).as("2 of the last 4 failed").isNotNull();
    assertThat(Objects.requireNonNull(opened).openedBy()).isEqualTo("worker-3");
    assertThat(opened.reason()).isEqualTo(BreakerWindow.reason(2, 4));
    assertThat(opened.until()).isAfter(Instant.now().plusSeconds(50));
    BreakerOpening listed = Objects.requireNonNull(myOpenings().get(key));
    assertThat(listed.id()).isEqualTo(opened.id());

    BreakerOpening answered =
        plane.countBreakerRuns(key, new boolean[] {true, true, true, true}, window, "worker-1");
    assertThat(Objects.requireNonNull(answered).id()).as("open: answered").isEqualTo(opened.id());

    plane.closeBreaker(key);
    assertThat(plane.countBreakerRuns(key, new boolean[] {true, true, true}, window, "worker-1"))
        .as("the window started again when the key opened: 3 kept, under 4")
        .isNull();
    plane.closeBreaker(key);
  }

  /**
   * The cluster's one trial after an opening ends ({@code claimBreakerTrial}): the first claim runs
   * it and writes a trial opening, later claims follow that opening; once it passed, claims after
   * the same opening (or naming the trial's own) answer passed; a trial whose worker never reports
   * is claimed again once its hold is up; an opening in force (a failed trial's new one) is
   * followed, and a pass of a trial no longer the key's opening leaves that opening. A plane that
   * keeps no trials refuses clearly.
   */
  @Test
  void oneClaimRunsTheClustersTrialAfterAnOpeningEndsAndTheOthersFollowIt() {
    String key = prefix + "trial";
    Duration minute = Duration.ofMinutes(1);
    if (!keepsBreakerWindows()) {
      assertThatThrownBy(() -> plane.claimBreakerTrial(key, "opening-1", minute, "worker-1"))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> plane.passBreakerTrial(key, "trial-1"))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    BreakerOpening ended = plane.openBreaker(key, Duration.ofMillis(300), "brief", "ops");
    await().atMost(PATIENCE).until(() -> !myOpenings().containsKey(key));

    Instant before = Instant.now();
    BreakerTrial first = plane.claimBreakerTrial(key, ended.id(), minute, "worker-1");
    assertThat(first.answer()).isEqualTo(BreakerTrial.Answer.RUN);
    BreakerOpening trial = Objects.requireNonNull(first.opening());
    assertThat(trial.trial()).isTrue();
    assertThat(trial.openedBy()).isEqualTo("worker-1");
    assertThat(trial.reason()).isEqualTo(BreakerTrial.reason("worker-1"));
    assertThat(trial.until())
        .isBetween(before.plus(minute).minusSeconds(2), Instant.now().plus(minute).plusSeconds(2));
    BreakerOpening listed = Objects.requireNonNull(myOpenings().get(key));
    assertThat(listed.id()).isEqualTo(trial.id());
    assertThat(listed.trial()).as("read back as a trial's").isTrue();

    BreakerTrial second = plane.claimBreakerTrial(key, ended.id(), minute, "worker-2");
    assertThat(second.answer()).isEqualTo(BreakerTrial.Answer.FOLLOW);
    assertThat(Objects.requireNonNull(second.opening()).id()).isEqualTo(trial.id());
    assertThat(second.opening().trial()).isTrue();

    plane.passBreakerTrial(key, trial.id());
    assertThat(myOpenings()).doesNotContainKey(key);
    assertThat(plane.claimBreakerTrial(key, ended.id(), minute, "worker-3").answer())
        .as("a worker late to claim after the same opening")
        .isEqualTo(BreakerTrial.Answer.PASSED);
    assertThat(plane.claimBreakerTrial(key, trial.id(), minute, "worker-2").answer())
        .as("a worker that followed the trial opening")
        .isEqualTo(BreakerTrial.Answer.PASSED);
    assertThat(myOpenings()).doesNotContainKey(key);

    BreakerOpening next = plane.openBreaker(key, Duration.ofMillis(300), "again", "ops");
    await().atMost(PATIENCE).until(() -> !myOpenings().containsKey(key));
    BreakerTrial abandoned =
        plane.claimBreakerTrial(key, next.id(), Duration.ofMillis(300), "worker-4");
    assertThat(abandoned.answer())
        .as("a new opening: a new trial")
        .isEqualTo(BreakerTrial.Answer.RUN);
    await().atMost(PATIENCE).until(() -> !myOpenings().containsKey(key)); // its worker died
    BreakerTrial retried = plane.claimBreakerTrial(key, next.id(), minute, "worker-5");
    assertThat(retried.answer()).isEqualTo(BreakerTrial.Answer.RUN);
    String retriedId = Objects.requireNonNull(retried.opening()).id();
    assertThat(retriedId).isNotEqualTo(Objects.requireNonNull(abandoned.opening()).id());
    assertThat(plane.claimBreakerTrial(key, abandoned.opening().id(), minute, "worker-6").opening())
        .extracting(BreakerOpening::id)
        .isEqualTo(retriedId);

    BreakerOpening failed = plane.openBreaker(key, minute, "the cluster's trial run failed", "w5");
    BreakerTrial afterFailure = plane.claimBreakerTrial(key, next.id(), minute, "worker-7");
    assertThat(afterFailure.answer()).isEqualTo(BreakerTrial.Answer.FOLLOW);
    assertThat(Objects.requireNonNull(afterFailure.opening()).id()).isEqualTo(failed.id());
    assertThat(afterFailure.opening().trial()).isFalse();
    plane.passBreakerTrial(key, retriedId); // not the key's opening any more: it stays
    assertThat(Objects.requireNonNull(myOpenings().get(key)).id()).isEqualTo(failed.id());

    assertThatThrownBy(() -> plane.claimBreakerTrial("", next.id(), minute, "worker-1"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> plane.claimBreakerTrial(key, next.id(), Duration.ZERO, "worker-1"))
        .isInstanceOf(IllegalArgumentException.class);
    plane.closeBreaker(key);
  }
}
