package io.machinery.wire;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import org.junit.jupiter.api.Test;

/** {@link WireCodec#checkTaskId}: the ids a tool may read or change as a task's. */
class TaskIdCheckTest {
  private final Config strict = Config.builder().strictUuids(true).build();

  @Test
  void everyIdATaskCanHavePassesInEitherMode() {
    for (String id :
        new String[] {
          "task_0f8e4a52-1c3b-4d5e-8f90-123456789abc",
          "chord_0f8e4a52-1c3b-4d5e-8f90-123456789abc",
          "0f8e4a52-1c3b-4d5e-8f90-123456789abc",
          "order-42-charge",
          "x".repeat(256)
        }) {
      assertThatCode(() -> WireCodec.checkTaskId(id, strict)).doesNotThrowAnyException();
      assertThatCode(() -> WireCodec.checkTaskId(id, Config.DEFAULT)).doesNotThrowAnyException();
    }
  }

  @Test
  void keysThatAreNoTaskStateAreRefusedByName() {
    for (String key :
        new String[] {
          "TriggerChordMutex",
          strict.redis().delayedTasksKey(),
          strict.defaultQueue(),
          "{machinery_tasks}:processing:w1"
        }) {
      assertThatThrownBy(() -> WireCodec.checkTaskId(key, strict))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(key)
          .hasMessageContaining("reserved key");
    }
    assertThatThrownBy(
            () -> WireCodec.checkTaskId("group_0f8e4a52-1c3b-4d5e-8f90-123456789abc", strict))
        .hasMessageContaining("names a group, not a task");
  }

  @Test
  void emptyLongAndBlankOrControlCharacterIdsAreRefused() {
    assertThatThrownBy(() -> WireCodec.checkTaskId("", strict))
        .hasMessage("a task id cannot be empty");
    assertThatThrownBy(() -> WireCodec.checkTaskId("x".repeat(257), strict))
        .hasMessageStartingWith("UUID of 257 characters is longer than 256");
    assertThatThrownBy(() -> WireCodec.checkTaskId("a b", strict))
        .hasMessageContaining("contains whitespace or a control character");
    assertThatThrownBy(() -> WireCodec.checkTaskId("a\u001b[2Jb", strict))
        .hasMessageContaining("contains whitespace or a control character");
  }
}
