package io.machinery.broker.amqp;

import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Path;

/**
 * The kill tests' deployment on RabbitMQ: AMQP broker and backend (or the Redis backend: {@link
 * #withRedisBackend}), {@link ChildWorkerMain} at concurrency 10 in the child JVMs; the queues are
 * deleted afterwards.
 */
final class AmqpChildWorkers implements ChildWorkerDeployment {
  private final boolean redisBackend;

  AmqpChildWorkers() {
    this(false);
  }

  private AmqpChildWorkers(boolean redisBackend) {
    this.redisBackend = redisBackend;
  }

  /** The AMQP broker with the Redis backend of {@code REDIS_URL}. */
  static AmqpChildWorkers withRedisBackend() {
    return new AmqpChildWorkers(true);
  }

  @Override
  public Config uniqueConfig(String queuePrefix) {
    String url = TestEndpoints.amqpUrl();
    return BrokerContract.uniqueQueue(
        Config.builder()
            .broker(url)
            .resultBackend(redisBackend ? TestEndpoints.redisUrl() : url)
            .build(),
        queuePrefix);
  }

  @Override
  public Broker createBroker(Config config) {
    RabbitAdmin.track(config.defaultQueue());
    return AmqpBroker.create(config);
  }

  @Override
  public Backend createBackend(Config config) {
    return redisBackend ? RedisBackend.create(config) : AmqpBackend.create(config);
  }

  @Override
  public Class<?> childMain() {
    return ChildWorkerMain.class;
  }

  @Override
  public String[] childArgs(Config config, Path executions) {
    return new String[] {
      config.broker(), config.defaultQueue(), "10", executions.toString(), config.resultBackend()
    };
  }

  @Override
  public void cleanUp(Config config) throws Exception {
    RabbitAdmin.deleteTracked();
  }
}
