package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.LMoveArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.machinery.client.redis.testing.OwnCluster;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.OwnRedisServer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A blocking command on a cluster goes to the node that holds its key's slot; a {@code CLUSTER
 * FAILOVER} of that node ends it there ({@code MOVED}, or {@code UNBLOCKED ... master -> replica}).
 * The connection then refreshes the cluster's topology and sends the command again to the new
 * primary, so its caller sees a routine failover as a longer wait, not as an error. Before, the
 * command failed with that reply, and a worker reported it to its error handler.
 */
class RedisClusterBlockingFailoverIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  /** The list a blocking move waits on, and where it moves to: one slot. */
  private static final String SOURCE = "{blocking-failover}source";

  private static final String TARGET = "{blocking-failover}target";

  /** Long enough that the move is still blocked when the failover ends it. */
  private static final double BLOCK_SECONDS = 10;

  @Test
  void aBlockedMoveGoesOnOnTheNewPrimaryAfterAClusterFailover() throws Exception {
    try (OwnCluster cluster = OwnCluster.start(PATIENCE);
        RedisSession session = RedisSession.open(cluster.url(), config(cluster.url()));
        RedisSession.BlockingConnection blocking = session.openBlocking();
        StatefulRedisConnection<String, String> oldPrimary =
            cluster.connect(cluster.primaryOf(SOURCE))) {
      CompletableFuture<byte[]> moved =
          blocking.block(
              SOURCE, c -> c.blmove(SOURCE, TARGET, LMoveArgs.Builder.leftRight(), BLOCK_SECONDS));
      await().atMost(PATIENCE).until(() -> oldPrimary.sync().clientList().contains("cmd=blmove"));

      cluster.failOver(SOURCE);
      // through the shared connection, which follows the slot to the new primary
      session.await(session.commands().rpush(SOURCE, "task".getBytes(StandardCharsets.UTF_8)));

      assertThat(moved.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS))
          .as("what the blocked move took, once on the new primary")
          .asString(StandardCharsets.UTF_8)
          .isEqualTo("task");
      assertThat(session.await(session.commands().lrange(TARGET, 0, -1)))
          .extracting(b -> new String(b, StandardCharsets.UTF_8))
          .containsExactly("task");
    }
  }

  /**
   * A session that sent nothing since the failover still has the old topology: its blocking move
   * goes to the old primary, which answers {@code MOVED} at once.
   */
  @Test
  void aMoveSentWithTheOldTopologyGoesToTheNewPrimary() throws Exception {
    try (OwnCluster cluster = OwnCluster.start(PATIENCE);
        RedisSession session = RedisSession.open(cluster.url(), config(cluster.url()));
        RedisSession.BlockingConnection blocking = session.openBlocking()) {
      OwnRedisServer promoted = cluster.failOver(SOURCE);
      try (StatefulRedisConnection<String, String> newPrimary = cluster.connect(promoted)) {
        newPrimary.sync().rpush(SOURCE, "task");
      }

      CompletableFuture<byte[]> moved =
          blocking.block(
              SOURCE, c -> c.blmove(SOURCE, TARGET, LMoveArgs.Builder.leftRight(), BLOCK_SECONDS));

      assertThat(moved.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS))
          .as("what the move took on the new primary")
          .asString(StandardCharsets.UTF_8)
          .isEqualTo("task");
    }
  }

  private static Config config(String url) {
    return Config.builder()
        .broker(url)
        .redis(RedisConfig.DEFAULT.withReadTimeout(Duration.ofSeconds(2)))
        .build();
  }
}
