package io.machinery.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class FairLanesTest {
  /** A message: its name, and its key ("u..." names have none). */
  private static @Nullable String keyOf(String name) {
    return name.startsWith("u") ? null : name.substring(0, 1);
  }

  private static FairLanes<String> lanes(String... names) {
    FairLanes<String> lanes = new FairLanes<>(name -> 0, FairLanesTest::keyOf);
    for (String name : names) {
      lanes.addLast(name);
    }
    return lanes;
  }

  private static List<String> drain(FairLanes<String> lanes) {
    List<String> taken = new ArrayList<>();
    for (String next = lanes.pollFirst(); next != null; next = lanes.pollFirst()) {
      taken.add(next);
    }
    return taken;
  }

  @Test
  void waitingKeysTakeTurnsAndTheUnkeyedTasksGetEveryKeysPlusFirstTurn() {
    FairLanes<String> lanes =
        lanes("a0", "a1", "a2", "a3", "a4", "b0", "c0", "c1", "c2", "u0", "u1");
    assertThat(lanes.size()).isEqualTo(11);
    assertThat(lanes.keyCounts(10))
        .containsExactly(
            java.util.Map.entry("a", 5L),
            java.util.Map.entry("b", 1L),
            java.util.Map.entry("c", 3L));
    // three keys: a, b, c, then the unkeyed turn; b is done, so two keys: c, a, unkeyed; ...
    assertThat(drain(lanes))
        .containsExactly("a0", "b0", "u0", "c0", "a1", "u1", "c1", "a2", "c2", "a3", "a4");
    assertThat(lanes.isEmpty()).isTrue();
    assertThat(lanes.keyCounts(10)).isEmpty();
  }

  @Test
  void aMessageGivenBackGoesToTheHeadOfItsLaneAndAKeyThatEmptiedJoinsAgainAtTheEnd() {
    FairLanes<String> lanes = lanes("a0", "a1", "b0");
    String first = lanes.pollFirst();
    assertThat(first).isEqualTo("a0");
    lanes.addFirst(first); // given back: before a1
    assertThat(lanes.snapshot()).containsExactly("b0", "a0", "a1"); // turn order: b, then a
    assertThat(lanes.pollFirst()).isEqualTo("b0");
    lanes.addLast("b1"); // b's lane had emptied: b waits behind a
    assertThat(drain(lanes)).containsExactly("a0", "b1", "a1");
  }

  @Test
  void aWeightedKeyTakesThatManyInARowAndItsWeightOutlivesItsLane() {
    FairLanes<String> lanes = lanes("a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2");
    lanes.setWeight("a", 2);
    // a takes two in a row, b one; a's last turn ends early when its lane empties
    assertThat(drain(lanes)).containsExactly("a0", "a1", "b0", "a2", "a3", "b1", "a4", "b2");
    assertThat(lanes.weights()).containsExactly(java.util.Map.entry("a", 2));

    lanes.clear();
    lanes.addLast("b3");
    lanes.addLast("a5");
    lanes.addLast("a6");
    lanes.addLast("a7");
    assertThat(drain(lanes)).containsExactly("b3", "a5", "a6", "a7");
    lanes.setWeight("a", 1);
    assertThat(lanes.weights()).isEmpty();
  }

  @Test
  void withoutKeysItIsThePriorityQueueItWas() {
    FairLanes<String> lanes = new FairLanes<>(name -> name.startsWith("u9") ? 9 : 0, n -> null);
    for (String name : List.of("u0", "u1", "u9a", "u2")) {
      lanes.addLast(name);
    }
    assertThat(drain(lanes)).containsExactly("u9a", "u0", "u1", "u2");
    lanes.addLast("u3");
    lanes.clear();
    assertThat(lanes.isEmpty()).isTrue();
  }
}
