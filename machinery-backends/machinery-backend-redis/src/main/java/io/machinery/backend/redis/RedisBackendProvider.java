package io.machinery.backend.redis;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the Redis result backend (redis://, rediss://, redis+socket://) for {@code
 * Machinery.connect}: {@link RedisBackend#create(Config)}. Handed to {@code Machinery.connect} as
 * {@link RedisBackend#provider()}.
 */
final class RedisBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("redis", "rediss", "redis+socket");

  static final RedisBackendProvider INSTANCE = new RedisBackendProvider();

  private RedisBackendProvider() {}

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
