package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class RedisKeysTest {
  @Test
  void aTaggedKeyLandsInTheSlotOfItsOwner() {
    for (String queue :
        List.of(
            "machinery_tasks", "{app}tasks", "a{b}c", "{}x", "x{", "a}b", "}{", "é-queue", "q:1")) {
      assertThat(RedisKeys.slot(RedisKeys.tagged(queue, "processing:w1-abc")))
          .as(queue)
          .isEqualTo(RedisKeys.slot(queue));
    }
  }

  @Test
  void theTagOfAKeyIsWhatRedisClusterHashes() {
    assertThat(RedisKeys.hashTag("machinery_tasks")).isEqualTo("machinery_tasks");
    assertThat(RedisKeys.hashTag("{app}tasks")).isEqualTo("app");
    assertThat(RedisKeys.hashTag("{}tasks")).isEqualTo("{}tasks");
    assertThat(RedisKeys.tagged("machinery_tasks", "dead_letters"))
        .isEqualTo("{machinery_tasks}:dead_letters");
  }

  @Test
  void aNameWhoseHashedPartHasABraceGetsAStandInTagOfTheSameSlot() {
    assertThat(RedisKeys.tagged("a}b", "consumers")).startsWith("{~").endsWith("}:consumers");
    assertThat(RedisKeys.tagged("a}b", "x")).isEqualTo(RedisKeys.tagged("a}b", "x"));
  }
}
