package io.machinery.backend.mongodb;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The RECEIVED and STARTED writes of one task, sent in the background so the task runs meanwhile,
 * in order, and with a state that a later one replaces before it was sent never sent at all
 * (MongoDB's {@code $set} of {@code state} makes the later write carry everything the earlier one
 * would have). The final state waits for the write in flight, drops what was not sent, and is then
 * written by the caller: a task that finishes before its RECEIVED was sent costs one round trip
 * instead of three, and the stored states still only move forward.
 *
 * <p>One writer (a virtual thread) per burst of requests; its callers are the task's thread and
 * that writer.
 */
final class StateWriteChain {
  private final String taskUuid;
  private final Consumer<String> write;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition idle = lock.newCondition();
  private @Nullable String next;
  private final List<CompletableFuture<Void>> waiting = new ArrayList<>();
  private boolean writing;

  StateWriteChain(String taskUuid, Consumer<String> write) {
    this.taskUuid = taskUuid;
    this.write = write;
  }

  String taskUuid() {
    return taskUuid;
  }

  /** Asks for {@code state} to be stored; the future completes once it (or a state after it) is. */
  CompletableFuture<Void> request(String state) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    lock.lock();
    try {
      next = state;
      waiting.add(done);
      if (!writing) {
        writing = true;
        Thread.ofVirtual().name("mongodb-state-" + taskUuid).start(this::drain);
      }
    } finally {
      lock.unlock();
    }
    return done;
  }

  /**
   * Writes requested states until none is left. Leaves the chain idle whatever happens: an Error
   * from a write (OutOfMemoryError, say) fails the futures of this burst and is rethrown, and
   * {@link #finish} must not wait for a writer that is gone.
   */
  private void drain() {
    boolean idleAgain = false;
    try {
      while (true) {
        String state;
        List<CompletableFuture<Void>> batch;
        lock.lock();
        try {
          state = next;
          if (state == null) {
            writing = false; // under the lock that saw no state: a new request starts a writer
            idle.signalAll();
            idleAgain = true;
            return;
          }
          next = null;
          batch = new ArrayList<>(waiting);
          waiting.clear();
        } finally {
          lock.unlock();
        }
        try {
          write.accept(state);
          batch.forEach(f -> f.complete(null));
        } catch (RuntimeException | Error e) {
          batch.forEach(f -> f.completeExceptionally(e));
          if (e instanceof Error) {
            throw e;
          }
        }
      }
    } finally {
      if (!idleAgain) {
        abandon();
      }
    }
  }

  /** After an Error: states not sent are dropped, their futures fail, and waiters are woken. */
  private void abandon() {
    lock.lock();
    try {
      next = null;
      IllegalStateException gone =
          new IllegalStateException("the state writer of task " + taskUuid + " failed");
      waiting.forEach(f -> f.completeExceptionally(gone));
      waiting.clear();
      writing = false;
      idle.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Ends the chain before the final state: drops a state not yet sent (its future completes, the
   * final state supersedes it) and waits for the write in flight, so the final write lands last.
   */
  void finish() {
    lock.lock();
    try {
      next = null;
      waiting.forEach(f -> f.complete(null));
      waiting.clear();
      while (writing) {
        idle.awaitUninterruptibly();
      }
    } finally {
      lock.unlock();
    }
  }
}
