package io.machinery.lock.redis;

import io.machinery.config.Config;
import io.machinery.spi.ComponentProvider;
import io.machinery.spi.Lock;
import java.util.Set;

/**
 * Makes the Redis lock (redis://, rediss://, redis+socket://) for {@link
 * io.machinery.Machinery#connect(Config)}: {@link RedisLock#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class RedisLockProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("redis", "rediss", "redis+socket");

  /** For {@link java.util.ServiceLoader}. */
  public RedisLockProvider() {}

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
