package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.MachineryException;
import io.machinery.client.redis.RedisSession;
import io.machinery.testkit.OwnRedisServer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A redis-server of a test's own run out of memory: 4 MB {@code maxmemory} with {@code noeviction}
 * (the usual policy for queues), filled until it refuses a write.
 */
final class FullRedis {
  private FullRedis() {}

  /**
   * The arguments of a server on {@code port} with a 4 MB {@code maxmemory}, {@code noeviction}.
   */
  static List<String> args(int port) {
    return OwnRedisServer.plainArgs(port, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction");
  }

  /** Writes 1 kB values until Redis refuses one for its memory; returns how many it wrote. */
  static int fillUntilRefused(RedisSession redis) {
    byte[] value = "x".repeat(1_000).getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < 100_000; i++) {
      try {
        redis.await(redis.commands().set("filler:" + i, value));
      } catch (MachineryException e) {
        assertThat(e).hasMessageContaining("OOM");
        return i;
      }
    }
    throw new AssertionError("redis-server took 100 MB under a 4 MB maxmemory");
  }
}
