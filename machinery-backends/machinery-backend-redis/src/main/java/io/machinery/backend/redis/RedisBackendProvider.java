package io.machinery.backend.redis;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the Redis result backend (redis://, rediss://, redis+socket://) for {@link
 * io.machinery.Machinery#connect(Config)}: {@link RedisBackend#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class RedisBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("redis", "rediss", "redis+socket");

  /** For {@link java.util.ServiceLoader}. */
  public RedisBackendProvider() {}

  @Override
  public Kind kind() {
    return Kind.BACKEND;
  }

  @Override
  public String module() {
    return "machinery-backend-redis";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Backend backend(Config config) {
    return RedisBackend.create(config);
  }
}
