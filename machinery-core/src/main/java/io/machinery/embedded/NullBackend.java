package io.machinery.embedded;

import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.spi.Backend;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Go's null backend: states are discarded, so results cannot be read ({@link #getState} is always
 * empty). A known group counts as completed, and its chord fires once with no results. Thread-safe.
 */
public final class NullBackend implements Backend {
  private final Set<String> groups = ConcurrentHashMap.newKeySet();
  private final Set<String> triggered = ConcurrentHashMap.newKeySet();

  private NullBackend() {}

  public static NullBackend create() {
    return new NullBackend();
  }

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    groups.add(groupUuid);
  }

  @Override
  public boolean groupCompleted(String groupUuid, int count) {
    return groups.contains(groupUuid);
  }

  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int count) {
    return List.of();
  }

  @Override
  public boolean triggerChord(String groupUuid) {
    return triggered.add(groupUuid);
  }

  @Override
  public void setStatePending(Signature signature) {}

  @Override
  public void setStateReceived(Signature signature) {}

  @Override
  public void setStateStarted(Signature signature) {}

  @Override
  public void setStateRetry(Signature signature) {}

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {}

  @Override
  public void setStateFailure(Signature signature, String error) {}

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    return Optional.empty();
  }

  @Override
  public void purgeState(String taskUuid) {}

  @Override
  public void purgeGroupMeta(String groupUuid) {
    groups.remove(groupUuid);
    triggered.remove(groupUuid);
  }

  @Override
  public void close() {}
}
