package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Files;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class AsyncOnlyRedisClientIT {
  @Test
  void connectionsAnswerAsynchronouslyAndRefuseTheSynchronousView() throws Exception {
    ClientResources resources = DefaultClientResources.create();
    RedisURI uri = RedisURI.create(TestEndpoints.redisUrl());
    AsyncOnlyRedisClient client = new AsyncOnlyRedisClient(resources, uri);
    try (StatefulRedisConnection<String, String> connection =
        client.connect(StringCodec.UTF8, uri)) {
      assertThat(connection.async().ping().get(10, TimeUnit.SECONDS)).isEqualTo("PONG");
      assertThatThrownBy(connection::sync)
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("asynchronous only");
    } finally {
      client.shutdown();
      resources.shutdown().get(10, TimeUnit.SECONDS);
    }
  }

  /** The Pub/Sub connections Sentinel sessions subscribe with skip the synchronous view too. */
  @Test
  void pubSubConnectionsReceiveAndRefuseTheSynchronousView() throws Exception {
    ClientResources resources = DefaultClientResources.create();
    try (OwnRedisServer server =
        OwnRedisServer.startPlain(Files.createTempDirectory("async-only-pubsub"))) {
      RedisURI uri = RedisURI.create(server.url());
      AsyncOnlyRedisClient client = new AsyncOnlyRedisClient(resources, uri);
      try (StatefulRedisPubSubConnection<String, String> subscriber =
              client.connectPubSub(StringCodec.UTF8, uri);
          StatefulRedisConnection<String, String> publisher =
              client.connect(StringCodec.UTF8, uri)) {
        CompletableFuture<String> received = new CompletableFuture<>();
        subscriber.addListener(
            new RedisPubSubAdapter<>() {
              @Override
              public void message(String channel, String message) {
                received.complete(channel + " " + message);
              }
            });
        subscriber.async().subscribe("news").get(10, TimeUnit.SECONDS);
        publisher.async().publish("news", "hello").get(10, TimeUnit.SECONDS);

        assertThat(received.get(10, TimeUnit.SECONDS)).isEqualTo("news hello");
        assertThatThrownBy(subscriber::sync)
            .isInstanceOf(UnsupportedOperationException.class)
            .hasMessageContaining("asynchronous only");
      } finally {
        client.shutdown();
      }
    } finally {
      resources.shutdown().get(10, TimeUnit.SECONDS);
    }
  }
}
