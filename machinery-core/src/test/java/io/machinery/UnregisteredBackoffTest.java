package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.embedded.ManualClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class UnregisteredBackoffTest {
  private final ManualClock clock = ManualClock.at("2026-01-01T00:00:00Z");
  private final UnregisteredBackoff backoff =
      new UnregisteredBackoff(
          clock, new Backoff(Worker.FIRST_UNREGISTERED_DELAY, Worker.MAX_UNREGISTERED_DELAY), 5);

  @Test
  void theCountTravelsInTheMessageAndTheDelayGrowsWithIt() {
    Signature message = Signature.create("unknown");
    long[] delays = new long[5];
    for (int i = 0; i < 5; i++) {
      UnregisteredBackoff.Requeue requeue =
          (UnregisteredBackoff.Requeue) backoff.decide(message, 0);
      delays[i] = requeue.delay().toMillis();
      assertThat(requeue.requeues()).isEqualTo(i + 1);
      message = requeue.replacement();
      assertThat(message.headers())
          .containsEntry(Worker.UNREGISTERED_HEADER, Integer.toString(i + 1));
    }
    assertThat(delays).containsExactly(100, 200, 400, 800, 1600);
    assertThat(backoff.decide(message, 0))
        .isInstanceOfSatisfying(
            UnregisteredBackoff.DeadLetter.class,
            dead ->
                assertThat(dead.reason())
                    .contains("task unknown is not registered")
                    .contains("requeued 5 times"));
  }

  @Test
  void aBrokerDeliveryCountStandsInWhenTheMessageCouldNotBeReplaced() {
    UnregisteredBackoff.Requeue requeue =
        (UnregisteredBackoff.Requeue) backoff.decide(Signature.create("unknown"), 4);
    assertThat(requeue.requeues()).isEqualTo(4);
    assertThat(requeue.delay()).isEqualTo(Duration.ofMillis(800));
    assertThat(backoff.decide(Signature.create("unknown"), 6))
        .isInstanceOf(UnregisteredBackoff.DeadLetter.class);
  }

  @Test
  void zeroMeansRequeueForEverAsGoDoesWithTheDelayCapped() {
    UnregisteredBackoff forEver =
        new UnregisteredBackoff(
            clock, new Backoff(Worker.FIRST_UNREGISTERED_DELAY, Worker.MAX_UNREGISTERED_DELAY), 0);
    Signature old =
        Signature.builder("unknown").header(Worker.UNREGISTERED_HEADER, "100000").build();
    assertThat(forEver.decide(old, 0))
        .isInstanceOfSatisfying(
            UnregisteredBackoff.Requeue.class,
            r -> assertThat(r.delay()).isEqualTo(Worker.MAX_UNREGISTERED_DELAY));
  }

  @Test
  void ignoreWhenTaskNotRegisteredDrops() {
    assertThat(
            backoff.decide(
                Signature.builder("unknown").ignoreWhenTaskNotRegistered(true).build(), 0))
        .isInstanceOf(UnregisteredBackoff.Drop.class);
  }

  @Test
  void warnsOncePerNamePerIntervalAndRemembersABoundedNumberOfNames() {
    assertThat(backoff.shouldWarn("a")).isTrue();
    assertThat(backoff.shouldWarn("a")).isFalse();
    clock.advance(UnregisteredBackoff.WARN_INTERVAL);
    assertThat(backoff.shouldWarn("a")).isTrue();
    for (int i = 0; i < 10_000; i++) {
      backoff.shouldWarn("name-" + i + "-" + "x".repeat(1000));
    }
    assertThat(backoff.warnedNames()).isEqualTo(UnregisteredBackoff.MAX_WARNED_NAMES);
  }
}
