package io.machinery.backend.redis;

import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.testkit.ControlPlaneContract;
import io.machinery.testkit.TestEndpoints;

/**
 * The control-plane contract through {@link RedisBackend#controlPlane()} (a server whose broker
 * keeps none).
 */
class RedisBackendControlPlaneIT extends ControlPlaneContract {
  private RedisBackend backend;

  @Override
  protected ControlPlane createControlPlane() {
    backend = RedisBackend.create(Config.builder().resultBackend(TestEndpoints.redisUrl()).build());
    return backend.controlPlane().orElseThrow();
  }

  @Override
  protected void closeControlPlane() {
    if (backend != null) {
      backend.close();
    }
  }
}
