package io.machinery.backend.memcache;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the Memcache result backend (memcache://host1:11211,host2:11211) for {@code
 * Machinery.connect}: {@link MemcacheBackend#create(Config)}. Handed to {@code Machinery.connect}
 * as {@link MemcacheBackend#provider()}.
 */
final class MemcacheBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("memcache");

  static final MemcacheBackendProvider INSTANCE = new MemcacheBackendProvider();

  private MemcacheBackendProvider() {}

  @Override
  public Kind kind() {
    return Kind.BACKEND;
  }

  @Override
  public String module() {
    return "machinery-backend-memcache";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Backend backend(Config config) {
    return MemcacheBackend.create(config);
  }
}
