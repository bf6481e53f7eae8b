package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The rule of {@link RedisBroker.Builder#replicaAcks}: at least one replica, at least 1 ms. */
class ReplicaAcksTest {
  private final RedisBroker.Builder builder = RedisBroker.builder(Config.builder().build());

  @Test
  void asksForAtLeastOneReplica() {
    assertThatThrownBy(() -> builder.replicaAcks(0, Duration.ofMillis(100)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("replicaAcks needs at least 1 replica to acknowledge each send, was 0");
  }

  @Test
  void asksForATimeoutOfAtLeastOneMillisecond() {
    for (Duration timeout : new Duration[] {Duration.ZERO, Duration.ofNanos(999_999)}) {
      assertThatThrownBy(() -> builder.replicaAcks(1, timeout))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("replicaAcks needs a timeout of at least 1 ms");
    }
    assertThatThrownBy(() -> builder.replicaAcks(1, Duration.ofMillis(-5)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
