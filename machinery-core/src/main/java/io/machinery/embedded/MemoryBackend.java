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
 * A result backend in this JVM's memory: the embedded default. States are kept as Go JSON (so the
 * wire format is exercised), TaskName and CreatedAt are carried forward as Go's Redis backend does,
 * a chord triggers exactly once, and entries expire after {@link Config#effectiveResultsExpireIn()}
 * seconds. Thread-safe.
 */
public final class MemoryBackend implements Backend {
  private final ResultStore store;

  private MemoryBackend(Config config, Clock clock) {
    this.store = new ResultStore(clock, config.effectiveResultsExpireIn());
  }

  public static MemoryBackend create() {
    return new MemoryBackend(Config.DEFAULT, Clock.systemUTC());
  }

  public static MemoryBackend create(Config config, Clock clock) {
    return new MemoryBackend(config, clock);
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
    store.merge(TaskState.received(signature));
  }

  @Override
  public void setStateStarted(Signature signature) {
    store.merge(TaskState.started(signature));
  }

  @Override
  public void setStateRetry(Signature signature) {
    store.merge(TaskState.retry(signature));
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    store.success(signature, results);
  }

  @Override
  public void setStateFailure(Signature signature, String error) {
    store.merge(TaskState.failure(signature, error));
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
