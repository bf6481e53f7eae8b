package io.machinery.examples;

import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;

/**
 * Picks a broker and a backend by URL scheme, as Go Machinery v1's factories did. Each scheme needs
 * its module on the class path; this example depends on the Redis and AMQP ones.
 */
final class Brokers {
  private Brokers() {}

  static Broker broker(Config config) {
    String url = config.broker();
    return switch (scheme(url)) {
      case "redis", "rediss", "redis+socket" -> RedisBroker.create(config);
      case "amqp", "amqps" -> AmqpBroker.create(config);
      default ->
          throw new IllegalArgumentException(
              "BROKER: no module in this example handles '"
                  + scheme(url)
                  + "' URLs; use redis://, rediss://, redis+socket://, amqp:// or amqps://");
    };
  }

  static Backend backend(Config config) {
    String url = config.resultBackend();
    return switch (scheme(url)) {
      case "redis", "rediss", "redis+socket" -> RedisBackend.create(config);
      case "amqp", "amqps" -> AmqpBackend.create(config);
      default ->
          throw new IllegalArgumentException(
              "RESULT_BACKEND: no module in this example handles '"
                  + scheme(url)
                  + "' URLs; use redis://, rediss://, redis+socket://, amqp:// or amqps://");
    };
  }

  private static String scheme(String url) {
    int colon = url.indexOf(':');
    return colon < 0 ? url : url.substring(0, colon);
  }
}
