package io.machinery.backend.mongodb;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.TestEndpoints;

/** The backend contract against the MongoDB of the test services ({@code MONGODB_URI}). */
class MongoDbBackendIT extends BackendContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(TestEndpoints.mongodbUri()).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return MongoDbBackend.create(config);
  }
}
