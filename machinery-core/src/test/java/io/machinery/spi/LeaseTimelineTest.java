package io.machinery.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The hold a broker judges from the renewals its server confirmed, on a clock of whole seconds. */
class LeaseTimelineTest {
  private static final long S = 1_000_000_000L;

  /** Holds of 10 s; the margin is 1 s. */
  private final LeaseTimeline timeline = LeaseTimeline.of(Duration.ofSeconds(10));

  @Test
  void nothingIsHeldBeforeTheFirstRenewal() {
    assertThat(timeline.heldThroughout(0, 0)).isFalse();
  }

  @Test
  void aRenewalHoldsFromItsSendingForTheTtlLessTheMargin() {
    timeline.renewed(100 * S, 101 * S);
    assertThat(timeline.heldThroughout(100 * S, 108 * S)).isTrue();
    assertThat(timeline.heldThroughout(100 * S, 109 * S)).as("within the margin").isFalse();
    assertThat(timeline.heldThroughout(99 * S, 105 * S))
        .as("a message taken before the hold began")
        .isFalse();
  }

  @Test
  void renewalsConfirmedInTimeContinueTheStretch() {
    timeline.renewed(100 * S, 100 * S);
    timeline.renewed(105 * S, 106 * S);
    timeline.renewed(112 * S, 113 * S);
    assertThat(timeline.heldThroughout(100 * S, 120 * S)).isTrue();
  }

  @Test
  void aRenewalConfirmedAfterTheHoldEndedStartsANewStretch() {
    timeline.renewed(100 * S, 100 * S);
    // sent in time, but its reply came after the hold ended (the process paused meanwhile): the
    // server may have run it late
    timeline.renewed(105 * S, 140 * S);
    assertThat(timeline.heldThroughout(100 * S, 110 * S)).as("taken in the old stretch").isFalse();
    assertThat(timeline.heldThroughout(105 * S, 110 * S)).as("taken in the new one").isTrue();
  }

  @Test
  void aRenewalAfterABreakIsReportedOnceAndTheBreakStays() {
    timeline.renewed(100 * S, 100 * S); // the take
    assertThat(timeline.renewedAfterABreak(100 * S, 103 * S, 104 * S)).as("in time").isFalse();
    assertThat(timeline.renewedAfterABreak(100 * S, 112 * S, 113 * S))
        .as("within the margin of the hold until 113 s")
        .isTrue();
    assertThat(timeline.renewedAfterABreak(100 * S, 115 * S, 116 * S)).as("once").isFalse();
    assertThat(timeline.heldThroughout(100 * S, 117 * S)).isFalse();
  }

  @Test
  void anOlderRenewalConfirmedLateDoesNotShortenTheHold() {
    timeline.renewed(100 * S, 100 * S);
    timeline.renewed(106 * S, 106 * S);
    timeline.renewed(103 * S, 107 * S); // a reply overtaken by a newer one
    assertThat(timeline.heldThroughout(100 * S, 114 * S)).isTrue();
  }

  @Test
  void aRenewalCanHoldForItsOwnTimeAndTheMarginHasAFloor() {
    timeline.renewed(100 * S, 100 * S, Duration.ofSeconds(2));
    assertThat(timeline.heldThroughout(100 * S, 100 * S + S / 2)).isTrue();
    assertThat(timeline.heldThroughout(100 * S, 101 * S + S / 2)).isFalse();
    assertThat(LeaseTimeline.margin(Duration.ofMillis(100))).isEqualTo(Duration.ofMillis(50));
  }

  @Test
  void aHoldOfNoTimeIsRefused() {
    assertThatThrownBy(() -> LeaseTimeline.of(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
