package io.machinery.backend.mongodb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class StateWriteChainTest {
  private final List<String> written = new CopyOnWriteArrayList<>();
  private final CountDownLatch release = new CountDownLatch(1);

  /** A store whose RECEIVED write hangs until released, so the test controls what is in flight. */
  private final StateWriteChain chain =
      new StateWriteChain(
          "task_1",
          state -> {
            written.add(state);
            if (state.equals("RECEIVED")) {
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
          });

  @Test
  void statesAreWrittenInOrderBehindTheOneInFlight() {
    CompletableFuture<Void> received = chain.request("RECEIVED");
    await().until(() -> written.contains("RECEIVED"));
    CompletableFuture<Void> started = chain.request("STARTED");
    assertThat(received).isNotDone();
    release.countDown();
    started.join();
    assertThat(received).isDone();
    assertThat(written).containsExactly("RECEIVED", "STARTED");
  }

  @Test
  void theFinalStateWaitsForTheWriteInFlightAndDropsWhatWasNotSent() {
    CompletableFuture<Void> received = chain.request("RECEIVED");
    await().until(() -> written.contains("RECEIVED"));
    CompletableFuture<Void> started = chain.request("STARTED");
    CompletableFuture<Void> finished = CompletableFuture.runAsync(chain::finish);
    await()
        .during(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(2))
        .until(() -> !finished.isDone());
    release.countDown();
    finished.join();
    assertThat(written).containsExactly("RECEIVED"); // STARTED was superseded by the final state
    assertThat(received).isDone();
    assertThat(started).isDone();
  }

  @Test
  void aFailedWriteFailsItsFuture() {
    StateWriteChain failing =
        new StateWriteChain(
            "task_2",
            state -> {
              throw new IllegalStateException("store down");
            });
    CompletableFuture<Void> received = failing.request("RECEIVED");
    await().until(received::isDone);
    assertThat(received).isCompletedExceptionally();
    failing.finish();
  }

  /**
   * An Error from a write (OutOfMemoryError, say) fails its future and leaves the chain idle, so
   * the final state's {@code finish} does not wait for ever for a writer that is gone.
   */
  @Test
  void anErrorInAWriteLeavesTheChainIdle() {
    StateWriteChain broken =
        new StateWriteChain(
            "task_3",
            state -> {
              throw new Error("writer broke");
            });
    CompletableFuture<Void> received = broken.request("RECEIVED");
    // a bounded get, not Awaitility: it would fail the test with the writer's uncaught Error
    assertThat(received)
        .failsWithin(Duration.ofSeconds(10))
        .withThrowableThat()
        .havingRootCause()
        .withMessage("writer broke");
    assertTimeoutPreemptively(Duration.ofSeconds(10), broken::finish);
  }
}
