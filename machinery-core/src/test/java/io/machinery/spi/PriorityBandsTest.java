package io.machinery.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PriorityBandsTest {
  private static boolean[] nonEmpty(int... bands) {
    boolean[] b = new boolean[PriorityBands.BANDS];
    for (int band : bands) {
      b[band] = true;
    }
    return b;
  }

  @Test
  void bandsCapAtNineAsRabbitMqDoesWithMaxPriorityNine() {
    assertThat(PriorityBands.band(0)).isZero();
    assertThat(PriorityBands.band(5)).isEqualTo(5);
    assertThat(PriorityBands.band(9)).isEqualTo(9);
    assertThat(PriorityBands.band(255)).isEqualTo(9);
  }

  @Test
  void everyTenthTakeGoesToALowerBandRoundRobin() {
    List<Integer> chosen = new ArrayList<>();
    for (long take = 0; take < 40; take++) {
      chosen.add(PriorityBands.choose(take, nonEmpty(0, 4, 9)));
    }
    assertThat(chosen.stream().filter(b -> b == 9)).hasSize(36);
    assertThat(chosen.get(9)).isZero();
    assertThat(chosen.get(19)).isEqualTo(4);
    assertThat(chosen.get(29)).isZero();
    assertThat(chosen.get(39)).isEqualTo(4);
  }

  @Test
  void oneBandInUseIsPlainFifoAndNothingGivesMinusOne() {
    for (long take = 0; take < 20; take++) {
      assertThat(PriorityBands.choose(take, nonEmpty(3))).isEqualTo(3);
    }
    assertThat(PriorityBands.choose(9, nonEmpty())).isEqualTo(-1);
  }
}
