package io.machinery.interop;

import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.broker.sqs.SqsBroker;
import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.TestEndpoints;

/** A broker × result backend combination both languages are tested on. */
enum Pair {
  REDIS_REDIS(Kind.REDIS, Kind.REDIS),
  AMQP_AMQP(Kind.AMQP, Kind.AMQP),
  AMQP_REDIS(Kind.AMQP, Kind.REDIS),
  SQS_REDIS(Kind.SQS, Kind.REDIS),
  SQS_DYNAMODB(Kind.SQS, Kind.DYNAMODB);

  enum Kind {
    REDIS,
    AMQP,
    SQS,
    DYNAMODB;

    String url() {
      return switch (this) {
        case REDIS -> TestEndpoints.redisUrl();
        case AMQP -> TestEndpoints.amqpUrl();
        case SQS -> TestEndpoints.sqsUrl();
        case DYNAMODB -> TestEndpoints.dynamoDbEndpoint();
      };
    }
  }

  final Kind broker;
  final Kind backend;

  Pair(Kind broker, Kind backend) {
    this.broker = broker;
    this.backend = backend;
  }

  /** {@code redis_redis}, {@code amqp_amqp}, {@code amqp_redis}: part of queue names. */
  String id() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  Broker createBroker(Config config) {
    return switch (broker) {
      case REDIS -> RedisBroker.create(config);
      case SQS -> SqsBroker.create(config); // InteropQueue creates the queues, as Go expects them to exist
      default -> AmqpBroker.create(config);
    };
  }

  Backend createBackend(Config config) {
    return switch (backend) {
      case REDIS -> RedisBackend.create(config);
      case DYNAMODB -> DynamoDbBackend.create(config); // Go's default tables, created by InteropQueue
      default -> AmqpBackend.create(config);
    };
  }
}
