package io.machinery.interop;

import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.backend.memcache.MemcacheBackend;
import io.machinery.backend.mongodb.MongoDbBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.broker.sqs.SqsBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.TestEndpoints;

/** A broker × result backend combination both languages are tested on. */
enum Pair {
  REDIS_REDIS(Kind.REDIS, Kind.REDIS),
  AMQP_AMQP(Kind.AMQP, Kind.AMQP),
  AMQP_REDIS(Kind.AMQP, Kind.REDIS),
  REDIS_MONGODB(Kind.REDIS, Kind.MONGODB),
  REDIS_MEMCACHE(Kind.REDIS, Kind.MEMCACHE),
  GCPPUBSUB_REDIS(Kind.GCPPUBSUB, Kind.REDIS),
  SQS_REDIS(Kind.SQS, Kind.REDIS),
  SQS_DYNAMODB(Kind.SQS, Kind.DYNAMODB);

  enum Kind {
    REDIS,
    AMQP,
    MONGODB,
    MEMCACHE,
    GCPPUBSUB,
    SQS,
    DYNAMODB;

    String url() {
      return switch (this) {
        case REDIS -> TestEndpoints.redisUrl();
        case AMQP -> TestEndpoints.amqpUrl();
        case MONGODB -> TestEndpoints.mongodbUri();
        case MEMCACHE -> "memcache://" + TestEndpoints.memcacheAddr();
        case GCPPUBSUB ->
            throw new IllegalStateException(
                "a Pub/Sub broker URL names its subscription: brokerUrl(queue)");
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

  /** {@code redis_redis}, {@code amqp_amqp}, {@code amqp_redis}, ...: part of queue names. */
  String id() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * The broker URL of a side consuming {@code queue} (Pub/Sub: the subscription named like the
   * queue).
   */
  String brokerUrl(String queue) {
    return broker == Kind.GCPPUBSUB ? PubSubAdmin.url(queue) : broker.url();
  }

  Broker createBroker(Config config) {
    return switch (broker) {
      case REDIS -> RedisBroker.create(config);
      case AMQP -> AmqpBroker.create(config);
      case GCPPUBSUB -> PubSubAdmin.broker(config);
      case SQS ->
          SqsBroker.create(config); // InteropQueue creates the queues, as Go expects them to exist
      default -> throw new IllegalStateException(broker + " is not a broker");
    };
  }

  Backend createBackend(Config config) {
    return switch (backend) {
      case REDIS -> RedisBackend.create(config);
      case AMQP -> AmqpBackend.create(config);
      case MONGODB -> MongoDbBackend.create(config);
      case MEMCACHE -> MemcacheBackend.create(config);
      case DYNAMODB ->
          DynamoDbBackend.create(config); // Go's default tables, created by InteropQueue
      default -> throw new IllegalStateException(backend + " is not a result backend");
    };
  }
}
