package io.machinery;

import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * The handle to a sent task's result: Go's {@code result.AsyncResult}. Reads the result backend; thread-safe.
 *
 * <pre>{@code
 * AsyncResult result = server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(1L)));
 * List<Object> values = result.get(Duration.ofSeconds(10));   // [2]
 * }</pre>
 *
 * <p>Results are the typed values of their Go types ({@code Long} for int64, {@code String}, {@code byte[]},
 * ...; see {@link TaskResult#typedValue()}). A FAILURE surfaces as {@link TaskFailedException} with the stored
 * error text.
 */
public class AsyncResult {
  /** How often blocking reads poll the backend unless told otherwise. */
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofMillis(5);

  private final Signature signature;
  private final Backend backend;
  private volatile @Nullable TaskState cached;

  AsyncResult(Signature signature, Backend backend) {
    this.signature = signature;
    this.backend = backend;
  }

  public Signature signature() {
    return signature;
  }

  public String taskUuid() {
    return signature.uuid();
  }

  /**
   * The latest known state (Go's {@code GetState}); a completed state is cached and not read again. Empty while
   * the backend has none.
   */
  public Optional<TaskState> taskState() {
    TaskState known = cached;
    if (known != null && known.isCompleted()) {
      return Optional.of(known);
    }
    Optional<TaskState> read = backend.getState(signature.uuid());
    read.ifPresent(s -> cached = s);
    return read.isPresent() ? read : Optional.ofNullable(known);
  }

  /** The latest known state name; {@link State#PENDING} while the backend has none. */
  public State state() {
    return taskState().map(TaskState::state).orElse(State.PENDING);
  }

  /**
   * Checks once (Go's {@code Touch}): the results when the task succeeded, null while it is not finished.
   *
   * @throws TaskFailedException when the task failed
   */
  public @Nullable List<Object> poll() {
    TaskState state = taskState().orElse(null);
    if (state == null || !state.isCompleted()) {
      return null;
    }
    if (state.isFailure()) {
      throw new TaskFailedException(signature.uuid(), state.error());
    }
    List<Object> values = new ArrayList<>(state.results().size());
    for (TaskResult result : state.results()) {
      values.add(result.typedValue());
    }
    return values;
  }

  /**
   * Blocks until the task finishes, polling every {@link #DEFAULT_POLL_INTERVAL}, at most {@code timeout}.
   *
   * @throws TaskFailedException when the task failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when interrupted (the interrupt flag is kept)
   */
  public List<Object> get(Duration timeout) {
    return get(timeout, DEFAULT_POLL_INTERVAL);
  }

  /** {@link #get(Duration)} with a chosen poll interval (Go's {@code GetWithTimeout(timeout, sleep)}). */
  public List<Object> get(Duration timeout, Duration pollInterval) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<Object> values = poll();
      if (values != null) {
        return values;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new ResultTimeoutException(signature.uuid());
      }
      pause(pollInterval);
    }
  }

  /** The single result of a task that returns one value. */
  public @Nullable Object getValue(Duration timeout) {
    List<Object> values = get(timeout);
    if (values.size() != 1) {
      throw new MachineryException("task " + signature.uuid() + " returned " + values.size() + " results, not one");
    }
    return values.get(0);
  }

  /**
   * The results as a future, completed from a virtual thread that polls the backend; cancelling the future
   * stops the polling.
   */
  public CompletableFuture<List<Object>> toCompletableFuture() {
    CompletableFuture<List<Object>> future = new CompletableFuture<>();
    Thread poller =
        Thread.ofVirtual().name("machinery-result-" + signature.uuid()).start(() -> {
          try {
            future.complete(get(Duration.ofDays(365 * 100L)));
          } catch (RuntimeException e) {
            future.completeExceptionally(e);
          }
        });
    future.whenComplete((v, e) -> {
      if (future.isCancelled()) {
        poller.interrupt();
      }
    });
    return future;
  }

  static void pause(Duration interval) {
    try {
      Thread.sleep(interval);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while waiting for a task result", e);
    }
  }
}
