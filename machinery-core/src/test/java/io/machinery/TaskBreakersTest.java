package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.TaskBreaker.State;
import io.machinery.TaskBreakers.Park;
import io.machinery.TaskBreakers.Ticket;
import io.machinery.TaskBreakers.Verdict;
import io.machinery.embedded.ManualClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** The breaker's state machine, on a clock the test moves. */
class TaskBreakersTest {
  private static final Duration OPEN_FOR = Duration.ofSeconds(8);
  private static final IOException DOWN = new IOException("connection refused");

  private final ManualClock clock = ManualClock.at(Instant.parse("2026-12-03T12:00:00Z"));

  private TaskBreakers breakers(TaskBreaker breaker) {
    return new TaskBreakers(Map.of("call", breaker), clock, "test-worker");
  }

  private static TaskBreaker.Builder breaker() {
    return TaskBreaker.builder().openFor(OPEN_FOR);
  }

  private static Signature call() {
    return Signature.create("call");
  }

  private static Ticket ticket(TaskBreakers breakers) {
    TaskBreakers.Entry entry = breakers.enter(call());
    assertThat(entry).isInstanceOf(Ticket.class);
    return (Ticket) entry;
  }

  private static Park parked(TaskBreakers breakers, Signature signature) {
    TaskBreakers.Entry entry = breakers.enter(signature);
    assertThat(entry).isInstanceOf(Park.class);
    return (Park) entry;
  }

  private static void run(TaskBreakers breakers, Verdict verdict) {
    ticket(breakers).report(verdict, verdict == Verdict.FAILED ? DOWN : null);
  }

  @Test
  void defaultsAreHalfOfTwentyRunsThirtySecondsAndOneTrial() {
    TaskBreaker defaults = TaskBreaker.builder().build();
    assertThat(defaults.failureRate()).isEqualTo(0.5);
    assertThat(defaults.window()).isEqualTo(20);
    assertThat(defaults.minimumRuns()).isEqualTo(10);
    assertThat(defaults.openFor()).isEqualTo(Duration.ofSeconds(30));
    assertThat(defaults.trialRuns()).isEqualTo(1);
    assertThat(defaults.keyOf(call())).isEqualTo("call");
    assertThat(TaskBreaker.builder().window(5).minimumRuns(9).build().minimumRuns()).isEqualTo(5);
  }

  @Test
  void badValuesAreRefusedWithTheirRange() {
    assertThatThrownBy(() -> TaskBreaker.builder().failureRate(0))
        .hasMessageContaining("above 0 and at most 1");
    assertThatThrownBy(() -> TaskBreaker.builder().failureRate(Double.NaN))
        .hasMessageContaining("above 0 and at most 1");
    assertThatThrownBy(() -> TaskBreaker.builder().window(0)).hasMessageContaining("1 to 10000");
    assertThatThrownBy(() -> TaskBreaker.builder().minimumRuns(0))
        .hasMessageContaining("at least 1");
    assertThatThrownBy(() -> TaskBreaker.builder().openFor(Duration.ofMillis(5)))
        .hasMessageContaining("10 ms to 1 hour");
    assertThatThrownBy(() -> TaskBreaker.builder().trialRuns(0)).hasMessageContaining("1 to 1000");
    assertThatThrownBy(() -> TaskBreaker.builder().key(s -> "").build().keyOf(call()))
        .hasMessageContaining("breaker key function of task call returned");
  }

  @Test
  void itStaysClosedUntilTheMinimumRunsAreKept() {
    TaskBreakers breakers = breakers(breaker().window(10).minimumRuns(5).build());
    for (int i = 0; i < 4; i++) {
      run(breakers, Verdict.FAILED);
    }
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
    run(breakers, Verdict.FAILED);
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
  }

  @Test
  void itOpensWhenTheFailedShareOfTheWindowReachesTheRate() {
    TaskBreakers breakers = breakers(breaker().failureRate(0.5).window(4).minimumRuns(4).build());
    run(breakers, Verdict.SUCCEEDED);
    run(breakers, Verdict.SUCCEEDED);
    run(breakers, Verdict.FAILED);
    run(breakers, Verdict.SUCCEEDED);
    assertThat(breakers.states()).containsEntry("call", State.CLOSED); // 1 of 4
    run(breakers, Verdict.FAILED); // the oldest success leaves: 2 of 4
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
  }

  @Test
  void oldFailuresLeaveTheWindow() {
    TaskBreakers breakers = breakers(breaker().failureRate(1.0).window(3).minimumRuns(3).build());
    run(breakers, Verdict.FAILED);
    run(breakers, Verdict.FAILED);
    run(breakers, Verdict.SUCCEEDED);
    run(breakers, Verdict.FAILED); // F S F
    run(breakers, Verdict.FAILED); // S F F
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
    run(breakers, Verdict.FAILED); // F F F
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
  }

