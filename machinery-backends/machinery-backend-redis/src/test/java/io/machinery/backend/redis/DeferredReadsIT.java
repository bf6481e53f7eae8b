package io.machinery.backend.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.OwnRedisServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker's RECEIVED and STARTED with few tasks in flight ({@link DeferredReads}): a task that
 * ends at once costs the merge script alone, with no read; one that runs on gets its read, and its
 * STARTED is stored while it runs. On a Redis of its own, so its command counts are this test's.
 */
class DeferredReadsIT {
  @TempDir Path directory;
  private OwnRedisServer server;
  private Config config;
  private RedisSession redis;

  @BeforeEach
  void setUp() throws Exception {
    server = OwnRedisServer.startPlain(directory);
    String url = server.url();
    config = Config.builder().resultBackend(url).resultsExpireIn(600).build();
    redis = RedisSession.open(url, config);
  }

  @AfterEach
  void tearDown() {
    redis.close();
    server.close();
  }

  @Test
  void aTaskThatEndsWithinTheGraceSendsNoReadAndEndsAtItsFinalState() {
    // a grace no test machine outlasts: the point is what is sent, not how fast
    try (RedisBackend backend =
        RedisBackend.builder(config).stateReadGrace(Duration.ofMinutes(1)).build()) {
      endsWithinTheGrace(backend);
    }
  }

  @Test
  void runsThatEndedWithoutAFinalStateNoLongerCountAsInFlight() throws Exception {
    try (RedisBackend backend =
        RedisBackend.builder(config).stateReadGrace(Duration.ofMinutes(1)).build()) {
      // runs a worker dropped (a broken hold, a shutdown): an early write, then no final state
      for (int i = 0; i < RedisBackend.LATENCY_BOUND_TASKS + 4; i++) {
        Signature dropped = Signature.create("dropped");
        Thread run =
            Thread.ofVirtual()
                .start(
                    () -> {
                      backend.setStateReceivedAsync(dropped);
                      backend.runEnded(dropped);
                    });
        run.join();
      }
      // still few in flight: the next task's read is deferred, so a task that ends within the grace
      // sends none
      Signature task = Signature.create("add");
      backend.setStatePending(task);
      long getsBefore = calls("get");
      CompletableFuture<Void> started = backend.setStateStartedAsync(task);
      backend.setStateSuccess(task, List.of(TaskResult.of(3L)));
      started.join();
      assertThat(backend.getState(task.uuid()).orElseThrow().state()).isEqualTo(State.SUCCESS);
      assertThat(calls("get") - getsBefore)
          .as("the merge script's GET and getState's")
          .isEqualTo(2);
    }
  }

  private void endsWithinTheGrace(RedisBackend backend) {
    Signature task = Signature.create("add");
    backend.setStatePending(task);
    long getsBefore = calls("get");
    CompletableFuture<Void> received = backend.setStateReceivedAsync(task);
    CompletableFuture<Void> started = backend.setStateStartedAsync(task);
    backend.setStateSuccess(task, List.of(TaskResult.of(3L)));
    received.join();
    started.join();
    assertThat(backend.getState(task.uuid()).orElseThrow().state()).isEqualTo(State.SUCCESS);
    // Redis counts the commands a script calls too: the merge script's GET, then getState's; a
    // chain that read the state first would add a third
    assertThat(calls("get") - getsBefore).as("GETs").isEqualTo(2);
    assertThat(calls("evalsha")).as("the merge script, once").isEqualTo(1);
  }

  @Test
  void aTaskThatRunsOnHasItsStartedStoredWhileItRuns() {
    try (RedisBackend backend = RedisBackend.create(config)) {
      runsOn(backend);
    }
  }

  private void runsOn(RedisBackend backend) {
    Signature task = Signature.create("slow");
    backend.setStatePending(task);
    CompletableFuture<Void> received = backend.setStateReceivedAsync(task);
    CompletableFuture<Void> started = backend.setStateStartedAsync(task);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> backend.getState(task.uuid()).orElseThrow().state() == State.STARTED);
    received.join();
    started.join();
    backend.setStateSuccess(task, List.of());
    var state = backend.getState(task.uuid()).orElseThrow();
    assertThat(state.state()).isEqualTo(State.SUCCESS);
    assertThat(state.taskName()).isEqualTo("slow");
  }

  private long calls(String command) {
    String stats = redis.await(redis.commands().info("commandstats"));
    Matcher m = Pattern.compile("cmdstat_" + command + ":calls=(\\d+)").matcher(stats);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }
}
