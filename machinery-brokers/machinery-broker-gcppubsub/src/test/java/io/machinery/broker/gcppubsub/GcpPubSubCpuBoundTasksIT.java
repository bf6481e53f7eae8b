package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.CpuBoundTasksKit;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * {@link CpuBoundTasksKit} on Pub/Sub (pstest) with results in Redis: Pub/Sub's shortest ack
 * deadline, 10 s, and tasks computing 12 s. The hold is the lease extension; a lapse shows as
 * messages a probe broker can pull ({@link GcpPubSubBroker#pendingTasks}, handed back at once)
 * while the tasks compute.
 */
class GcpPubSubCpuBoundTasksIT extends CpuBoundTasksKit {
  private static final String PROJECT = PubSubTestSupport.project();
  private @Nullable GcpPubSubBroker probe;

  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return PubSubTestSupport.broker(PubSubTestSupport.config(config, PROJECT)).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Override
  protected Duration defaultCompute() {
    return Duration.ofSeconds(12);
  }

  @Override
  protected long lapsedMessages(Config config) {
    if (probe == null) {
      probe = PubSubTestSupport.broker(PubSubTestSupport.config(config, PROJECT)).build();
    }
    return probe.pendingTasks(config.defaultQueue()).size();
  }

  @Override
  protected String holdFigures() {
    return "ack deadline 10 s";
  }

  @Override
  protected void cleanUp(Config config) throws Exception {
    if (probe != null) {
      probe.close();
      probe = null;
    }
    PubSubTestSupport.deleteProject(PROJECT);
  }
}
