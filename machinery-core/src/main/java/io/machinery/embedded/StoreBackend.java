package io.machinery.embedded;

import io.machinery.Signature;
import io.machinery.TaskProgress;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A backend over this JVM's {@link ResultStore}: what the eager and the memory backends share. They
 * differ in how a state write meets the previous one ({@link #write}: Go's eager backend replaces
 * it whole, the memory backend carries TaskName and CreatedAt forward as Go's Redis backend does)
 * and in how SUCCESS is stored.
 */
abstract sealed class StoreBackend implements Backend permits EagerBackend, MemoryBackend {
  final ResultStore store;

  StoreBackend(ResultStore store) {
    this.store = store;
  }

  /** Stores a state over the task's previous one. */
  abstract void write(TaskState state);

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
    return store.triggerChord(groupUuid, "") == Trigger.WON;
  }

  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    return store.triggerChord(groupUuid, memberUuid);
  }

  @Override
  public boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    return store.releaseChordTrigger(groupUuid, memberUuid);
  }

  @Override
  public boolean releasesChordTriggers() {
    return true;
  }

  @Override
  public void setStatePending(Signature signature) {
    store.pending(signature);
  }

  @Override
  public boolean setStatePendingIfAbsent(Signature signature) {
    return store.pendingIfAbsent(signature);
  }

  @Override
  public boolean storesPendingIfAbsent() {
    return true;
  }

  @Override
  public void setStateReceived(Signature signature) {
    write(TaskState.received(signature));
  }

  @Override
  public void setStateStarted(Signature signature) {
    write(TaskState.started(signature));
  }

  @Override
  public void setStateRetry(Signature signature) {
    write(TaskState.retry(signature));
  }

  @Override
  public void setStateFailure(Signature signature, String error) {
    write(TaskState.failure(signature, error));
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
  public void setProgress(String taskUuid, TaskProgress progress) {
    store.setProgress(taskUuid, progress);
  }

  @Override
  public Optional<TaskProgress> getProgress(String taskUuid) {
    return store.getProgress(taskUuid);
  }

  @Override
  public Optional<String> claimUnique(String key, String taskUuid, Duration ttl) {
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

  @Override
  public abstract void setStateSuccess(Signature signature, List<TaskResult> results);
}
