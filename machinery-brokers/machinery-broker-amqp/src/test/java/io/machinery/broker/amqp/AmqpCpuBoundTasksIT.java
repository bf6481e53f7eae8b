package io.machinery.broker.amqp;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.CpuBoundTasksKit;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * {@link CpuBoundTasksKit} on RabbitMQ with results in Redis: a 2 s connection heartbeat and tasks
 * computing 5 s. The hold is the consumer connection (RabbitMQ requeues every unacknowledged
 * message of a connection that missed two heartbeat frames, sent every half of the timeout, so
 * about 2 s after its frames stop); a lapse shows as ready messages in the queue while the tasks
 * compute. A heartbeat starved behind the computing tasks stops for at least a whole computation, 5
 * s, and the two waves of tasks on 2 cores starve it for 10; 2 s rather than 1 doubles the stall of
 * the test JVM on a loaded host that counts as one (as the SQS version met, see {@code
 * SqsCpuBoundTasksIT}).
 */
class AmqpCpuBoundTasksIT extends CpuBoundTasksKit {
  private @Nullable RabbitAdmin admin;

  @Override
  protected Config baseConfig() {
    String url = TestEndpoints.amqpUrl();
    return Config.builder()
        .broker(url + (url.contains("?") ? "&" : "?") + "heartbeat=2")
        .resultBackend(TestEndpoints.redisUrl())
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    RabbitAdmin.track(config.defaultQueue());
    return AmqpBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Override
  protected Duration defaultCompute() {
    return Duration.ofSeconds(5);
  }

  @Override
  protected long lapsedMessages(Config config) throws Exception {
    if (admin == null) {
      admin = RabbitAdmin.connect();
    }
    return Math.max(0, admin.messageCount(config.defaultQueue()));
  }

  @Override
  protected String holdFigures() {
    return "connection heartbeat 2 s";
  }

  @Override
  protected void cleanUp(Config config) throws Exception {
    if (admin != null) {
      admin.close();
      admin = null;
    }
    RabbitAdmin.deleteTracked();
  }
}
