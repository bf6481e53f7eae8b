package io.machinery.broker.redis;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.CpuBoundTasksKit;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * {@link CpuBoundTasksKit} on Redis, at the figures: tasks computing 20 s against the
 * default 15 s lease. The hold is the computing worker's lease, whose time to live is sampled: it
 * must never run out (its heartbeats run on a platform thread), and the second worker's
 * maintenance, which would reap an expired lease, must find nothing.
 */
class CpuBoundTasksIT extends CpuBoundTasksKit {
  private @Nullable RedisSession redis;
  private @Nullable String leaseKey;
  private long shortestTtl = Long.MAX_VALUE;

  @Override
  protected Config baseConfig() {
    String url = TestEndpoints.redisUrl();
    return Config.builder().broker(url).resultBackend(url).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Override
  protected Duration defaultCompute() {
    return Duration.ofSeconds(20);
  }

  /** 1 once the computing worker's lease (the first consumer seen on the queue) is gone. */
  @Override
  protected long lapsedMessages(Config config) {
    RedisSession session = session(config);
    if (leaseKey == null) {
      var consumers =
          session.await(session.commands().smembers("{" + config.defaultQueue() + "}:consumers"));
      if (consumers.isEmpty()) {
        return 0;
      }
      String id = new String(consumers.iterator().next(), StandardCharsets.UTF_8);
      leaseKey = "{" + config.defaultQueue() + "}:lease:" + id;
    }
    long ttl = session.await(session.commands().pttl(leaseKey));
    if (ttl < 0) {
      return 1;
    }
    shortestTtl = Math.min(shortestTtl, ttl);
    return 0;
  }

  @Override
  protected String holdFigures() {
    return "lease "
        + RedisBroker.DEFAULT_LEASE_TIMEOUT.toMillis()
        + " ms, shortest time to live seen "
        + shortestTtl
        + " ms";
  }

  private RedisSession session(Config config) {
    if (redis == null) {
      redis = RedisSession.open(config.broker(), config);
    }
    return redis;
  }

  @Override
  protected void cleanUp(Config config) {
    RedisSession session = session(config);
    try {
      List<String> keys =
          new ArrayList<>(
              session.await(session.commands().keys("{" + config.defaultQueue() + "}:*")));
      keys.add(config.defaultQueue());
      session.await(session.commands().del(keys.toArray(new String[0])));
    } finally {
      session.close();
      redis = null;
    }
  }
}
