package io.machinery.broker.gcppubsub;

import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.spi.Backend;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake backend: the memory backend whose first {@code failures} SUCCESS writes throw, as a result
 * store that is briefly unreachable would. No real server can be made to fail exactly one write on
 * cue.
 */
final class FlakyBackend implements Backend {
  private final Backend delegate;
  private final AtomicInteger failuresLeft;
  private final AtomicInteger failed = new AtomicInteger();

  FlakyBackend(Backend delegate, int failures) {
    this.delegate = delegate;
    this.failuresLeft = new AtomicInteger(failures);
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    if (failuresLeft.getAndDecrement() > 0) {
      failed.incrementAndGet();
      throw new IllegalStateException(
          "fake outage: the SUCCESS write of " + signature.uuid() + " failed");
    }
    delegate.setStateSuccess(signature, results);
  }

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    delegate.initGroup(groupUuid, taskUuids);
  }

  @Override
  public boolean groupCompleted(String groupUuid, int count) {
    return delegate.groupCompleted(groupUuid, count);
  }

  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int count) {
    return delegate.groupTaskStates(groupUuid, count);
  }

  @Override
  public boolean triggerChord(String groupUuid) {
    return delegate.triggerChord(groupUuid);
  }

  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    return delegate.triggerChord(groupUuid, memberUuid);
  }

  @Override
  public void setStatePending(Signature signature) {
    delegate.setStatePending(signature);
  }

  @Override
  public void setStateReceived(Signature signature) {
    delegate.setStateReceived(signature);
  }

  @Override
  public void setStateStarted(Signature signature) {
    delegate.setStateStarted(signature);
  }

  @Override
  public void setStateRetry(Signature signature) {
    delegate.setStateRetry(signature);
  }

  @Override
  public void setStateFailure(Signature signature, String error) {
    delegate.setStateFailure(signature, error);
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    return delegate.getState(taskUuid);
  }

  @Override
  public void purgeState(String taskUuid) {
    delegate.purgeState(taskUuid);
  }

  @Override
  public void purgeGroupMeta(String groupUuid) {
    delegate.purgeGroupMeta(groupUuid);
  }

  @Override
  public void close() {
    delegate.close();
  }

  /** How many SUCCESS writes this backend refused. */
  int failures() {
    return failed.get();
  }
}
