package io.machinery.broker.sqs;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.ControlSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/**
 * The control features on the SQS broker (ElasticMQ) with the Redis backend, whose control plane
 * carries pauses and cancellations between the servers of a test.
 */
class SqsRedisControlIT extends ControlSuite {
  @Override
  protected Config baseConfig() {
    return SqsTestQueues.config().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsTestQueues.broker(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @AfterEach
  void trackQueue() {
    SqsTestQueues.track(config.defaultQueue());
  }

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }
}
