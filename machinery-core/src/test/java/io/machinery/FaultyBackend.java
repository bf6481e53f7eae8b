package io.machinery;

import io.machinery.spi.Backend;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake: a real backend whose chosen operations fail a given number of times (or always), as a
 * backend outage, a refused write or a lost key would make them. No real server here can fail one
 * operation on cue.
 */
final class FaultyBackend implements Backend {
  /** The operations that can be made to fail. */
  enum Op {
    PENDING,
    PENDING_IF_ABSENT,
    RECEIVED,
    SUCCESS,
    FAILURE,
    GROUP_COMPLETED,
    GROUP_STATES,
    TRIGGER,
    GET_STATE,
    RUN_ENDED
  }

  static final int ALWAYS = Integer.MAX_VALUE;

  private final Backend delegate;
  private final Map<Op, AtomicInteger> failuresLeft = new ConcurrentHashMap<>();
  private final Map<Op, AtomicInteger> calls = new ConcurrentHashMap<>();

  private volatile boolean consumesStatesOnRead;
  private volatile boolean failsInFutures;
  private volatile boolean losingClaimReplies;
  private volatile boolean notFoundInWordsOnly;
  private volatile boolean pendingIfAbsent = true;
  private volatile boolean releasesTriggers = true;
  private volatile @org.jspecify.annotations.Nullable Runnable beforeNextRelease;
  private final Map<String, Runnable> beforeTriggerBy = new ConcurrentHashMap<>();
  private volatile java.util.Set<String> heldSuccessOf = java.util.Set.of();
  private final java.util.concurrent.CountDownLatch successGate =
      new java.util.concurrent.CountDownLatch(1);
  private volatile @org.jspecify.annotations.Nullable Runnable beforeNextGroupRead;
  private final Map<Op, Integer> failAfter = new ConcurrentHashMap<>();
  private volatile java.util.Set<String> refusedSuccessOf = java.util.Set.of();
  private volatile Optional<Object> writeOrder = Optional.empty();

  FaultyBackend(Backend delegate) {
    this.delegate = delegate;
  }

  /**
   * Says that this backend writes on {@code connection}, as a Redis backend shares the Redis
   * broker's connection (a broker with the same {@link io.machinery.spi.Broker#writeOrder()} gets
   * PENDING and the publish pipelined).
   */
  FaultyBackend writingOn(Object connection) {
    writeOrder = Optional.of(connection);
    return this;
  }

  @Override
  public Optional<Object> writeOrder() {
    return writeOrder;
  }

  /**
   * Says that this backend cannot store PENDING only where there is none (a chord's callback then
   * gets PENDING before its publish, as in Go).
   */
  FaultyBackend withoutPendingIfAbsent() {
    pendingIfAbsent = false;
    return this;
  }

  @Override
  public boolean storesPendingIfAbsent() {
    return pendingIfAbsent && delegate.storesPendingIfAbsent();
  }

  @Override
  public boolean setStatePendingIfAbsent(Signature signature) {
    maybeFail(Op.PENDING_IF_ABSENT);
    return delegate.setStatePendingIfAbsent(signature);
  }

  /** Says that reads consume states, as Go's AMQP backend does. */
  FaultyBackend consumingReads() {
    consumesStatesOnRead = true;
    return this;
  }

  /**
   * Says a missing group or state as a backend of another party might: a plain MachineryException
   * with Go's words ("Group not found: …"), not a {@link StateNotFoundException}.
   */
  FaultyBackend sayingNotFoundInWordsOnly() {
    notFoundInWordsOnly = true;
    return this;
  }

  private <T> T chordRead(java.util.function.Supplier<T> read) {
    try {
      return read.get();
    } catch (StateNotFoundException e) {
      if (notFoundInWordsOnly) {
        throw new MachineryException(e.getMessage());
      }
      throw e;
    }
  }

  @Override
  public boolean consumesStatesOnRead() {
    return consumesStatesOnRead;
  }

  /**
   * The SUCCESS writes of tasks named {@code names} wait until {@link #releaseSuccesses} (a backend
   * that is slow to answer).
   */
  FaultyBackend holdingSuccessOf(String... names) {
    heldSuccessOf = java.util.Set.of(names);
    return this;
  }

  /** Lets the held SUCCESS writes through, and every later one. */
  void releaseSuccesses() {
    successGate.countDown();
  }

  /** The next {@code times} calls of {@code op} throw. */
  FaultyBackend failing(Op op, int times) {
    failuresLeft.put(op, new AtomicInteger(times));
    return this;
  }

  /**
   * The SUCCESS writes of tasks named {@code names} are refused as results the backend cannot hold
   * would be (an {@link IllegalArgumentException}: over DynamoDB's item size, say).
   */
  FaultyBackend refusingSuccessOf(String... names) {
    refusedSuccessOf = java.util.Set.of(names);
    return this;
  }

  /**
   * Each uniqueness claim is made twice and answered by the second, as a client does that tries a
   * write again whose reply was lost (the AWS SDK, MongoDB's retryable writes): the first took the
   * key, so the second finds it held by the caller itself.
   */
  FaultyBackend losingClaimReplies() {
    losingClaimReplies = true;
    return this;
  }

  @Override
  public Optional<String> claimUnique(String key, String taskUuid, java.time.Duration ttl) {
    Optional<String> first = delegate.claimUnique(key, taskUuid, ttl);
    return losingClaimReplies ? delegate.claimUnique(key, taskUuid, ttl) : first;
  }

