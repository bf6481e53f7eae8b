package io.machinery.benchmarks.outside;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class TableTest {
  private static Table.Cells enqueue(double rate) {
    return new Table.Cells(rate, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  }

  @Test
  void theMedianOfAnOddNumberOfRoundsIsTheMiddleOne() {
    assertThat(Table.median(List.of(enqueue(30), enqueue(10), enqueue(20)), Table.Cells::enqueue))
        .isEqualTo(20);
  }

  @Test
  void theMedianOfAnEvenNumberOfRoundsIsTheMeanOfTheMiddleTwo() {
    // two rounds once reported the faster one as the median
    assertThat(Table.median(List.of(enqueue(7_547), enqueue(6_053)), Table.Cells::enqueue))
        .isEqualTo(6_800);
    assertThat(
            Table.median(
                List.of(enqueue(4), enqueue(1), enqueue(3), enqueue(2)), Table.Cells::enqueue))
        .isEqualTo(2.5);
  }

  @Test
  void aFigureNoRoundReportedStaysMissing() {
    // the Go programs report no JIT time: NaN, printed as "-"
    assertThat(
            Table.median(List.of(enqueue(Double.NaN), enqueue(Double.NaN)), Table.Cells::enqueue))
        .isNaN();
  }
}
