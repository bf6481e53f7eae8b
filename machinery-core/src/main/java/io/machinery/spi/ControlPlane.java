package io.machinery.spi;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * The state that all processes of one deployment share to be operated as one: which workers are
 * alive and what they run, and which queues an operator paused. Workers write it ({@link #announce}
 * on every heartbeat); the inspection tools (CLI, dashboard, a service's own endpoints) read it and
 * pause or resume queues.
 *
 * <p>Get one from {@link Broker#controlPlane()} or {@link Backend#controlPlane()} (a server uses
 * its broker's, else its backend's, else the one given to its builder). Redis keeps it in a few
 * keys with expiry; the memory broker in memory.
 *
 * <p>Design notes: an announcement is a whole {@link WorkerStatus} with a time to live, replaced by
 * the next one; a worker that dies simply stops announcing and disappears when the time to live
 * runs out, so no reaper is needed and a crashed worker is never listed for long. Pausing is a flag
 * per queue that workers read on their heartbeat: a pause takes effect within one heartbeat
 * interval on every worker, including workers that start later, and tasks already running finish.
 * The data is small (one entry per worker, one per paused queue): listings are not paged.
 *
 * <p>Implementations are thread-safe; methods throw {@link io.machinery.MachineryException} when
 * the store cannot be reached. The contract kit is {@code
 * io.machinery.testkit.ControlPlaneContract}.
 */
public interface ControlPlane {

  /**
   * Records (or replaces) a worker's status, to be listed until {@code ttl} passes without a newer
   * one.
   *
   * @param status the worker's status; {@link WorkerStatus#id()} identifies it
   * @param ttl how long the status stays listed without a newer announcement; positive
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void announce(WorkerStatus status, Duration ttl);

  /**
   * Removes a worker's status at once (a worker that stops cleanly).
   *
   * @param workerId the worker's {@link WorkerStatus#id()}; unknown ids are ignored
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void withdraw(String workerId);

  /**
   * Lists the live workers: those whose last announcement has not expired.
   *
   * @return the workers' last statuses, ordered by id
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  List<WorkerStatus> workers();

  /**
   * Pauses a queue: every worker consuming it stops fetching within one heartbeat, until {@link
   * #resume}. Idempotent.
   *
   * @param queue the queue's actual name (not empty)
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void pause(String queue);

  /**
   * Resumes a paused queue. Idempotent; resuming a queue that is not paused does nothing.
   *
   * @param queue the queue's actual name (not empty)
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  void resume(String queue);

  /**
   * Returns the paused queues.
   *
   * @return the names of the paused queues
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  Set<String> pausedQueues();

  /**
   * Revokes tasks: records their UUIDs for {@code ttl}, so every worker skips them when they are
   * delivered and cancels them where they run (workers read {@link #revoked()} on every heartbeat).
   * Idempotent; revoking a UUID again extends its time to live. The default refuses: a control
   * plane that keeps no revocations.
   *
   * <p>An implementation keeps each UUID with its expiry and answers {@link #revoked()} with the
   * unexpired ones. On Redis: one sorted set under the control plane's prefix, scored by expiry in
   * epoch milliseconds ({@code ZADD}, pipelined with a {@code ZREMRANGEBYSCORE -inf <now>} that
   * drops expired ones); {@link #revoked()} is {@code ZRANGE … BYSCORE <now> +inf}. The set stays
   * small: revocations are rare and expire.
   *
   * @param taskUuids the tasks' UUIDs; empty does nothing
   * @param ttl how long workers remember them; positive (a task still queued after that runs)
   * @throws UnsupportedOperationException when this control plane keeps no revocations
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default void revoke(java.util.Collection<String> taskUuids, Duration ttl) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no revoked tasks");
  }

  /**
   * Returns the revoked task UUIDs whose time to live has not run out.
   *
   * @return the UUIDs
   * @throws UnsupportedOperationException when this control plane keeps no revocations
   * @throws io.machinery.MachineryException when the store cannot be reached
   */
  default Set<String> revoked() {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no revoked tasks");
  }
}
