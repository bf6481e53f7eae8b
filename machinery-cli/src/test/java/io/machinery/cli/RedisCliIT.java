package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.Test;

/** The command end to end on Redis (broker, backend, the broker's control plane). */
class RedisCliIT extends UrlCliScenario {
  @Override
  String url() {
    return TestEndpoints.redisUrl();
  }

  /**
   * On Redis a queue is a raw key: a worker's processing list (its tasks in flight, which the
   * reaper gives back if the worker dies) is a list like a queue, so {@code purge} of its name
   * would delete it. Refused as a name that is no queue, the list stays.
   */
  @Test
  void aWorkersProcessingListNamedAsAQueueIsRefusedNotPurged() {
    String processing = "{" + queue + "}:processing:cli-probe";
    RedisClient client = RedisClient.create(url());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> redis = connection.sync();
      redis.rpush(processing, "a task in flight");
      try {
        CliRunner.Result refused = cli().run("purge", processing);
        assertThat(refused.code()).isEqualTo(MachineryCli.EXIT_USAGE);
        assertThat(refused.err()).contains("names a reserved key, not a queue");
        assertThat(redis.lrange(processing, 0, -1)).containsExactly("a task in flight");
      } finally {
        redis.del(processing);
      }
    } finally {
      client.shutdown();
    }
  }
}
