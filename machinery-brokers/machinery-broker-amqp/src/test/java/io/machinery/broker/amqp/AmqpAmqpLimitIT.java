package io.machinery.broker.amqp;

import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.config.Config;
import io.machinery.lock.redis.RedisTaskLimiter;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.TaskLimiter;
import io.machinery.testkit.LimitSuite;
import io.machinery.testkit.TestEndpoints;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/**
 * Task limits and priorities with Go's all-AMQP setup, the limits kept in Redis (the broker is not
 * Redis, the limit is still cluster-wide). RabbitMQ's priority queue ({@code x-max-priority: 9}) is
 * strict: no share for lower priorities.
 */
class AmqpAmqpLimitIT extends LimitSuite {
  @Override
  protected Config baseConfig() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.amqpUrl())
        .build();
  }

  @Override
  protected Config priorityConfig(Config config) {
    return config.toBuilder()
        .amqp(config.amqp().withQueueDeclareArgs(Map.of("x-max-priority", 9)))
        .build();
  }

  @Override
  protected boolean sharesLowPriorities() {
    return false;
  }

  @Override
  protected Broker createBroker(Config config) {
    return AmqpBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return AmqpBackend.create(config);
  }

  @Override
  protected TaskLimiter createLimiter() {
    return RedisTaskLimiter.builder(config).url(TestEndpoints.redisUrl()).build();
  }

  @AfterEach
  void trackQueue() {
    RabbitAdmin.track(config.defaultQueue());
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }
}
