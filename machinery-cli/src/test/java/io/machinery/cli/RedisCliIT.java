package io.machinery.cli;

import io.machinery.testkit.TestEndpoints;

/** The command end to end on Redis (broker, backend, the broker's control plane). */
class RedisCliIT extends UrlCliScenario {
  @Override
  String url() {
    return TestEndpoints.redisUrl();
  }
}
