package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Machinery;
import io.machinery.MigratingBackend;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskState;
import io.machinery.backend.mongodb.MongoDbBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A mixed cluster halfway through moving its results from Redis to MongoDB, with the real Go
 * Machinery v2, all on one Redis broker: Go processes not yet moved read and write the Redis
 * backend only; a Java server built from a configuration with {@code
 * MACHINERY_MIGRATE_FROM_RESULT_BACKEND} (a {@link MigratingBackend}) writes both and reads Redis.
 * Java reads the outcomes a Go worker stores; Go's producer reads the outcomes of its task, chain,
 * chord and retry-later scenarios run by the Java worker; MongoDB holds what Java wrote.
 */
@Timeout(180)
class RedisToMongoDbBackendMigrationInteropIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeAll
  static void buildHarness() {
    GoHarness.binary(); // build (or skip/fail) before touching any server
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  @Test
  void goProcessesNotYetMovedWorkBesideAJavaServerMovingItsResults() throws Exception {
    InteropQueue queue = InteropQueue.create(Pair.REDIS_REDIS, "backend_migration");
    closeables.add(0, queue);
    Config moving =
        queue.javaConfig().toBuilder()
            .resultBackend(Pair.Kind.MONGODB.url())
            .migrateFromResultBackend(Pair.Kind.REDIS.url())
            .build();
    Server server =
        Machinery.connect(
            moving, RedisBroker.provider(), RedisBackend.provider(), MongoDbBackend.provider());
    closeables.add(0, server);
    assertThat(server.backend()).isInstanceOf(MigratingBackend.class);
    InteropTasks.registerWith(server);
    Backend mongoDb = MongoDbBackend.create(moving);
    closeables.add(0, mongoDb);

    // a Go worker not yet moved runs what the moving Java server sends; Java reads its outcomes
    List<AsyncResult> sums = new ArrayList<>();
    try (GoHarness.GoWorker goWorker =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(
                queue.goArgs(), "-concurrency", "4", "-tag", "interop-go-not-moved"))) {
      for (long i = 0; i < 5; i++) {
        sums.add(server.sendTask(Signature.create("add", Arg.of(i), Arg.of(100L))));
      }
      for (int i = 0; i < sums.size(); i++) {
        assertThat(sums.get(i).get(TIMEOUT)).containsExactly(100L + i);
      }
    }
    for (AsyncResult sum : sums) {
      assertThat(mongoDb.getState(sum.taskUuid()).map(TaskState::state))
          .as("MongoDB has what the moving server wrote (PENDING), not the Go worker's outcome")
          .contains(State.PENDING);
    }

    // the moving Java worker runs what a Go producer not yet moved sends; Go reads the outcomes in
    // Redis
    server.newWorker("moving", 4).launchAsync();
    for (String scenario : List.of("task", "chain", "chord", "retry_later")) {
      List<String> args = new ArrayList<>(queue.goArgs());
      args.addAll(List.of("-scenario", scenario, "-timeout", "30s"));
      GoHarness.Run run = GoHarness.run(Duration.ofSeconds(90), "send", args);
      JsonNode out = run.single();
      assertThat(out.path("ok").asBoolean())
          .as("Go's verdict on scenario %s: %s%nGo's log: %s", scenario, out, run.log())
          .isTrue();
    }

    // what the Java worker runs is in MongoDB too, ready for the end of the move
    AsyncResult last = server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)));
    assertThat(last.get(TIMEOUT)).containsExactly(3L);
    Optional<TaskState> copied =
        await()
            .atMost(TIMEOUT)
            .until(
                () -> mongoDb.getState(last.taskUuid()),
                state -> state.isPresent() && state.get().isCompleted());
    assertThat(copied.orElseThrow().state()).isEqualTo(State.SUCCESS);
  }
}
