package io.machinery;

import io.machinery.spi.Backend;
import java.util.Optional;

/** Reading progress where a backend may not keep it. */
final class Progresses {
  private Progresses() {}

  /** The task's last progress report; empty when there is none or the backend keeps no progress. */
  static Optional<TaskProgress> read(Backend backend, String taskUuid) {
    try {
      return backend.getProgress(taskUuid);
    } catch (UnsupportedOperationException e) {
      return Optional.empty();
    }
  }
}
