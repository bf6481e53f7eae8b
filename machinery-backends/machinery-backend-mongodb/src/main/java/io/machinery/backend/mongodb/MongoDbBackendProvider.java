package io.machinery.backend.mongodb;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the MongoDB result backend (mongodb://, mongodb+srv://) for {@link
 * io.machinery.Machinery#connect(Config)}: {@link MongoDbBackend#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class MongoDbBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("mongodb", "mongodb+srv");

  /** For {@link java.util.ServiceLoader}. */
  public MongoDbBackendProvider() {}

  @Override
  public Kind kind() {
    return Kind.BACKEND;
  }

  @Override
  public String module() {
    return "machinery-backend-mongodb";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Backend backend(Config config) {
    return MongoDbBackend.create(config);
  }
}
