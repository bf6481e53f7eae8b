package io.machinery;

import io.machinery.wire.LogText;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gathers the runs of one batched task function ({@link TaskFunction#batchedWithContext}) into
 * calls of its batch function.
 *
 * <p>Design notes. Each task runs as any other: its own delivery, worker slot, lease, timeout,
 * retries, stored state and acknowledgement. Its run only waits here, in its slot, until its batch
 * has run, and takes its own result from it; so batching needs nothing from any broker and loses
 * nothing a worker does not (a worker that dies takes its waiting tasks' deliveries with it, which
 * come back as any unacknowledged task does). Batches are kept per key (one key for all unless the
 * function was made with a key function). The first task of a batch starts a virtual thread that
 * waits for {@link BatchPolicy#maxSize()} tasks or {@link BatchPolicy#maxDelay()}, closes the batch
 * and calls the function with what the batch then holds; tasks that come later open the next batch.
 * A task cancelled or interrupted while its batch is open leaves it (the function never sees it;
 * the last to leave closes the batch, whose thread then ends without a call); once the batch is
 * closed it fails with the interrupt and its result is dropped. The function runs on that virtual
 * thread, in no task's span or thread-locals; the listeners are told on that thread before and
 * after the call ({@link TaskListener#batchStarting}, {@link TaskListener#batchRan}), so a tracing
 * listener can make a span of the call current while it runs.
 */
final class Batcher {
  private static final Logger log = LoggerFactory.getLogger(Batcher.class);

  /** How often a waiting task looks at its cancellation flag. */
  private static final long CANCEL_CHECK_MILLIS = 50;

  private final BatchPolicy policy;
  private final Function<BatchItem, String> key;
  private final TaskFunction.BatchFn fn;
  private final ReentrantLock lock = new ReentrantLock();
  private final Map<String, Batch> open = new HashMap<>(); // by key; guarded by lock

  Batcher(BatchPolicy policy, Function<BatchItem, String> key, TaskFunction.BatchFn fn) {
    this.policy = policy;
    this.key = key;
    this.fn = fn;
  }

  private final class Batch {
    final String key;
    final List<Entry> entries = new ArrayList<>(); // guarded by lock
    final Condition filled = lock.newCondition();
    boolean closed; // guarded by lock

    Batch(String key) {
      this.key = key;
    }
  }

  private record Entry(BatchItem item, CompletableFuture<@Nullable Object> result) {}

  /**
   * Adds a task to the open batch of its key and waits for its own result from the batch's call.
   */
  @Nullable Object submit(TaskContext context, @Nullable Object[] args) throws Exception {
    BatchItem item = new BatchItem(context, args);
    String itemKey =
        Objects.requireNonNull(key.apply(item), "the batch key of a task must not be null");
    Entry entry = new Entry(item, new CompletableFuture<>());
    Batch batch;
    lock.lock();
    try {
      batch = open.get(itemKey);
      if (batch == null) {
        batch = new Batch(itemKey);
        open.put(itemKey, batch);
        Batch started = batch;
        Thread.ofVirtual().name("machinery-batch").start(() -> runWhenDue(started));
      }
      batch.entries.add(entry);
      if (batch.entries.size() >= policy.maxSize()) {
        close(batch);
        batch.filled.signalAll();
      }
    } finally {
      lock.unlock();
    }
    return await(batch, entry, context);
  }

  private void close(Batch batch) {
    batch.closed = true;
    open.remove(batch.key, batch);
  }

  private @Nullable Object await(Batch batch, Entry entry, TaskContext context) throws Exception {
    while (true) {
      try {
        return entry.result().get(CANCEL_CHECK_MILLIS, TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        if (context.isCancelled() && leave(batch, entry)) {
          throw new CancellationException("cancelled while waiting for its batch");
        }
      } catch (InterruptedException e) {
        leave(batch, entry);
        throw e;
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof Exception ex) {
          throw ex;
        }
        if (cause instanceof Error err) {
          throw err;
        }
        throw e;
      }
    }
  }

  /**
   * Takes the task out of its batch if the batch has not run yet; whether it did. The last task to
   * leave closes the batch, so its thread ends now rather than after {@link
   * BatchPolicy#maxDelay()}.
   */
  private boolean leave(Batch batch, Entry entry) {
    lock.lock();
    try {
      if (batch.closed || !batch.entries.remove(entry)) {
        return false;
      }
      if (batch.entries.isEmpty()) {
        close(batch);
        batch.filled.signalAll();
      }
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** The batch's own thread: waits until it is full or due, then runs it. */
  private void runWhenDue(Batch batch) {
    List<Entry> entries;
    lock.lock();
    try {
      long left = policy.maxDelay().toNanos();
      while (!batch.closed && left > 0) {
        left = batch.filled.awaitNanos(left);
      }
      close(batch);
      entries = List.copyOf(batch.entries);
    } catch (InterruptedException e) {
      close(batch);
      entries = List.copyOf(batch.entries);
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
    if (!entries.isEmpty()) {
      run(batch.key, entries);
    }
  }

  private void run(String key, List<Entry> entries) {
    TaskListener listener = listenerOf(entries);
    if (listener != null) {
      try {
        listener.batchStarting(
            key, entries.stream().map(e -> e.item().context().signature()).toList());
      } catch (RuntimeException e) {
        log.warn("Could not report a batch call starting: {}", e.toString());
      }
    }
    long started = System.nanoTime();
    List<?> results = null;
    Throwable failed = null;
    try {
      results = fn.call(entries.stream().map(Entry::item).toList());
      if (results != null && results.size() != entries.size()) {
        failed =
            new IllegalStateException(
                "the batch function returned "
                    + results.size()
                    + " results for "
                    + entries.size()
                    + " tasks: it must return one per task, in their order");
      }
    } catch (Throwable t) {
      failed = t;
    }
    try {
      report(listener, key, entries, Duration.ofNanos(System.nanoTime() - started), failed);
    } catch (RuntimeException e) { // never leave the batch's tasks waiting for their results
      log.warn("Could not report a batch call: {}", e.toString());
    }
    for (int i = 0; i < entries.size(); i++) {
      CompletableFuture<@Nullable Object> result = entries.get(i).result();
      if (failed != null) {
        result.completeExceptionally(failed);
      } else if (results == null) {
        result.complete(null);
      } else if (results.get(i) instanceof Throwable taskFailed) {
        result.completeExceptionally(taskFailed);
      } else {
        result.complete(results.get(i));
      }
    }
  }

  /**
   * The listeners of the server whose worker ran the batch's first task, or null when it has none
   * (or the task did not come from a worker).
   */
  private static @Nullable TaskListener listenerOf(List<Entry> entries) {
    if (entries.get(0).item().context() instanceof TaskExecution execution) {
      TaskListener listener = execution.listener();
      return listener == Listeners.NONE ? null : listener;
    }
    return null;
  }

  /** Logs the call at debug level and tells {@code listener} ({@link TaskListener#batchRan}). */
  private static void report(
      @Nullable TaskListener listener,
      String key,
      List<Entry> entries,
      Duration runTime,
      @Nullable Throwable failed) {
    String task = entries.get(0).item().context().signature().name();
    if (log.isDebugEnabled()) {
      log.debug(
          "Batch of {} {} task(s){} ran in {} ms{}",
          entries.size(),
          task,
          key.isEmpty() ? "" : " (key " + LogText.of(key) + ")",
          runTime.toMillis(),
          failed == null ? "" : ", failing them all: " + failed);
    }
    if (listener != null) {
      listener.batchRan(new BatchRun(task, key, entries.size(), runTime, failed));
    }
  }
}
