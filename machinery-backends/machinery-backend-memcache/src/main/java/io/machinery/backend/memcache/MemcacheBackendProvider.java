package io.machinery.backend.memcache;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the Memcache result backend (memcache://host1:11211,host2:11211) for {@link
 * io.machinery.Machinery#connect(Config)}: {@link MemcacheBackend#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class MemcacheBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("memcache");

  /** For {@link java.util.ServiceLoader}. */
  public MemcacheBackendProvider() {}

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
