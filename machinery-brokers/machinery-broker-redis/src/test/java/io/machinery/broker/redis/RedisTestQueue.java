package io.machinery.broker.redis;

import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.CloseAfterEach;
import io.machinery.testkit.TestEndpoints;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A queue of the running test's own on the test Redis ({@link TestEndpoints#redisUrl()}): before
 * each test a fresh queue name and delayed-tasks key (brokers of other tests promote the shared
 * key) and a session to look at Redis with; once the test is over, whatever it handed to {@link
 * #closeLater} closed (newest first, as {@link CloseAfterEach} does), then every key of the queue
 * deleted and the session closed.
 *
 * <pre>{@code
 * @RegisterExtension final RedisTestQueue queue = new RedisTestQueue("faults_it");
 *
 * @Test
 * void consumes() {
 *   RedisBroker broker = queue.closeLater(RedisBroker.create(queue.config().build()));
 *   ...
 * }
 * }</pre>
 */
final class RedisTestQueue extends CloseAfterEach {
  private final String prefix;
  private @Nullable String name;
  private @Nullable RedisSession redis;

  /** A queue named {@code prefix} and a random suffix, new for each test. */
  RedisTestQueue(String prefix) {
    this.prefix = prefix;
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    super.beforeEach(context);
    String queue = prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    name = queue;
    RedisSession session =
        closeLater(
            RedisSession.open(
                TestEndpoints.redisUrl(),
                Config.builder().broker(TestEndpoints.redisUrl()).build()));
    redis = session;
    // closed after the test's own resources (registered later, closed first), before the session
    closeLater(() -> deleteKeysOf(session, queue));
  }

  private static void deleteKeysOf(RedisSession redis, String queue) {
    // the queue, its {queue}:... keys and the delayed key all hold the queue's name
    List<String> keys = new ArrayList<>(redis.await(redis.commands().keys("*" + queue + "*")));
    if (!keys.isEmpty()) {
      redis.await(redis.commands().del(keys.toArray(new String[0])));
    }
  }

  /** The running test's queue name. */
  String name() {
    return Objects.requireNonNull(name, "no test is running");
  }

  /** The running test's delayed-tasks key. */
  String delayedKey() {
    return "delayed_" + name();
  }

  /** A session on the test Redis, open while the test runs. */
  RedisSession redis() {
    return Objects.requireNonNull(redis, "no test is running");
  }

  /**
   * A config of the test Redis as broker with this queue as the default one and its own
   * delayed-tasks key.
   */
  Config.Builder config() {
    return config(RedisConfig.DEFAULT);
  }

  /** {@link #config()} with {@code redis}'s settings, the delayed-tasks key replaced. */
  Config.Builder config(RedisConfig redis) {
    return Config.builder()
        .broker(TestEndpoints.redisUrl())
        .defaultQueue(name())
        .redis(redis.withDelayedTasksKey(delayedKey()));
  }
}
