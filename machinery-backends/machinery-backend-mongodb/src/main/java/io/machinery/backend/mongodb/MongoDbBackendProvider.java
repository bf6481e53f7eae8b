package io.machinery.backend.mongodb;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the MongoDB result backend (mongodb://, mongodb+srv://) for {@code Machinery.connect}:
 * {@link MongoDbBackend#create(Config)}. Handed to {@code Machinery.connect} as {@link
 * MongoDbBackend#provider()}.
 */
final class MongoDbBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("mongodb", "mongodb+srv");

  static final MongoDbBackendProvider INSTANCE = new MongoDbBackendProvider();

  private MongoDbBackendProvider() {}

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
