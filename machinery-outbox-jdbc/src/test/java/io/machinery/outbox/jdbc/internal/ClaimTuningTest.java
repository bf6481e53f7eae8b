package io.machinery.outbox.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The bounds a claim derives from its tuning and the senders a pass may claim. */
class ClaimTuningTest {
  @Test
  void theRelaysClaimListsTwiceItsSendersAtLeast32() {
    ClaimTuning relay = ClaimTuning.DEFAULT;

    assertThat(relay.listingBound(1)).isEqualTo(32);
    assertThat(relay.listingBound(16)).isEqualTo(32);
    assertThat(relay.listingBound(100)).isEqualTo(200);
  }

  @Test
  void theListingOnlyClaimListsEverySenderWithoutOverflowingTheListingsLimit() {
    int bound = ClaimTuning.LISTING_ONLY.listingBound(Integer.MAX_VALUE);

    assertThat(bound).isEqualTo(Integer.MAX_VALUE - 1);
    assertThat(bound + 1).isPositive(); // the listing asks for one more than its bound
  }

  @Test
  void valuesBelowOneAreRefusedByName() {
    assertThatThrownBy(() -> new ClaimTuning(32, 0, 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("groupingCost");
  }
}