  @Test
  void anOpenBreakerParksTasksUntilItsTimeIsUpInFewDistinctDelays() {
    TaskBreakers breakers = breakers(breaker().window(1).build());
    run(breakers, Verdict.FAILED);
    Set<Duration> delays = new HashSet<>();
    Signature signature = call();
    for (int i = 0; i < 200; i++) {
      Park park = parked(breakers, signature);
      assertThat(park.state()).isEqualTo(State.OPEN);
      assertThat(park.delay()).isBetween(OPEN_FOR, OPEN_FOR.plus(OPEN_FOR.dividedBy(4)));
      delays.add(park.delay());
    }
    assertThat(delays).hasSizeBetween(2, 3); // 8/8, 9/8 and 10/8 of openFor
    clock.advance(Duration.ofSeconds(5));
    Park later = parked(breakers, signature);
    assertThat(later.delay()).isBetween(Duration.ofSeconds(3), Duration.ofSeconds(5));
  }

  @Test
  void aParkedTaskIsCountedInItsHeaderAndKeepsItsRetries() {
    TaskBreakers breakers = breakers(breaker().window(1).build());
    run(breakers, Verdict.FAILED);
    Signature signature = Signature.builder("call").retryCount(3).build();
    Park first = parked(breakers, signature);
    Park second = parked(breakers, first.replacement());
    assertThat(first.parkings()).isEqualTo(1);
    assertThat(second.parkings()).isEqualTo(2);
    assertThat(second.replacement().headers()).containsEntry(MessageHeaders.BREAKER, "2");
    assertThat(second.replacement().retryCount()).isEqualTo(3);
    assertThat(second.replacement().uuid()).isEqualTo(signature.uuid());
    assertThat(MessageHeaders.nextAttempt(second.replacement()))
        .doesNotContainKey(MessageHeaders.BREAKER);
  }

  @Test
  void afterOpenForTrialRunsGoThroughAndTheirSuccessesCloseIt() {
    TaskBreakers breakers = breakers(breaker().window(2).minimumRuns(2).trialRuns(2).build());
    run(breakers, Verdict.FAILED);
    run(breakers, Verdict.FAILED);
    clock.advance(OPEN_FOR);
    assertThat(breakers.states()).containsEntry("call", State.HALF_OPEN);
    Ticket trial1 = ticket(breakers);
    Ticket trial2 = ticket(breakers);
    Park waiting = parked(breakers, call());
    assertThat(waiting.state()).isEqualTo(State.HALF_OPEN);
    assertThat(waiting.delay()).isEqualTo(Worker.FIRST_LIMIT_DELAY);
    assertThat(parked(breakers, waiting.replacement()).delay())
        .isEqualTo(Worker.FIRST_LIMIT_DELAY.multipliedBy(2));
    trial1.report(Verdict.SUCCEEDED, null);
    parked(breakers, call()); // one success, one trial still running: no third trial
    trial2.report(Verdict.SUCCEEDED, null);
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
    run(breakers, Verdict.FAILED); // an empty window again: one failure of 2 needed is not enough
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
  }

  @Test
  void aFailedTrialOpensItAgainForOpenFor() {
    TaskBreakers breakers = breakers(breaker().window(1).build());
    run(breakers, Verdict.FAILED);
    clock.advance(OPEN_FOR);
    ticket(breakers).report(Verdict.FAILED, DOWN);
    assertThat(breakers.states()).containsEntry("call", State.OPEN);
    assertThat(parked(breakers, call()).delay()).isGreaterThanOrEqualTo(OPEN_FOR);
  }

  @Test
  void aTrialThatEndsInNeitherWayFreesItsTurn() {
    TaskBreakers breakers = breakers(breaker().window(1).build());
    run(breakers, Verdict.FAILED);
    clock.advance(OPEN_FOR);
    Ticket trial = ticket(breakers);
    parked(breakers, call());
    trial.report(Verdict.NEUTRAL, null);
    trial.report(Verdict.FAILED, DOWN); // a ticket reports once
    assertThat(breakers.states()).containsEntry("call", State.HALF_OPEN);
    ticket(breakers).report(Verdict.SUCCEEDED, null);
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
  }

