package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.ControlSuite;
import io.machinery.testkit.TestEndpoints;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The control features with the Redis broker and the Redis backend on one Redis server. */
class RedisRedisControlIT extends ControlSuite {
  /** The keys of Go's {@code tasks.TaskState} JSON, in Go's order. */
  private static final List<String> GO_STATE_KEYS =
      List.of("TaskUUID", "TaskName", "State", "Results", "Error", "CreatedAt", "TTL");

  @Override
  protected Config baseConfig() {
    String redis = TestEndpoints.redisUrl();
    return Config.builder().broker(redis).resultBackend(redis).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Test
  void progressLeavesGosStateKeyAsGoWritesIt() throws Exception {
    int gate = newLatch();
    AsyncResult result =
        server.sendTask(Signature.create("progress_then_wait", Arg.of((long) gate)));
    org.awaitility.Awaitility.await().atMost(TIMEOUT).until(() -> result.progress().isPresent());
    latches.get(gate).countDown();
    result.get(TIMEOUT);
    try (RedisSession redis = RedisSession.open(config.resultBackend(), config)) {
      byte[] state = redis.await(redis.commands().get(result.taskUuid()));
      List<String> keys = new ArrayList<>();
      try (JsonParser in = new JsonFactory().createParser(state)) {
        in.nextToken();
        while (in.nextToken() == JsonToken.FIELD_NAME) {
          keys.add(in.currentName());
          in.nextToken();
          in.skipChildren();
        }
      }
      assertThat(keys).isEqualTo(GO_STATE_KEYS);
      String progressKey = "machinery_progress:" + result.taskUuid();
      assertThat(redis.await(redis.commands().ttl(progressKey))).isPositive();
    }
  }
}
