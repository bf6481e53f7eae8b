package io.machinery.broker.sqs;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/** Go's integration scenarios on the SQS broker (ElasticMQ) with results in Redis. */
class SqsRedisAcceptanceIT extends AcceptanceSuite {
  @Override
  protected Config baseConfig() {
    return SqsTestQueues.config().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return SqsTestQueues.broker(config);
  }

  /** ElasticMQ serves the oldest waiting receive: see the capability's note. */
  @Override
  protected boolean mayKeepReturningATaskToTheWorkerThatHandedItBack() {
    return true;
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
