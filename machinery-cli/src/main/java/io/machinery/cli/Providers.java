package io.machinery.cli;

import io.machinery.Machinery;
import io.machinery.Server;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.backend.memcache.MemcacheBackend;
import io.machinery.backend.mongodb.MongoDbBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.gcppubsub.GcpPubSubBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.broker.sqs.SqsBroker;
import io.machinery.config.Config;
import io.machinery.lock.amqp.AmqpLock;
import io.machinery.lock.redis.RedisLock;
import io.machinery.spi.ComponentProvider;
import java.util.List;

/** Every module the runnable jar carries, passed to {@link Machinery#connect} explicitly. */
final class Providers {
  /** Each broker, backend and lock module of the jar, in the order they are tried. */
  static final List<ComponentProvider> ALL =
      List.of(
          RedisBroker.provider(),
          AmqpBroker.provider(),
          SqsBroker.provider(),
          GcpPubSubBroker.provider(),
          RedisBackend.provider(),
          AmqpBackend.provider(),
          MongoDbBackend.provider(),
          MemcacheBackend.provider(),
          DynamoDbBackend.provider(),
          RedisLock.provider(),
          AmqpLock.provider());

  private Providers() {}

  /**
   * Builds a server on what a config's URLs name, from any module of the jar.
   *
   * @param config the deployment's config
   * @return a server that closes what it was built on
   */
  static Server connect(Config config) {
    return Machinery.connect(Server.builder().config(config), ALL);
  }
}
