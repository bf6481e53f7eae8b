package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A task that stops its own worker ({@code Worker.quit()} from the task function) ends normally:
 * quit starts the stop and returns, and the stop waits for the task to finish and settle. Before,
 * quit waited for the caller itself until the graceful timeout, then abandoned it and sent its
 * message back, so the task ran again at the next start and stopped that worker too.
 */
class WorkerSelfQuitTest {
  /** Far longer than the waits below: a quit that waited for its caller would still be waiting. */
  private static final Duration GRACEFUL = Duration.ofMinutes(2);

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @Test
  void aTaskThatQuitsItsWorkerSucceedsOnceAndTheWorkerStops() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    AtomicReference<Worker> self = new AtomicReference<>();
    try (Server server = Server.builder().build()) {
      server.registerTask(
          "stop_the_worker",
          TaskFunction.of(
              () -> {
                runs.incrementAndGet();
                self.get().quit();
                await().atMost(TIMEOUT).until(() -> !self.get().isRunning()); // the stop began
                self.get().quit(); // with the stop under way, it returns at once too
                return Thread.currentThread().isInterrupted() ? "interrupted" : "stopping";
              }));
      Worker worker = server.workerBuilder("self_quit").gracefulTimeout(GRACEFUL).build();
      self.set(worker);
      CompletableFuture<Void> done = worker.launchAsync();
      AsyncResult result = server.sendTask(Signature.create("stop_the_worker"));

      assertThat(result.get(TIMEOUT)).containsExactly("stopping");
      await().atMost(TIMEOUT).until(done::isDone);
      assertThat(done).isCompleted().isNotCompletedExceptionally();
      assertThat(worker.isRunning()).isFalse();
      assertThat(runs).hasValue(1);
      assertThat(server.broker().pendingTasks("")).as("the task's message, sent back").isEmpty();
    }
  }
}
