package io.machinery.dashboard;

import io.machinery.Server;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.util.List;

/**
 * The browser scenario on RabbitMQ: an AMQP broker (sizes from queue.declare-passive, pending tasks
 * peeked without consuming, delayed ones found in Go's delay queues through the management API)
 * with a Redis result backend, whose control plane lists the workers and keeps the pauses. The
 * exchange is this test's own, so the overview's binding listing stays small on the shared
 * RabbitMQ, and the queue is its binding key, so no other test's tasks reach it.
 */
class DashboardAmqpBrowserIT extends DashboardBrowserScenario {
  private static final String EXCHANGE = "machinery_dashboard_it";

  @Override
  Deployment deploy(String queue) {
    Config config =
        Config.builder()
            .broker(TestEndpoints.amqpUrl())
            .resultBackend(TestEndpoints.redisUrl())
            .defaultQueue(queue)
            .amqp(AmqpConfig.builder().exchange(EXCHANGE).bindingKey(queue).build())
            .build();
    AmqpBroker broker = AmqpBroker.create(config);
    RedisBackend backend = RedisBackend.create(config);
    return new Deployment(
        Server.builder().config(config).broker(broker).backend(backend).build(),
        List.of(broker, backend));
  }
}
