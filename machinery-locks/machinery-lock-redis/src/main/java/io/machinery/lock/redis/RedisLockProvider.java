package io.machinery.lock.redis;

import io.machinery.config.Config;
import io.machinery.spi.ComponentProvider;
import io.machinery.spi.Lock;
import java.util.Set;

/**
 * Makes the Redis lock (redis://, rediss://, redis+socket://) for {@code Machinery.connect}: {@link
 * RedisLock#create(Config)}. Handed to {@code Machinery.connect} as {@link RedisLock#provider()}.
 */
final class RedisLockProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("redis", "rediss", "redis+socket");

  static final RedisLockProvider INSTANCE = new RedisLockProvider();

  private RedisLockProvider() {}

  @Override
  public Kind kind() {
    return Kind.LOCK;
  }

  @Override
  public String module() {
    return "machinery-lock-redis";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Lock lock(Config config) {
    return RedisLock.create(config);
  }
}
