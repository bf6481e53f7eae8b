package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.lock.redis.RedisTaskLimiter;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.TaskLimiter;
import io.machinery.testkit.LimitSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Task limits and priorities on the Pub/Sub broker (emulator) with results in Redis and the limits
 * kept in Redis: the broker is not Redis, the limit is still cluster-wide.
 */
class GcpPubSubRedisLimitIT extends LimitSuite {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();

  @Override
  protected Config baseConfig() {
    return PubSubTestProject.redisResults();
  }

  @Override
  protected Broker createBroker(Config config) {
    return pubsub.broker(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Override
  protected TaskLimiter createLimiter() {
    return RedisTaskLimiter.builder(config).url(TestEndpoints.redisUrl()).build();
  }

  /**
   * Pub/Sub has no priorities (a subscription delivers in no set order), and Go's Pub/Sub broker
   * ignores {@code Priority} too. Prioritized tasks still run.
   */
  @Override
  protected boolean honoursPriority() {
    return false;
  }

  /**
   * Pub/Sub keeps no publish order without ordering keys, which Go's broker does not set; the
   * consumer orders each pull by publish time, but a pull need not hold the oldest messages.
   */
  @Override
  protected boolean keepsFifoOrder() {
    return false;
  }

  /** Pub/Sub's API has no message counts (Cloud Monitoring has them; the emulator none). */
  @Override
  protected boolean countsSizes() {
    return false;
  }
}
