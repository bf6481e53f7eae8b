package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.embedded.MemoryControlPlane;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.BreakerWindow;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The memory control plane passes the contract. */
class MemoryControlPlaneTest extends ControlPlaneContract {
  @Override
  protected ControlPlane createControlPlane() {
    return MemoryControlPlane.create(Clock.systemUTC());
  }

  /** Past its bound the least recently counted key's window is forgotten. */
  @Test
  void clusterBreakerWindowsAreBounded() {
    BreakerWindow window = new BreakerWindow(2, 2, 1.0, Duration.ofMinutes(1));
    boolean[] failed = {true};
    assertThat(plane.countBreakerRuns("first", failed, window, "w")).isNull();
    for (int i = 0; i < MemoryControlPlane.MAX_BREAKER_WINDOWS; i++) {
      plane.countBreakerRuns("key-" + i, failed, window, "w");
    }
    assertThat(plane.countBreakerRuns("first", failed, window, "w"))
        .as("its first failure was forgotten: one of one kept, under the minimum of 2")
        .isNull();
    assertThat(plane.countBreakerRuns("key-1", failed, window, "w"))
        .as("a key still kept opens with its second failure")
        .isNotNull();
  }
}
