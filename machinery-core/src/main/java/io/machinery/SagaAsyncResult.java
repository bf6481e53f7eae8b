package io.machinery;

import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The handle to a saga's outcome ({@link Server#sendSaga}). {@link #get} waits until the saga
 * settled: every step succeeded, or a step failed and its compensations ran. Thread-safe.
 */
public final class SagaAsyncResult {
  private final List<AsyncResult> steps;
  private final List<List<AsyncResult>> undoChains;

  SagaAsyncResult(Saga saga, Backend backend) {
    List<AsyncResult> stepResults = new ArrayList<>();
    List<List<AsyncResult>> chains = new ArrayList<>();
    for (int i = 0; i < saga.steps().size(); i++) {
      stepResults.add(new AsyncResult(saga.steps().get(i), backend));
      chains.add(
          saga.compensationsAfterFailureOf(i).stream()
              .map(compensation -> new AsyncResult(compensation, backend))
              .toList());
    }
    this.steps = List.copyOf(stepResults);
    this.undoChains = List.copyOf(chains);
  }

  /**
   * Returns one handle per step.
   *
   * @return the handles, in step order
   */
  public List<AsyncResult> stepResults() {
    return steps;
  }

  /**
   * Returns the UUIDs of the saga's steps, for {@link Server#cancel}: cancelling them fails the
   * step in progress, and the steps before it are undone. The compensations are not among them.
   *
   * @return the UUIDs, in step order
   */
  public List<String> taskUuids() {
    return steps.stream().map(AsyncResult::taskUuid).toList();
  }

  /**
   * Waits until the saga settled, at most {@code timeout} in all.
   *
   * @param timeout the longest to wait for the steps and, after a failure, the compensations
   * @return the last step's typed results, when every step succeeded
   * @throws SagaFailedException when a step failed for good: after its compensations ran, or one of
   *     them failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when the backend cannot be read, or when interrupted
   */
  public List<Object> get(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Object> last = List.of();
    for (int i = 0; i < steps.size(); i++) {
      try {
        last = steps.get(i).get(left(deadline));
      } catch (TaskFailedException e) {
        throw undone(i, e.getMessage() == null ? "" : e.getMessage(), deadline);
      }
    }
    return last;
  }

  private SagaFailedException undone(int failed, String error, long deadline) {
    List<AsyncResult> chain = undoChains.get(failed);
    int undone = 0;
    for (AsyncResult compensation : chain) {
      try {
        compensation.get(left(deadline));
      } catch (TaskFailedException e) {
        return new SagaFailedException(failed, steps.get(failed).signature(), error, undone, e);
      }
      undone++;
    }
    return new SagaFailedException(failed, steps.get(failed).signature(), error, undone, null);
  }

  private static Duration left(long deadline) {
    return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
  }
}
