package io.machinery.backend.mongodb;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;

/**
 * The backend contract against mongo-java-server in this JVM (fast; the IT runs it on the shared
 * server).
 */
class MongoDbBackendContractTest extends BackendContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(InProcessMongo.uri()).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return MongoDbBackend.create(config);
  }
}
