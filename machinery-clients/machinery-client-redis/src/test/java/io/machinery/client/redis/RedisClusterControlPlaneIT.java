package io.machinery.client.redis;

import io.machinery.testkit.TestEndpoints;

/** The control-plane contract against the 3-master Redis Cluster. */
class RedisClusterControlPlaneIT extends RedisControlPlaneIT {
  @Override
  protected String url() {
    return TestEndpoints.redisClusterUrl();
  }
}
