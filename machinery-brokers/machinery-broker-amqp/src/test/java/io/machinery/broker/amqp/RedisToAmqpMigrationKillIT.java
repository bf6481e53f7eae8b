package io.machinery.broker.amqp;

import io.machinery.MigratingBroker;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.TestEndpoints;
import io.machinery.testkit.WorkerKillKit;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link WorkerKillKit} halfway through a move from Redis to RabbitMQ: the queue is filled half in
 * each broker (as by producers moved and not yet moved), two worker processes on a {@link
 * MigratingBroker} drain both, and one is killed: what it held comes back from each broker (a
 * lapsed Redis lease, a closed AMQP connection) and every task runs.
 */
class RedisToAmqpMigrationKillIT extends WorkerKillKit {
  RedisToAmqpMigrationKillIT() {
    super(new MigratingChildWorkers());
  }

  /** The child workers' deployment; the test's own sends alternate between the two brokers. */
  private static final class MigratingChildWorkers implements ChildWorkerDeployment {
    @Override
    public Config uniqueConfig(String queuePrefix) {
      return BrokerContract.uniqueQueue(
          Config.builder()
              .broker(TestEndpoints.amqpUrl())
              .migrateFromBroker(TestEndpoints.redisUrl())
              .resultBackend(TestEndpoints.redisUrl())
              .build(),
          queuePrefix);
    }

    @Override
    public Broker createBroker(Config config) {
      RabbitAdmin.track(config.defaultQueue());
      return new HalfInEach(
          RedisBroker.create(config.toBuilder().broker(TestEndpoints.redisUrl()).build()),
          AmqpBroker.create(config));
    }

    @Override
    public Backend createBackend(Config config) {
      return RedisBackend.create(config);
    }

    @Override
    public Class<?> childMain() {
      return MigratingChildWorkerMain.class;
    }

    @Override
    public String[] childArgs(Config config, Path executions) {
      return new String[] {
        config.broker(),
        config.defaultQueue(),
        "10",
        executions.toString(),
        TestEndpoints.redisUrl()
      };
    }

    @Override
    public void cleanUp(Config config) throws Exception {
      RabbitAdmin.deleteTracked();
    }
  }

  /**
   * The test's sender, standing for two groups of producers: every other task goes to the old
   * broker (a producer not yet moved), the rest to the new one; it consumes nothing.
   */
  private static final class HalfInEach implements Broker {
    private final Broker old;
    private final Broker fresh;
    private final AtomicLong sent = new AtomicLong();

    HalfInEach(Broker old, Broker fresh) {
      this.old = old;
      this.fresh = fresh;
    }

    @Override
    public void publish(Signature signature, byte[] message) {
      (sent.getAndIncrement() % 2 == 0 ? old : fresh).publish(signature, message);
    }

    @Override
    public String routingKeyFor(Signature signature) {
      return fresh.routingKeyFor(signature); // the queue's name on both (uniqueQueue)
    }

    @Override
    public Consumption startConsuming(String consumerTag, String queue, DeliveryHandler handler) {
      throw new UnsupportedOperationException("the test's sender consumes nothing");
    }

    @Override
    public List<Signature> pendingTasks(String queue) {
      throw new UnsupportedOperationException();
    }

    @Override
    public List<Signature> delayedTasks() {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
      try {
        fresh.close();
      } finally {
        old.close();
      }
    }
  }
}
