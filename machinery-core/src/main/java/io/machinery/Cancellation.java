package io.machinery;

import io.machinery.spi.Backend;
import io.machinery.spi.ControlPlane;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;

/**
 * {@link Server#cancel}: revoke first, then record.
 *
 * <p>Design notes: the revocation goes to the control plane before any state is written, so a
 * worker that refreshes in between already skips the task. The FAILURE written here is for waiting
 * clients; the worker that meets the task later writes its own FAILURE and completes its chord. A
 * task that finished already keeps its state (where states can be read without consuming them); one
 * that finishes while being cancelled may keep its SUCCESS if the worker stored it before it learnt
 * of the revocation.
 */
final class Cancellation {
  private Cancellation() {}

  static int cancel(Server server, Collection<String> taskUuids) {
    Set<String> uuids = new LinkedHashSet<>();
    for (String uuid : taskUuids) {
      if (java.util.Objects.requireNonNull(uuid, "task uuid").isEmpty()) {
        throw new IllegalArgumentException("a task UUID to cancel must not be empty");
      }
      uuids.add(uuid);
    }
    if (uuids.isEmpty()) {
      return 0;
    }
    ControlPlane plane =
        server
            .controlPlane()
            .orElseThrow(
                () ->
                    new UnsupportedOperationException(
                        "cancelling needs a control plane (workers learn of revocations through it): neither the broker "
                            + server.broker().getClass().getSimpleName()
                            + " nor the backend "
                            + server.backend().getClass().getSimpleName()
                            + " keeps one; give one to Server.builder().controlPlane()"));
    plane.revoke(uuids, Duration.ofSeconds(server.config().effectiveResultsExpireIn()));
    Backend backend = server.backend();
    int cancelled = 0;
    for (String uuid : uuids) {
      Optional<TaskState> state =
          backend.consumesStatesOnRead() ? Optional.empty() : backend.getState(uuid);
      if (state.map(TaskState::isCompleted).orElse(false)) {
        continue;
      }
      backend.setStateFailure(Signature.emptyBuilder().uuid(uuid).build(), Server.CANCELLED_ERROR);
      cancelled++;
    }
    return cancelled;
  }
}
