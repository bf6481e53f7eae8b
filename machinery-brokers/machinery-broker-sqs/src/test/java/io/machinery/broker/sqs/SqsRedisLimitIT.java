package io.machinery.broker.sqs;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.lock.redis.RedisTaskLimiter;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.TaskLimiter;
import io.machinery.testkit.LimitSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;

/**
 * Task limits and priorities on the SQS broker (ElasticMQ) with results in Redis and the limits
 * kept in Redis: the broker is not Redis, the limit is still cluster-wide.
 */
class SqsRedisLimitIT extends LimitSuite {
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

  @Override
  protected TaskLimiter createLimiter() {
    return RedisTaskLimiter.builder(config).url(TestEndpoints.redisUrl()).build();
  }

  /**
   * SQS has no priorities: a queue is one queue, and Go's SQS broker ignores {@code Priority} too.
   * Prioritized tasks still run, in the queue's order.
   */
  @Override
  protected boolean honoursPriority() {
    return false;
  }

  // keepsFifoOrder stays true: ElasticMQ hands a standard queue's messages out in order. AWS's
  // standard queues promise only best-effort order (FIFO queues keep it).

  /** SQS cannot list a queue's messages without receiving them (hiding them from workers). */
  @Override
  protected boolean listsPending() {
    return false;
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
