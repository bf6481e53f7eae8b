package io.machinery.embedded;

import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * Go's eager backend, for tests: states in a map, each state write replacing the previous one whole
 * (no carry-forward), values round-tripped through Go JSON. Unlike Go, a chord triggers once (Go's
 * always says yes, which is safe only because its eager broker is synchronous). Thread-safe.
 */
public final class EagerBackend implements Backend {
  private final ResultStore store =
      new ResultStore(Clock.systemUTC(), Config.DEFAULT_RESULTS_EXPIRE_IN * 24);

  private EagerBackend() {}

  public static EagerBackend create() {
    return new EagerBackend();
  }

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    store.initGroup(groupUuid, taskUuids);
  }

  @Override
  public boolean groupCompleted(String groupUuid, int count) {
    return store.groupCompleted(groupUuid, count);
  }

  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int count) {
    return store.groupTaskStates(groupUuid);
  }

  @Override
  public boolean triggerChord(String groupUuid) {
    return store.triggerChord(groupUuid);
  }

  @Override
  public void setStatePending(Signature signature) {
    store.pending(signature);
  }

  @Override
  public void setStateReceived(Signature signature) {
    store.put(TaskState.received(signature));
  }

  @Override
  public void setStateStarted(Signature signature) {
    store.put(TaskState.started(signature));
  }

  @Override
  public void setStateRetry(Signature signature) {
    store.put(TaskState.retry(signature));
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    store.put(TaskState.success(signature, results));
  }

  @Override
  public void setStateFailure(Signature signature, String error) {
    store.put(TaskState.failure(signature, error));
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    return store.get(taskUuid);
  }

  @Override
  public void purgeState(String taskUuid) {
    store.purgeState(taskUuid);
  }

  @Override
  public void setProgress(String taskUuid, io.machinery.TaskProgress progress) {
    store.setProgress(taskUuid, progress);
  }

  @Override
  public Optional<io.machinery.TaskProgress> getProgress(String taskUuid) {
    return store.getProgress(taskUuid);
  }

  @Override
  public Optional<String> claimUnique(String key, String taskUuid, java.time.Duration ttl) {
    return store.claimUnique(key, taskUuid, ttl);
  }

  @Override
  public void releaseUnique(String key, String taskUuid) {
    store.releaseUnique(key, taskUuid);
  }

  @Override
  public void purgeGroupMeta(String groupUuid) {
    store.purgeGroup(groupUuid);
  }

  @Override
  public void close() {
    store.clear();
  }
}
