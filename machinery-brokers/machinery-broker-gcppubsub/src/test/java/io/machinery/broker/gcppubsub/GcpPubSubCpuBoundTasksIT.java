package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.CpuBoundTasksKit;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link CpuBoundTasksKit} on Pub/Sub (pstest) with results in Redis: Pub/Sub's shortest ack
 * deadline, 10 s, and tasks computing 12 s. The hold is the lease extension; a lapse shows as
 * messages a probe broker can pull ({@link GcpPubSubBroker#pendingTasks}, handed back at once)
 * while the tasks compute.
 */
class GcpPubSubCpuBoundTasksIT extends CpuBoundTasksKit {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();
  private @Nullable GcpPubSubBroker probe;

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
  protected Duration defaultCompute() {
    return Duration.ofSeconds(12);
  }

  @Override
  protected long lapsedMessages(Config config) {
    if (probe == null) {
      probe = pubsub.broker(config);
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
    PubSubProjects.delete(pubsub.name());
  }
}