  @Override
  public void releaseUnique(String key, String taskUuid) {
    delegate.releaseUnique(key, taskUuid);
  }

  /** The calls of {@code op} after the first {@code ok} ones throw, every time. */
  FaultyBackend failingAfter(Op op, int ok) {
    failAfter.put(op, ok);
    return this;
  }

  /**
   * Runs {@code action} once, just before the next read of a group's states (a re-run starting in
   * between).
   */
  FaultyBackend beforeNextGroupRead(Runnable action) {
    beforeNextGroupRead = action;
    return this;
  }

  @Override
  public void runEnded(Signature signature) {
    maybeFail(Op.RUN_ENDED);
    delegate.runEnded(signature);
  }

  int calls(Op op) {
    return calls.computeIfAbsent(op, o -> new AtomicInteger()).get();
  }

  private void maybeFail(Op op) {
    int call = calls.computeIfAbsent(op, o -> new AtomicInteger()).incrementAndGet();
    Integer ok = failAfter.get(op);
    if (ok != null && call > ok) {
      throw new MachineryException("injected failure of " + op + " after " + ok + " calls");
    }
    AtomicInteger left = failuresLeft.get(op);
    if (left != null && left.getAndUpdate(n -> n == ALWAYS ? n : Math.max(0, n - 1)) > 0) {
      throw new MachineryException("injected failure of " + op);
    }
  }

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    delegate.initGroup(groupUuid, taskUuids);
  }

  @Override
  public boolean groupCompleted(String groupUuid, int groupTaskCount) {
    maybeFail(Op.GROUP_COMPLETED);
    return chordRead(() -> delegate.groupCompleted(groupUuid, groupTaskCount));
  }

  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount) {
    maybeFail(Op.GROUP_STATES);
    Runnable action = beforeNextGroupRead;
    beforeNextGroupRead = null;
    if (action != null) {
      action.run();
    }
    return chordRead(() -> delegate.groupTaskStates(groupUuid, groupTaskCount));
  }

  @Override
  public boolean triggerChord(String groupUuid) {
    maybeFail(Op.TRIGGER);
    return chordRead(() -> delegate.triggerChord(groupUuid));
  }

  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    maybeFail(Op.TRIGGER);
    Runnable before = beforeTriggerBy.get(memberUuid);
    if (before != null) {
      before.run();
    }
    return chordRead(() -> delegate.triggerChord(groupUuid, memberUuid));
  }

  @Override
  public boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    if (!releasesTriggers) {
      throw new UnsupportedOperationException("FaultyBackend made without trigger releases");
    }
    Runnable action = beforeNextRelease;
    beforeNextRelease = null;
    if (action != null) {
      action.run();
    }
    return delegate.releaseChordTrigger(groupUuid, memberUuid);
  }

  /** Runs {@code action} once, just before the next release of a chord trigger. */
  FaultyBackend beforeNextRelease(Runnable action) {
    beforeNextRelease = action;
    return this;
  }

  /**
   * Runs {@code action} before each chord trigger asked for by the member {@code memberUuid} (a
   * member that comes to the trigger only after another).
   */
  FaultyBackend beforeTriggerBy(String memberUuid, Runnable action) {
    beforeTriggerBy.put(memberUuid, action);
    return this;
  }

  @Override
  public boolean releasesChordTriggers() {
    return releasesTriggers && delegate.releasesChordTriggers();
  }

  /**
   * Says that this backend cannot release a chord trigger (a backend of another party, or one
   * written before releases): a winner then keeps the trigger and leaves the callback to a member
   * running again.
   */
  FaultyBackend withoutTriggerReleases() {
    releasesTriggers = false;
    return this;
  }

  @Override
  public void setStatePending(Signature signature) {
    maybeFail(Op.PENDING);
    delegate.setStatePending(signature);
  }

  @Override
  public void setStateReceived(Signature signature) {
    maybeFail(Op.RECEIVED);
    delegate.setStateReceived(signature);
  }

  /**
   * Makes an injected RECEIVED failure come in the future {@link #setStateReceivedAsync} returns,
   * as a pipelining backend (Redis, AMQP) reports it, instead of being thrown.
   */
  void failingInFutures() {
    failsInFutures = true;
  }

  @Override
  public java.util.concurrent.CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    if (!failsInFutures) {
      return Backend.super.setStateReceivedAsync(signature);
    }
    try {
      setStateReceived(signature);
      return java.util.concurrent.CompletableFuture.completedFuture(null);
    } catch (RuntimeException e) {
      return java.util.concurrent.CompletableFuture.failedFuture(e);
    }
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
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    maybeFail(Op.SUCCESS);
    if (refusedSuccessOf.contains(signature.name())) {
      throw new IllegalArgumentException("injected refusal of SUCCESS");
    }
    if (heldSuccessOf.contains(signature.name())) {
      try {
        if (!successGate.await(60, java.util.concurrent.TimeUnit.SECONDS)) {
          throw new MachineryException("held SUCCESS of " + signature.name() + " never released");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException("interrupted while holding a SUCCESS", e);
      }
    }
    delegate.setStateSuccess(signature, results);
  }

  @Override
  public void setStateFailure(Signature signature, String error) {
    maybeFail(Op.FAILURE);
    delegate.setStateFailure(signature, error);
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    maybeFail(Op.GET_STATE);
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
}
