package io.machinery;

import io.machinery.spi.ControlPlane;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's copy of the revoked task UUIDs ({@link ControlPlane#revoked()}), refreshed on every
 * heartbeat.
 *
 * <p>Design notes: a delivered task is checked against this copy, not the store, so cancellation
 * costs no round trip per task; the copy is at most one heartbeat old. A task revoked before it is
 * delivered is skipped (FAILURE {@value Server#CANCELLED_ERROR}, never started) if the worker
 * refreshed since; a task delivered in the heartbeat right after its revocation starts and is then
 * cancelled as a running one, within the next heartbeat. Running tasks found revoked get {@link
 * TaskExecution#revoke}: cooperative at once through {@link TaskContext#isCancelled()}, then an
 * interrupt after the grace period. A control plane that keeps no revocations disables this for
 * good (logged once); one that fails keeps the last copy.
 */
final class Revocations {
  private static final Logger log = LoggerFactory.getLogger(Revocations.class);

  private final @Nullable ControlPlane controlPlane;
  private final Duration grace;
  private volatile Set<String> revoked = Set.of();
  private volatile boolean supported = true;

  Revocations(@Nullable ControlPlane controlPlane, Duration grace) {
    this.controlPlane = controlPlane;
    this.grace = grace;
  }

  boolean isRevoked(String taskUuid) {
    Set<String> known = revoked;
    return !known.isEmpty() && known.contains(taskUuid);
  }

  /**
   * Reads the revoked UUIDs and cancels the running tasks among them.
   *
   * @throws io.machinery.MachineryException when the control plane cannot be read (the heartbeat
   *     logs it)
   */
  void refresh(Collection<TaskExecution> running) {
    ControlPlane plane = controlPlane;
    if (plane == null || !supported) {
      return;
    }
    try {
      revoked = plane.revoked();
    } catch (UnsupportedOperationException e) {
      supported = false;
      log.info(
          "The control plane {} keeps no revoked tasks: tasks cannot be cancelled on this worker",
          plane.getClass().getSimpleName());
      return;
    }
    if (revoked.isEmpty()) {
      return;
    }
    for (TaskExecution execution : running) {
      if (revoked.contains(execution.signature().uuid())) {
        execution.revoke(grace);
      }
    }
  }
}
