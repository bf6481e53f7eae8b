package io.machinery.testkit;

import io.machinery.embedded.MemoryControlPlane;
import io.machinery.spi.ControlPlane;
import java.time.Clock;

/** The memory control plane passes the contract. */
class MemoryControlPlaneTest extends ControlPlaneContract {
  @Override
  protected ControlPlane createControlPlane() {
    return MemoryControlPlane.create(Clock.systemUTC());
  }
}
