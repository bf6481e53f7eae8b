package io.machinery.backend.mongodb;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.config.Config;
import io.machinery.testkit.FrozenServer;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A MongoDB that stops answering (the test server's process frozen with {@code SIGSTOP}, as a hung
 * server or a host gone without a reset looks to a client) costs a backend call at most the
 * operation timeout, with an error that says what timed out, and the backend works again once the
 * server answers. Go sets no operation timeout: its calls, and the worker slots that make them,
 * wait for as long as TCP does.
 */
@Tag("disruptive") // freezes the shared MongoDB: make test runs it alone, after the parallel build
class MongoDbHungServerIT {
  private static final Duration TIMEOUT = Duration.ofMillis(1_500);

  private static String withTimeout(String uri) {
    String full = MongoDbBackend.normalizeUri(uri);
    String rest = full.substring(full.indexOf("//") + 2);
    if (full.contains("?")) {
      return full + "&timeoutMS=" + TIMEOUT.toMillis();
    }
    return full + (rest.contains("/") ? "" : "/") + "?timeoutMS=" + TIMEOUT.toMillis();
  }

  @Test
  void callsIntoAFrozenServerFailWithinTheOperationTimeoutAndWorkAgainAfter() throws Exception {
    Signature task =
        Signature.builder("add").uuid("task_hung_" + java.util.UUID.randomUUID()).build();
    try (MongoDbBackend backend =
            MongoDbBackend.builder(Config.DEFAULT)
                .url(withTimeout(TestEndpoints.mongodbUri()))
                .database("machinery_hung_it")
                .build();
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      backend.setStatePending(task); // connected before the freeze
      try (FrozenServer frozen = FrozenServer.freeze("mongodb", TestEndpoints.mongodbUri())) {
        for (Runnable call :
            List.<Runnable>of(
                () -> backend.setStateSuccess(task, List.of(TaskResult.of("int64", 3L))),
                () -> backend.getState(task.uuid()))) {
          long started = System.nanoTime();
          Throwable failure =
              CompletableFuture.runAsync(call, threads)
                  .handle((ok, error) -> error)
                  .get(TIMEOUT.toMillis() + 8_000, TimeUnit.MILLISECONDS);
          Duration took = Duration.ofNanos(System.nanoTime() - started);
          assertThat(failure).as("a call into the frozen server fails").isNotNull();
          assertThat(failure.getCause())
              .isInstanceOf(MachineryException.class)
              .hasMessageContaining("MongoDB: could not")
              .hasMessageContaining("machinery_hung_it")
              .hasMessageContainingAll(task.uuid());
          assertThat(took).isLessThan(TIMEOUT.plusSeconds(3));
        }
      }
      backend.setStateSuccess(task, List.of(TaskResult.of("int64", 3L)));
      assertThat(backend.getState(task.uuid()).orElseThrow().state()).isEqualTo(State.SUCCESS);
    }
  }
}
