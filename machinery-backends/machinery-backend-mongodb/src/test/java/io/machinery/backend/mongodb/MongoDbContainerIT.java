package io.machinery.backend.mongodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.BackendContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.mongodb.MongoDBContainer;

/**
 * The backend contract on a real mongod, and what the emulator cannot show: a result deleted by the
 * TTL index, in a Docker engine (Testcontainers). Run only when asked for ({@code -Pcontainers}:
 * the test machines have no Docker engine, and the required MongoDB server is the emulator of
 * {@code scripts/services.d/mongodb.sh}, {@link MongoDbBackendIT}); asked for without an engine, it
 * fails where services are required ({@code CI=true}) and is skipped elsewhere.
 */
class MongoDbContainerIT extends BackendContract {
  private static MongoDBContainer mongo;

  /**
   * Before the kit's per-test set-up, so that a missing engine stops the class (fails it under CI)
   * before its tear-down runs.
   */
  @BeforeAll
  static void requireDocker() {
    TestEndpoints.requireTool(
        DockerClientFactory.instance().isDockerAvailable(),
        "no Docker engine for MongoDbContainerIT's real mongod (-Pcontainers asked for it)");
  }

  private static synchronized String uri() {
    if (mongo == null) {
      mongo = new MongoDBContainer("mongo:7.0");
      mongo.start();
    }
    return mongo.getConnectionString();
  }

  @AfterAll
  static void stopMongo() {
    if (mongo != null) {
      mongo.stop();
    }
  }

  @Override
  protected Config baseConfig() {
    return Config.builder().resultBackend(uri()).build();
  }

  @Override
  protected Backend createBackend(Config config) {
    return MongoDbBackend.create(config);
  }

  @Test
  void aResultIsDeletedByTheTtlIndexOnceDeleteAtHasPassed() {
    try (MongoDbBackend shortLived =
        MongoDbBackend.create(Config.builder().resultBackend(uri()).resultsExpireIn(1).build())) {
      Signature task = Signature.builder("add").args(Arg.of(1L)).build();
      shortLived.setStatePending(task);
      shortLived.setStateSuccess(task, List.of(TaskResult.of(2L)));
      assertThat(shortLived.getState(task.uuid())).isPresent();
      // mongod's TTL monitor runs every 60 s
      await()
          .atMost(Duration.ofSeconds(150))
          .pollInterval(Duration.ofSeconds(2))
          .until(() -> shortLived.getState(task.uuid()).isEmpty());
    }
  }
}
