package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.machinery.testkit.TestEndpoints;
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
}
