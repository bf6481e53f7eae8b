package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class RedisArgsTest {
  @Test
  void instantsAreGosUnixNanoAndOverflowIsAnErrorNotAWrongScore() {
    assertThat(RedisArgs.unixNanos(Instant.parse("2026-11-27T11:36:15.389091187Z")))
        .isEqualTo(1_795_779_375_389_091_187L);
    assertThat(RedisArgs.unixNanos(Instant.EPOCH.minusNanos(1))).isEqualTo(-1L);
    assertThatThrownBy(() -> RedisArgs.unixNanos(Instant.parse("2263-01-01T00:00:00Z")))
        .isInstanceOf(ArithmeticException.class);
  }

  @Test
  void textIsUtf8() {
    assertThat(RedisArgs.bytes("é")).containsExactly((byte) 0xc3, (byte) 0xa9);
  }
}
