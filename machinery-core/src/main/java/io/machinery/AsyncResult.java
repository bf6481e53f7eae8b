package io.machinery;

import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * The handle to a sent task's result: Go's {@code result.AsyncResult}. Reads the result backend;
 * thread-safe.
 *
 * <pre>{@code
 * AsyncResult result = server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(1L)));
 * List<Object> values = result.get(Duration.ofSeconds(10));   // [2]
 * }</pre>
 *
 * <p>Results are the typed values of their Go types ({@code Long} for int64, {@code String}, {@code
 * byte[]}, ...; see {@link TaskResult#typedValue()}). A FAILURE surfaces as {@link
 * TaskFailedException} with the stored error text.
 *
 * <p><b>Warning:</b> on a backend whose reads consume the state (the AMQP backend, as Go's: a state
 * is a message in a per-task queue, and reading takes it), only one reader sees each state. Use one
 * handle per task and read it from one place: a second handle, another process, or a Go client
 * reading the same task may take the state this handle waits for, and this handle then waits until
 * its timeout. A handle keeps a completed state it has read, so reading it again is safe. {@link
 * io.machinery.spi.Backend#consumesStatesOnRead()} tells which kind a backend is.
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

  /**
   * Returns the signature this handle was made for.
   *
   * @return the task as sent (with its UUID), or only the UUID for {@link
   *     Server#asyncResult(String)}
   */
  public Signature signature() {
    return signature;
  }

  /**
   * Returns the task's UUID.
   *
   * @return the UUID the result is stored under
   */
  public String taskUuid() {
    return signature.uuid();
  }

  /**
   * Reads the latest state (Go's {@code GetState}); a completed state is cached and not read again.
   *
   * @return the state, or empty while the backend has none (not stored yet, expired, or consumed by
   *     another reader on a consume-on-read backend)
   * @throws MachineryException when the backend cannot be read
   */
  public Optional<TaskState> taskState() {
    TaskState known = cached;
    if (known != null && known.isCompleted()) {
      return Optional.of(known);
    }
    Optional<TaskState> read = readBackend();
    return read.isPresent() ? read : Optional.ofNullable(known);
  }

  private Optional<TaskState> readBackend() {
    Optional<TaskState> read = backend.getState(signature.uuid());
    read.ifPresent(s -> cached = s);
    return read;
  }

  /**
   * Reads the task's last progress report ({@link TaskContext#reportProgress}). It does not consume
   * anything, also on a backend whose state reads consume.
   *
   * @return the last report; empty when the task reported none yet (or it expired)
   * @throws UnsupportedOperationException when the result backend cannot keep progress
   * @throws MachineryException when the backend cannot be read
   */
  public Optional<TaskProgress> progress() {
    return backend.getProgress(signature.uuid());
  }

  /**
   * Reads the latest state name.
   *
   * @return the state name; {@link State#PENDING} while the backend has none
   * @throws MachineryException when the backend cannot be read
   */
  public State state() {
    return taskState().map(TaskState::state).orElse(State.PENDING);
  }

  /**
   * Checks once, without waiting (Go's {@code Touch}).
   *
   * @return the typed results when the task succeeded, or null while it is not finished
   * @throws TaskFailedException when the task failed, with its stored error
   * @throws MachineryException when the backend cannot be read
   */
  public @Nullable List<Object> poll() {
    return valuesIfCompleted(taskState().orElse(null));
  }

  private @Nullable List<Object> valuesIfCompleted(@Nullable TaskState state) {
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
   * Blocks until the task finishes, polling every {@link #DEFAULT_POLL_INTERVAL}, at most {@code
   * timeout}.
   *
   * @param timeout the longest to wait
   * @return the typed results of the successful task
   * @throws TaskFailedException when the task failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when interrupted (the interrupt flag is kept)
   */
  public List<Object> get(Duration timeout) {
    return get(timeout, DEFAULT_POLL_INTERVAL);
  }

  /**
   * Blocks until the task finishes, polling every {@code pollInterval}, at most {@code timeout}
   * (Go's {@code GetWithTimeout(timeout, sleep)}). On a backend whose reads consume states ({@link
   * Backend#consumesStatesOnRead()}), a read that took a state that is not final is followed at
   * once by the next, as later states may already be queued behind it.
   *
   * @param timeout the longest to wait
   * @param pollInterval the pause between two reads of the backend
   * @return the typed results of the successful task
   * @throws TaskFailedException when the task failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when interrupted (the interrupt flag is kept)
   */
  public List<Object> get(Duration timeout, Duration pollInterval) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      TaskState known = cached;
      if (known != null && known.isCompleted()) {
        return Objects.requireNonNull(valuesIfCompleted(known));
      }
      Optional<TaskState> read = readBackend();
      List<Object> values = valuesIfCompleted(read.orElse(null));
      if (values != null) {
        return values;
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new ResultTimeoutException(signature.uuid());
      }
      // A read that consumed a state that is not final may have later states queued behind it
      // (PENDING, RECEIVED, STARTED, SUCCESS on the AMQP backend): read on without pausing.
      if (read.isEmpty() || !backend.consumesStatesOnRead()) {
        pause(pollInterval);
      }
    }
  }

  /**
   * Blocks as {@link #get(Duration)} does, for a task that returns one value.
   *
   * @param timeout the longest to wait
   * @return the task's single typed result (null for a Go nil)
   * @throws TaskFailedException when the task failed
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when the task returned no value or several, or when interrupted
   */
  public @Nullable Object getValue(Duration timeout) {
    List<Object> values = get(timeout);
    if (values.size() != 1) {
      throw new MachineryException(
          "task " + signature.uuid() + " returned " + values.size() + " results, not one");
    }
    return values.get(0);
  }

  /**
   * Returns the results as a future, completed from a virtual thread that polls the backend.
   * Cancelling the future stops the polling; so does completing it. A future nobody completes or
   * cancels keeps its thread polling until the task finishes, so cancel the futures of tasks you
   * stop waiting for.
   *
   * @return a future of the typed results, completed exceptionally with {@link TaskFailedException}
   *     when the task failed
   */
  public CompletableFuture<List<Object>> toCompletableFuture() {
    CompletableFuture<List<Object>> future = new CompletableFuture<>();
    Thread poller =
        Thread.ofVirtual()
            .name("machinery-result-" + signature.uuid())
            .start(
                () -> {
                  try {
                    future.complete(get(Duration.ofDays(365 * 100L)));
                  } catch (RuntimeException e) {
                    future.completeExceptionally(e);
                  }
                });
    future.whenComplete(
        (v, e) -> {
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
