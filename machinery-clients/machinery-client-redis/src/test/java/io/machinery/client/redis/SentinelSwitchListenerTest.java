package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class SentinelSwitchListenerTest {
  @Test
  void anAnnouncementNamesTheNewPrimaryOfItsMaster() {
    assertThat(
            SentinelSwitchListener.newPrimary("mymaster 10.0.0.1 6379 10.0.0.2 6380", "mymaster"))
        .isEqualTo("10.0.0.2:6380");
    assertThat(SentinelSwitchListener.newPrimary("other 10.0.0.1 6379 10.0.0.2 6380", "mymaster"))
        .isNull();
    assertThat(SentinelSwitchListener.newPrimary("mymaster 10.0.0.2 6380", "mymaster")).isNull();
  }

  @Test
  void everySentinelAnnouncingTheSameSwitchMovesTheSessionOnce() {
    List<String> moves = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    try (SentinelSwitchListener listener =
        new SentinelSwitchListener(client, List.of(), "m", moves::add)) {
      listener.announced("m 10.0.0.1 6379 10.0.0.2 6379");
      listener.announced("m 10.0.0.1 6379 10.0.0.2 6379");
      listener.announced("n 10.0.0.1 6379 10.0.0.3 6379");
      listener.announced("m 10.0.0.2 6379 10.0.0.1 6379");
      listener.close();
      listener.announced("m 10.0.0.1 6379 10.0.0.2 6379");
    } finally {
      client.shutdown();
    }
    assertThat(moves).containsExactly("10.0.0.2:6379", "10.0.0.1:6379");
  }
}
