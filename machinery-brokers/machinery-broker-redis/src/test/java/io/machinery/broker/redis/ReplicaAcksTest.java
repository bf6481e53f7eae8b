package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The rule of {@link RedisBroker.Builder#replicaAcks}, the config's ({@link
 * RedisConfig#checkReplicaAcks}): 0 replicas for off, never negative; when on, at least 1 ms.
 */
class ReplicaAcksTest {
  private final RedisBroker.Builder builder = RedisBroker.builder(Config.builder().build());

  @Test
  void refusesANegativeNumberOfReplicasAndTakesZeroAsOff() {
    assertThatThrownBy(() -> builder.replicaAcks(-1, Duration.ofMillis(100)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("RedisConfig.replicaAcks must not be negative");
    assertThatCode(() -> builder.replicaAcks(0, Duration.ZERO)).doesNotThrowAnyException();
  }

  @Test
  void asksForATimeoutOfAtLeastOneMillisecondWhenOn() {
    for (Duration timeout : new Duration[] {Duration.ZERO, Duration.ofNanos(999_999)}) {
      assertThatThrownBy(() -> builder.replicaAcks(1, timeout))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("must be at least 1 ms when RedisConfig.replicaAcks")
          .hasMessageContaining("REDIS_REPLICA_ACK_TIMEOUT");
    }
    assertThatThrownBy(() -> builder.replicaAcks(1, Duration.ofMillis(-5)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.replicaAcks(0, Duration.ofMillis(-5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("RedisConfig.replicaAckTimeout must not be negative");
  }
}
