package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.TaskBreaker.State;
import io.machinery.TaskBreakers.Park;
import io.machinery.TaskBreakers.Ticket;
import io.machinery.TaskBreakers.Verdict;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.MemoryControlPlane;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.WorkerStatus;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * Breaker openings that cross workers through the control plane ({@link TaskBreakers#follow}): an
 * operator's, and those of shared breakers; on the memory control plane and a clock the test moves.
 */
class TaskBreakerOpeningsTest {
  private static final Duration OPEN_FOR = Duration.ofSeconds(8);
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final IOException DOWN = new IOException("connection refused");

  private final ManualClock clock = ManualClock.at(Instant.parse("2026-12-05T12:00:00Z"));
  private final MemoryControlPlane plane = MemoryControlPlane.create(clock);

  private TaskBreakers breakers(TaskBreaker breaker) {
    return new TaskBreakers(Map.of("call", breaker), clock, "test-worker");
  }

  private static Signature call() {
    return Signature.create("call");
  }

  private static void fail(TaskBreakers breakers) {
    TaskBreakers.Entry entry = breakers.enter(call());
    assertThat(entry).isInstanceOf(Ticket.class);
    ((Ticket) entry).report(Verdict.FAILED, DOWN);
  }

  @Test
  void anOperatorsOpeningParksTheKeyUntilItsTimeThenATrialDecides() {
    TaskBreakers breakers = breakers(TaskBreaker.builder().openFor(OPEN_FOR).build());
    plane.openBreaker("call", Duration.ofMinutes(5), "provider maintenance", "ops");
    breakers.follow(plane, "w1");
    // keyed by task name: listed open before any task of it arrived
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
    Park park = (Park) breakers.enter(call());
    assertThat(park.delay()).isGreaterThanOrEqualTo(Duration.ofMinutes(5));

    clock.advance(Duration.ofMinutes(5)); // the opening's time is up, in the plane too
    breakers.follow(plane, "w1");
    Ticket trial = (Ticket) breakers.enter(call());
    assertThat(breakers.states()).containsEntry("call", State.HALF_OPEN);
    trial.report(Verdict.SUCCEEDED, null);
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
  }

  @Test
  void aKeyFromAKeyFunctionOpensWhenItsFirstTaskArrives() {
    TaskBreakers breakers =
        breakers(TaskBreaker.builder().openFor(OPEN_FOR).key(s -> "host:payments").build());
    plane.openBreaker("host:payments", Duration.ofMinutes(5), "down", "ops");
    breakers.follow(plane, "w1");
    assertThat(breakers.states()).isEmpty(); // no key function can be run backwards
    assertThat(breakers.enter(call())).isInstanceOf(Park.class);
    assertThat(breakers.states()).containsEntry("host:payments", State.OPEN);
  }

  @Test
  void removingTheOpeningClosesTheBreakerItOpenedAndANewOpeningAppliesAgain() {
    TaskBreakers breakers = breakers(TaskBreaker.builder().openFor(OPEN_FOR).build());
    plane.openBreaker("call", Duration.ofMinutes(5), "maintenance", "ops");
    breakers.follow(plane, "w1");
    assertThat(breakers.states()).containsEntry("call", State.OPEN);

    plane.closeBreaker("call");
    breakers.follow(plane, "w1");
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
    assertThat(breakers.enter(call())).isInstanceOf(Ticket.class);

    plane.openBreaker("call", Duration.ofMinutes(1), "again", "ops");
    breakers.follow(plane, "w1");
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
    breakers.follow(plane, "w1"); // the same opening is applied once: nothing changes
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
  }

  @Test
  void anOpeningGoneBecauseItsTimeIsUpLeavesTheBreakerToItsTrial() {
    TaskBreakers breakers = breakers(TaskBreaker.builder().openFor(OPEN_FOR).build());
    plane.openBreaker("call", Duration.ofMinutes(1), "maintenance", "ops");
    breakers.follow(plane, "w1");
    clock.advance(Duration.ofMinutes(1).minusMillis(TaskBreakers.EXPIRY_MARGIN_MILLIS / 2));
    plane.closeBreaker("call"); // as if the store's clock ran a little ahead of this worker's
    breakers.follow(plane, "w1");
    assertThat(breakers.states()).containsEntry("call", State.OPEN); // not closed: it expired
  }

  @Test
  void aSharedBreakersFailedRunsOpenTheKeyForEveryWorker() {
    TaskBreakers first =
        breakers(
            TaskBreaker.builder().window(2).minimumRuns(2).openFor(OPEN_FOR).shared(true).build());
    TaskBreakers second = breakers(TaskBreaker.builder().openFor(OPEN_FOR).build());
    first.follow(plane, "worker-1");
    second.follow(plane, "worker-2");
    fail(first);
    fail(first);
    assertThat(first.states()).containsEntry("call", State.OPEN);
    await().atMost(PATIENCE).until(() -> plane.openBreakers().containsKey("call"));
    ControlPlane.BreakerOpening opening = plane.openBreakers().get("call");
    assertThat(opening.openedBy()).isEqualTo("worker-1");
    assertThat(opening.reason()).isEqualTo(ControlPlane.BreakerWindow.reason(2, 2));
    assertThat(opening.until()).isEqualTo(clock.instant().plus(OPEN_FOR));

    second.follow(plane, "worker-2"); // the next heartbeat of a worker that saw no failure
    assertThat(second.states()).containsEntry("call", State.OPEN);
    assertThat(second.enter(call())).isInstanceOf(Park.class);

    await().atMost(PATIENCE).until(() -> opening.id().equals(first.appliedOpening("call")));
    plane.closeBreaker("call"); // an operator closes it: the worker that wrote it closes too
    first.follow(plane, "worker-1");
    second.follow(plane, "worker-2");
    assertThat(first.states()).containsEntry("call", State.CLOSED);
    assertThat(second.states()).containsEntry("call", State.CLOSED);
  }

  /**
   * Shared breakers count their runs in one window for the cluster: two workers that each failed
   * under their own minimum open the key together, and both park it.
   */
  @Test
  void sharedBreakersOpenTheKeyWhenTheClustersRunsReachTheRate() {
    TaskBreaker shared =
        TaskBreaker.builder().window(4).minimumRuns(4).openFor(OPEN_FOR).shared(true).build();
    TaskBreakers first = breakers(shared);
    TaskBreakers second = breakers(shared);
    first.follow(plane, "worker-1");
    second.follow(plane, "worker-2");
    fail(first);
    fail(first);
    await().atMost(PATIENCE).until(() -> first.pendingClusterRuns("call") == 0);
    assertThat(plane.openBreakers()).isEmpty(); // 2 kept for the cluster, under 4
    fail(second);
    fail(second);
    await().atMost(PATIENCE).until(() -> plane.openBreakers().containsKey("call"));
    assertThat(plane.openBreakers().get("call").reason())
        .isEqualTo(ControlPlane.BreakerWindow.reason(4, 4));
    await().atMost(PATIENCE).until(() -> second.states().get("call") == State.OPEN);
    assertThat(first.states()).containsEntry("call", State.CLOSED); // its own 2 of 2, under 4
    first.follow(plane, "worker-1"); // its next heartbeat
    assertThat(first.states()).containsEntry("call", State.OPEN);
  }

  /**
   * A fault only one worker sees (its own network) opens its own breaker, not the cluster's: the
   * other worker's successes keep the cluster's window under the rate.
   */
  @Test
  void aFaultOnlyOneWorkerSeesParksNoOther() {
    TaskBreaker shared =
        TaskBreaker.builder()
            .window(4)
            .minimumRuns(4)
            .failureRate(0.75)
            .openFor(OPEN_FOR)
            .shared(true)
            .build();
    TaskBreakers cutOff = breakers(shared);
    TaskBreakers healthy = breakers(shared);
    cutOff.follow(plane, "worker-1");
    healthy.follow(plane, "worker-2");
    for (int i = 0; i < 4; i++) {
      Ticket ok = (Ticket) healthy.enter(call());
      ok.report(Verdict.SUCCEEDED, null);
      await().atMost(PATIENCE).until(() -> healthy.pendingClusterRuns("call") == 0);
      fail(cutOff);
      await().atMost(PATIENCE).until(() -> cutOff.pendingClusterRuns("call") == 0);
    }
    assertThat(cutOff.states()).containsEntry("call", State.OPEN); // 4 of its 4
    assertThat(plane.openBreakers()).isEmpty(); // 2 of the cluster's last 4
    healthy.follow(plane, "worker-2");
    assertThat(healthy.states()).containsEntry("call", State.CLOSED);
  }

  private static TaskBreaker sharedBreaker() {
    return TaskBreaker.builder().openFor(OPEN_FOR).shared(true).build();
  }

  /** Three workers with a shared breaker, each following an operator's opening of a minute. */
  private List<TaskBreakers> threeWorkersFollowingAnOpening() {
    List<TaskBreakers> workers =
        List.of(breakers(sharedBreaker()), breakers(sharedBreaker()), breakers(sharedBreaker()));
    plane.openBreaker("call", Duration.ofMinutes(1), "maintenance", "ops");
    for (int i = 0; i < workers.size(); i++) {
      workers.get(i).follow(plane, "worker-" + (i + 1));
      assertThat(workers.get(i).states()).containsEntry("call", State.OPEN);
    }
    clock.advance(Duration.ofMinutes(1)); // the opening's time is up
    return workers;
  }

  /**
   * When an opening of a shared breaker's key ends, the first worker to get a task of the key runs
   * the cluster's one trial with it; the others park theirs briefly (half-open, not for another
   * {@code openFor}) until it passes, then close within a heartbeat; a worker that comes later
   * learns that it passed and runs its task.
   */
  @Test
  void sharedBreakersRunOneTrialForTheClusterWhenTheirOpeningEnds() {
    List<TaskBreakers> workers = threeWorkersFollowingAnOpening();
    TaskBreakers first = workers.get(0);
    TaskBreakers second = workers.get(1);
    TaskBreakers late = workers.get(2);

    Ticket trial = (Ticket) first.enter(call());
    ControlPlane.BreakerOpening held = plane.openBreakers().get("call");
    assertThat(held.trial()).isTrue();
    assertThat(held.openedBy()).isEqualTo("worker-1");
    assertThat(held.until()).isEqualTo(clock.instant().plus(OPEN_FOR));
    Park park = (Park) second.enter(call());
    assertThat(park.delay()).isEqualTo(Worker.FIRST_LIMIT_DELAY); // back soon: the trial may pass
    assertThat(second.states()).containsEntry("call", State.HALF_OPEN);
    assertThat(first.enter(call())).as("one trial run at a time").isInstanceOf(Park.class);

    trial.report(Verdict.SUCCEEDED, null);
    assertThat(first.states()).containsEntry("call", State.CLOSED);
    await().atMost(PATIENCE).until(() -> plane.openBreakers().isEmpty());
    second.follow(plane, "worker-2"); // its next heartbeat
    assertThat(second.states()).containsEntry("call", State.CLOSED);
    assertThat(second.enter(call())).isInstanceOf(Ticket.class);

    Ticket afterTheTrial = (Ticket) late.enter(call()); // its first task since the opening ended
    assertThat(late.states()).containsEntry("call", State.CLOSED);
    afterTheTrial.report(Verdict.FAILED, DOWN); // an ordinary run, counted in the window
    assertThat(late.states()).containsEntry("call", State.CLOSED);
  }

  /**
   * The cluster's trial that fails opens the key again on every worker for {@code openFor}: the
   * others park their tasks for it, not briefly.
   */
  @Test
  void aClusterTrialThatFailsOpensTheKeyOnEveryWorkerAgain() {
    List<TaskBreakers> workers = threeWorkersFollowingAnOpening();
    TaskBreakers first = workers.get(0);
    TaskBreakers second = workers.get(1);
    Ticket trial = (Ticket) first.enter(call());
    assertThat(second.enter(call())).isInstanceOf(Park.class);

    trial.report(Verdict.FAILED, DOWN);
    assertThat(first.states()).containsEntry("call", State.OPEN);
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              ControlPlane.BreakerOpening opening = plane.openBreakers().get("call");
              return opening != null && !opening.trial();
            });
    ControlPlane.BreakerOpening again = plane.openBreakers().get("call");
    assertThat(again.openedBy()).isEqualTo("worker-1");
    assertThat(again.reason()).startsWith("the cluster's trial run failed: ");
    assertThat(again.until()).isEqualTo(clock.instant().plus(OPEN_FOR));
    await().atMost(PATIENCE).until(() -> again.id().equals(first.appliedOpening("call")));
    second.follow(plane, "worker-2");
    assertThat(second.states()).containsEntry("call", State.OPEN);
    Park park = (Park) second.enter(call());
    assertThat(park.delay()).isGreaterThanOrEqualTo(OPEN_FOR);

    clock.advance(OPEN_FOR); // that opening ends too: again one trial for the cluster
    assertThat(second.enter(call())).isInstanceOf(Ticket.class);
    assertThat(first.enter(call())).isInstanceOf(Park.class);
  }

  /**
   * A worker that claimed the trial and never reports (it died) holds the key for {@code openFor}
   * at most: then the next worker to get a task runs the trial.
   */
  @Test
  void aTrialWhoseWorkerDiedIsRunByAnotherAfterItsHold() {
    List<TaskBreakers> workers = threeWorkersFollowingAnOpening();
    assertThat(workers.get(0).enter(call())).isInstanceOf(Ticket.class); // then it dies
    TaskBreakers second = workers.get(1);
    assertThat(second.enter(call())).isInstanceOf(Park.class);

    clock.advance(OPEN_FOR);
    second.follow(plane, "worker-2"); // the trial opening is gone because its time is up
    assertThat(second.states()).containsEntry("call", State.HALF_OPEN);
    Ticket trial = (Ticket) second.enter(call());
    assertThat(plane.openBreakers().get("call").openedBy()).isEqualTo("worker-2");
    trial.report(Verdict.SUCCEEDED, null);
    await().atMost(PATIENCE).until(() -> plane.openBreakers().isEmpty());
  }

  /** Where the control plane keeps no trials, each worker runs its own after an opening. */
  @Test
  void withoutClusterTrialsEachWorkerRunsItsOwn() {
    ControlPlane noTrials = new SlowReads(plane); // openings and counts, but no trials
    List<TaskBreakers> workers = List.of(breakers(sharedBreaker()), breakers(sharedBreaker()));
    plane.openBreaker("call", Duration.ofMinutes(1), "maintenance", "ops");
    workers.forEach(w -> w.follow(noTrials, "worker"));
    clock.advance(Duration.ofMinutes(1));
    assertThat(workers.get(0).enter(call())).isInstanceOf(Ticket.class);
    assertThat(workers.get(1).enter(call())).isInstanceOf(Ticket.class);
  }

  @Test
  void aBreakerNotSharedCountsForNoCluster() {
    TaskBreakers first = breakers(TaskBreaker.builder().window(4).minimumRuns(4).build());
    TaskBreakers second = breakers(TaskBreaker.builder().window(4).minimumRuns(4).build());
    first.follow(plane, "worker-1");
    second.follow(plane, "worker-2");
    fail(first);
    fail(first);
    fail(second);
    fail(second);
    assertThat(first.pendingClusterRuns("call")).isZero();
    ControlPlane.BreakerWindow window = new ControlPlane.BreakerWindow(4, 4, 0.5, OPEN_FOR);
    assertThat(plane.countBreakerRuns("call", new boolean[0], window, "probe"))
        .as("had the four failures been counted, this would open the key")
        .isNull();
    assertThat(plane.openBreakers()).isEmpty();
  }

  @Test
  void aBreakerNotSharedKeepsItsOpeningToItself() {
    TaskBreakers breakers =
        breakers(TaskBreaker.builder().window(2).minimumRuns(2).openFor(OPEN_FOR).build());
    breakers.follow(plane, "worker-1");
    fail(breakers);
    fail(breakers);
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
    assertThat(breakers.pendingClusterRuns("call")).as("nothing sent, nothing on its way").isZero();
    assertThat(plane.openBreakers()).isEmpty();
  }

  /**
   * A heartbeat's read that began before the cluster's opening reached the store finds no opening;
   * that must not count as "closed elsewhere".
   */
  @Test
  void aReadThatBeganBeforeTheOpeningWasWrittenDoesNotCloseIt() throws Exception {
    SlowReads slow = new SlowReads(plane);
    TaskBreakers breakers =
        breakers(
            TaskBreaker.builder().window(2).minimumRuns(2).openFor(OPEN_FOR).shared(true).build());
    breakers.follow(slow, "worker-1");
    slow.holdNextRead();
    Thread heartbeat = Thread.ofPlatform().start(() -> breakers.follow(slow, "worker-1"));
    assertThat(slow.reading.await(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
    fail(breakers);
    fail(breakers); // its count opens the key while the read holds an empty answer
    await().atMost(PATIENCE).until(() -> breakers.appliedOpening("call") != null);
    slow.release.countDown();
    heartbeat.join(PATIENCE.toMillis());
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
  }

  @Test
  void aControlPlaneThatKeepsNoOpeningsLeavesTheBreakersToTheWorker() {
    TaskBreakers breakers =
        breakers(
            TaskBreaker.builder().window(2).minimumRuns(2).openFor(OPEN_FOR).shared(true).build());
    ControlPlane none = new SlowReads(plane).keepingNoOpenings();
    breakers.follow(none, "worker-1");
    breakers.follow(none, "worker-1");
    fail(breakers);
    fail(breakers);
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
    assertThat(plane.openBreakers()).isEmpty();
  }

  /**
   * The memory control plane whose next read of the openings takes its answer, then waits to be
   * released; or one that keeps no openings.
   */
  private static final class SlowReads implements ControlPlane {
    private final MemoryControlPlane delegate;
    private final CountDownLatch reading = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private volatile boolean hold;
    private boolean keepsNone;

    SlowReads(MemoryControlPlane delegate) {
      this.delegate = delegate;
    }

    void holdNextRead() {
      hold = true;
    }

    SlowReads keepingNoOpenings() {
      keepsNone = true;
      return this;
    }

    @Override
    public Map<String, BreakerOpening> openBreakers() {
      if (keepsNone) {
        return ControlPlane.super.openBreakers();
      }
      Map<String, BreakerOpening> answer = delegate.openBreakers();
      if (hold) {
        hold = false;
        reading.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return answer;
    }

    @Override
    public BreakerOpening openBreaker(
        String key, Duration openFor, String reason, String openedBy) {
      return keepsNone
          ? ControlPlane.super.openBreaker(key, openFor, reason, openedBy)
          : delegate.openBreaker(key, openFor, reason, openedBy);
    }

    @Override
    public @Nullable BreakerOpening countBreakerRuns(
        String key, boolean[] failed, BreakerWindow window, String openedBy) {
      return keepsNone
          ? ControlPlane.super.countBreakerRuns(key, failed, window, openedBy)
          : delegate.countBreakerRuns(key, failed, window, openedBy);
    }

    @Override
    public void announce(WorkerStatus status, Duration ttl) {
      delegate.announce(status, ttl);
    }

    @Override
    public void withdraw(String workerId) {
      delegate.withdraw(workerId);
    }

    @Override
    public List<WorkerStatus> workers() {
      return delegate.workers();
    }

    @Override
    public void pause(String queue) {
      delegate.pause(queue);
    }

    @Override
    public void resume(String queue) {
      delegate.resume(queue);
    }

    @Override
    public Set<String> pausedQueues() {
      return delegate.pausedQueues();
    }
  }
}
