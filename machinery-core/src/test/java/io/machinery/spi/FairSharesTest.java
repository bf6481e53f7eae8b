package io.machinery.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Signature;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FairSharesTest {
  @Test
  void withKKeysEveryKPlusFirstTurnIsTheUnkeyedOnes() {
    List<Long> unkeyed = new ArrayList<>();
    for (long turn = 0; turn < 12; turn++) {
      if (FairShares.unkeyedTurn(turn, 3)) {
        unkeyed.add(turn);
      }
    }
    assertThat(unkeyed).containsExactly(3L, 7L, 11L);
    assertThat(FairShares.unkeyedTurn(0, 1)).isFalse();
    assertThat(FairShares.unkeyedTurn(1, 1)).isTrue();
  }

  @Test
  void aKeyIsAStringThatIsNotBlankAndNotTooLong() {
    assertThat(FairShares.keyOf(Signature.builder("t").fairnessKey("tenant-1").build()))
        .isEqualTo("tenant-1");
    assertThat(FairShares.keyOf(Signature.builder("t").build())).isNull();
    assertThat(
            FairShares.keyOf(
                Signature.builder("t")
                    .headers(Map.of(Signature.FAIRNESS_KEY_HEADER, 42L)) // a Go producer's number
                    .build()))
        .isNull();
    assertThat(FairShares.usable(" ")).isNull();
    assertThat(FairShares.usable("k".repeat(FairShares.MAX_KEY_LENGTH))).isNotNull();
    assertThat(FairShares.usable("k".repeat(FairShares.MAX_KEY_LENGTH + 1))).isNull();
  }

  @Test
  void theBuilderRefusesAKeyThatWouldBeIgnored() {
    assertThatThrownBy(() -> Signature.builder("t").fairnessKey(" "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("blank");
    assertThatThrownBy(() -> Signature.builder("t").fairnessKey("k".repeat(300)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("300 characters");
  }
}