  @Test
  void outcomesOfRunsAdmittedBeforeAChangeDoNotCount() {
    TaskBreakers breakers = breakers(breaker().window(1).build());
    Ticket early = ticket(breakers);
    Ticket late = ticket(breakers);
    run(breakers, Verdict.FAILED);
    clock.advance(OPEN_FOR.dividedBy(2));
    early.report(Verdict.FAILED, DOWN); // ended after the breaker opened: does not open it anew
    clock.advance(OPEN_FOR.dividedBy(2));
    assertThat(breakers.states()).containsEntry("call", State.HALF_OPEN);
    Ticket trial = ticket(breakers);
    late.report(Verdict.FAILED, DOWN); // not the trial: does not open it again
    assertThat(breakers.states()).containsEntry("call", State.HALF_OPEN);
    trial.report(Verdict.SUCCEEDED, null);
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
  }

  @Test
  void onlyErrorsThePredicateCountsAreFailures() {
    TaskBreakers breakers =
        breakers(
            breaker()
                .window(1)
                .countsAsFailure(
                    e -> {
                      if (e instanceof IllegalStateException) {
                        throw new IllegalArgumentException("predicate bug");
                      }
                      return e instanceof IOException || e instanceof TimeoutException;
                    })
                .build());
    ticket(breakers).report(Verdict.FAILED, new IllegalArgumentException("bad customer id"));
    assertThat(breakers.states()).containsEntry("call", State.CLOSED);
    ticket(breakers).report(Verdict.FAILED, new TimeoutException("task timed out after 1s"));
    assertThat(breakers.states()).containsEntry("call", State.OPEN);

    TaskBreakers throwing =
        breakers(
            breaker()
                .window(1)
                .countsAsFailure(
                    e -> {
                      throw new UncheckedIOException(new IOException("predicate bug"));
                    })
                .build());
    ticket(throwing).report(Verdict.FAILED, new IllegalStateException("x"));
    assertThat(throwing.states()).containsEntry("call", State.OPEN); // a throwing predicate counts
  }

  @Test
  void tasksWithEqualKeysShareOneBreakerAndOtherKeysAreApart() {
    TaskBreaker byHost = breaker().window(1).key(s -> "host:" + s.args().get(0).value()).build();
    TaskBreakers breakers =
        new TaskBreakers(Map.of("call", byHost, "fetch", byHost), clock, "test-worker");
    Signature callA = Signature.builder("call").args(Arg.of("a")).build();
    Signature fetchA = Signature.builder("fetch").args(Arg.of("a")).build();
    Signature callB = Signature.builder("call").args(Arg.of("b")).build();
    ((Ticket) breakers.enter(callA)).report(Verdict.FAILED, DOWN);
    assertThat(breakers.enter(fetchA)).isInstanceOf(Park.class);
    assertThat(breakers.enter(callB)).isInstanceOf(Ticket.class);
    assertThat(breakers.enter(Signature.create("other"))).isSameAs(TaskBreakers.UNBROKEN);
    assertThat(breakers.states())
        .containsExactly(Map.entry("host:a", State.OPEN), Map.entry("host:b", State.CLOSED));
  }

  @Test
  void pastTheKeyLimitQuietKeysAreForgottenAndTroubledOnesKept() {
    TaskBreakers breakers =
        breakers(breaker().window(2).minimumRuns(2).key(s -> s.args().get(0).value() + "").build());
    Signature troubled = Signature.builder("call").args(Arg.of("troubled")).build();
    ((Ticket) breakers.enter(troubled)).report(Verdict.FAILED, DOWN); // one failure: still closed
    for (int i = 1; i < TaskBreakers.MAX_KEYS; i++) {
      ((Ticket) breakers.enter(Signature.builder("call").args(Arg.of("k" + i)).build()))
          .report(Verdict.SUCCEEDED, null);
    }
    assertThat(breakers.keys()).isEqualTo(TaskBreakers.MAX_KEYS);
    breakers.enter(Signature.builder("call").args(Arg.of("new")).build());
    assertThat(breakers.keys()).isEqualTo(2); // the troubled key and the new one
    ((Ticket) breakers.enter(troubled)).report(Verdict.FAILED, DOWN);
    assertThat(breakers.states()).containsEntry("troubled", State.OPEN); // its failure was kept
  }

  @Test
  void theWorkerBuilderRefusesASecondBreakerForOneTask() {
    try (Server server = Server.builder().build()) {
      Worker.Builder builder = server.workerBuilder("w");
      builder.breaker("call", TaskBreaker.builder().build());
      assertThatThrownBy(() -> builder.breaker("call", TaskBreaker.builder().build()))
          .hasMessageContaining("task call already has a breaker (TaskBreaker{opens at 50%");
      assertThatThrownBy(() -> builder.breaker("", TaskBreaker.builder().build()))
          .hasMessageContaining("needs a task name");
    }
  }
}
