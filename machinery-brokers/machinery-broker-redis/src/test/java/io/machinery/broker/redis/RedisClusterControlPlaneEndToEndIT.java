package io.machinery.broker.redis;

import io.machinery.testkit.TestEndpoints;

/** {@link RedisControlPlaneEndToEndIT} against the 3-master Redis Cluster. */
class RedisClusterControlPlaneEndToEndIT extends RedisControlPlaneEndToEndIT {
  @Override
  protected String url() {
    return TestEndpoints.redisClusterUrl();
  }
}
