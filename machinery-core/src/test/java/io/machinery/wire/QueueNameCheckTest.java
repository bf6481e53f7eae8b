package io.machinery.wire;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import org.junit.jupiter.api.Test;

/** {@link WireCodec#checkQueueName}: the names a tool may read or change as a queue. */
class QueueNameCheckTest {
  private final Config config = Config.builder().build();

  @Test
  void ordinaryQueueNamesPass() {
    for (String queue :
        new String[] {"machinery_tasks", "emails.high", "é-queue", "a".repeat(255)}) {
      assertThatCode(() -> WireCodec.checkQueueName(queue, config)).doesNotThrowAnyException();
    }
  }

  @Test
  void keysThatAreNoQueueAreRefusedByName() {
    String delayed = config.redis().delayedTasksKey();
    for (String key :
        new String[] {
          "TriggerChordMutex",
          delayed,
          "task_0f8e4a52-1c3b-4d5e-8f90-123456789abc",
          "group_0f8e4a52-1c3b-4d5e-8f90-123456789abc",
          "0f8e4a52-1c3b-4d5e-8f90-123456789abc",
          "{machinery_tasks}:processing:w1"
        }) {
      assertThatThrownBy(() -> WireCodec.checkQueueName(key, config))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("queue")
          .hasMessageContaining(key)
          .hasMessageContaining("reserved key");
    }
  }

  @Test
  void emptyLongAndControlCharacterNamesAreRefused() {
    assertThatThrownBy(() -> WireCodec.checkQueueName("", config))
        .hasMessage("a queue name cannot be empty");
    assertThatThrownBy(() -> WireCodec.checkQueueName("q".repeat(256), config))
        .hasMessageStartingWith("queue of 256 bytes is longer than 255");
    assertThatThrownBy(() -> WireCodec.checkQueueName("a\u001b[2Jb", config))
        .hasMessageContaining("contains a control character");
  }

  @Test
  void theConfiguredDelayedKeyIsTheOneReserved() {
    Config other =
        Config.builder().redis(RedisConfig.DEFAULT.withDelayedTasksKey("my_delayed")).build();
    assertThatThrownBy(() -> WireCodec.checkQueueName("my_delayed", other))
        .hasMessageContaining("reserved key");
  }
}
