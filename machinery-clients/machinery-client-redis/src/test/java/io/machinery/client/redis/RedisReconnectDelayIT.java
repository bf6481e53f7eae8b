package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.event.connection.ReconnectAttemptEvent;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.OwnRedisServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.Disposable;

/**
 * A session reconnects soon after Redis comes back from a long outage: the waits between its
 * connection attempts stop growing at {@link RedisSession#MAX_RECONNECT_DELAY}. Lettuce's default
 * doubles them from 1 ms up to 30 s, so after an outage of half a minute a worker went on up to 30
 * s after Redis was back (go-redis, Go Machinery's client, dials again on the next command).
 */
class RedisReconnectDelayIT {
  /** Enough attempts that Lettuce's default waits had reached 2 s, and the next 4 s. */
  private static final int ATTEMPTS = 13;

  @TempDir Path directory;

  @Test
  void theWaitBetweenReconnectAttemptsStaysUnderASecondSoASessionGoesOnSoonAfterAnOutage()
      throws Exception {
    int port = OwnRedisServer.freePort();
    OwnRedisServer server =
        OwnRedisServer.start(directory, port, OwnRedisServer.plainArgs(port, "--appendonly", "no"));
    Config config =
        Config.builder()
            .redis(
                RedisConfig.DEFAULT
                    .withReadTimeout(Duration.ofSeconds(2))
                    .withConnectTimeout(Duration.ofSeconds(2)))
            .build();
    Queue<ReconnectAttemptEvent> attempts = new ConcurrentLinkedQueue<>();
    try (RedisSession session = RedisSession.open(server.url(), config)) {
      Disposable listening =
          session.eventBus().get().ofType(ReconnectAttemptEvent.class).subscribe(attempts::add);
      try {
        session.await(session.commands().set("k", bytes("before")));
        long reconnectsBefore = session.reconnects();
        server.close(); // the outage: every attempt is refused until the server is back
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> attempts.stream().anyMatch(a -> a.getAttempt() >= ATTEMPTS));
        assertThat(attempts)
            .as("each attempt's wait before it")
            .allSatisfy(
                a ->
                    assertThat(a.getDelay()).isLessThanOrEqualTo(RedisSession.MAX_RECONNECT_DELAY));

        server =
            OwnRedisServer.start(
                directory, port, OwnRedisServer.plainArgs(port, "--appendonly", "no"));
        long back = System.nanoTime();
        await().atMost(Duration.ofSeconds(10)).until(() -> session.reconnects() > reconnectsBefore);
        assertThat(Duration.ofNanos(System.nanoTime() - back))
            .as("from the server's return to the session's reconnect")
            .isLessThan(RedisSession.MAX_RECONNECT_DELAY.plusSeconds(1));
        session.await(session.commands().set("k", bytes("after")));
      } finally {
        listening.dispose();
      }
    } finally {
      server.close();
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
