package io.machinery.client.redis;

import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.testkit.ControlPlaneContract;
import io.machinery.testkit.TestEndpoints;

/** The control-plane contract against a single Redis server. */
class RedisControlPlaneIT extends ControlPlaneContract {
  private RedisSession session;

  protected String url() {
    return TestEndpoints.redisUrl();
  }

  @Override
  protected ControlPlane createControlPlane() {
    session = RedisSession.open(url(), Config.builder().broker(url()).build());
    return RedisControlPlane.create(session, RedisControlPlane.DEFAULT_KEY_PREFIX);
  }

  @Override
  protected void closeControlPlane() {
    if (session != null) {
      session.close();
    }
  }
}
