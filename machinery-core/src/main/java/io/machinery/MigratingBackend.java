package io.machinery;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ControlPlane;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A result backend that moves a cluster from one backend to another while it runs: it writes every
 * state, group and progress report to both, the old one first, and reads from the old one (the new
 * one when the old has nothing). The old backend stays the cluster's record until the move ends, so
 * processes not yet moved (Go's included) keep reading and writing there, and the new one fills up
 * with everything written from the first moved process on. Once every process moved and the old
 * backend holds nothing a reader still needs (its results expired: {@code RESULTS_EXPIRE_IN} after
 * the last process moved), drop the old backend from the configuration.
 *
 * <pre>{@code
 * Server server = Server.builder()
 *     .config(config)
 *     .broker(broker)
 *     .backend(MigratingBackend.of(RedisBackend.create(oldConfig), MongoDbBackend.create(newConfig)))
 *     .build();
 * }</pre>
 *
 * <p>From configuration: {@code MACHINERY_MIGRATE_FROM_RESULT_BACKEND} (YAML {@code
 * migrate_from_result_backend}, Spring {@code machinery.migrate-from-result-backend}) names the old
 * backend beside {@code RESULT_BACKEND}, and {@link Machinery#connect} builds this backend.
 *
 * <p>Design notes:
 *
 * <ul>
 *   <li><b>The old backend stays the record, the new one a copy that catches up.</b> Writing only
 *       to the new backend would hide what moved workers store from every process not yet moved (a
 *       Go producer waiting for its result would wait forever), and reading the new one first would
 *       show a moved producer a stale state where a worker not yet moved stored the outcome in the
 *       old one. Writing both keeps the old backend at least as far as the new one for every task
 *       (a blocking write reaches the old one first; the asynchronous PENDING, RECEIVED and STARTED
 *       are issued to both together and joined, and a final state follows them), so reads need only
 *       the old one and a move costs one more write per state, no more reads (the new one is read
 *       only where the old has nothing: expired or purged there).
 *   <li><b>Decisions that must be taken once stay with the old backend</b>: the chord trigger,
 *       {@link #setStatePendingIfAbsent} and uniqueness claims are decided there, where processes
 *       not yet moved decide them too, and what this process won is copied to the new one so it
 *       knows after the move. A copy that fails is logged and forgotten, never failing the
 *       decision: the caller could not tell a decision taken from one lost, and a chord member told
 *       it lost on a retry would never send its callback. The price: after the move ends, a member
 *       redelivered then may trigger again a chord whose trigger was not copied (won by a process
 *       not yet moved, or a copy that failed); chord callbacks are at-least-once anyway.
 *   <li><b>A failed state write fails</b>, whichever side it failed on, so the worker retries it as
 *       it retries any bookkeeping (writing a state twice is harmless).
 *   <li><b>The control plane</b> is the old backend's, as the processes not yet moved use it.
 *   <li><b>The publish is not held back</b> where the old backend's PENDING and the push leave in
 *       one write (a Redis broker and the old backend on one connection): the new backend's copy of
 *       PENDING is written only where the task has no state, from a virtual thread, in parallel
 *       with that write (the send completes when both are done), so it cannot replace a worker's
 *       later state however late it lands. A new backend that cannot write so (the AMQP backend)
 *       makes sends wait for both PENDING writes before publishing.
 *   <li><b>Ownership</b>: this backend takes the two it is given; closing it closes both.
 * </ul>
 */
public final class MigratingBackend implements Backend {
  private static final Logger log = LoggerFactory.getLogger(MigratingBackend.class);

  /** Runs the new backend's blocking PENDING-if-absent writes beside a send. */
  private static final java.util.concurrent.Executor COPIES =
      java.util.concurrent.Executors.newThreadPerTaskExecutor(
          Thread.ofVirtual().name("machinery-pending-copy-", 0).factory());

  private final Backend from;
  private final Backend to;

  /**
   * Whether the new backend stores PENDING only where a task has no state ({@link #writeOrder}).
   */
  private final boolean copiesPendingIfAbsent;

  private MigratingBackend(Backend from, Backend to) {
    this.from = Objects.requireNonNull(from, "from");
    this.to = Objects.requireNonNull(to, "to");
    if (from == to) {
      throw new IllegalArgumentException("a migration needs two backends; both are " + from);
    }
    this.copiesPendingIfAbsent = to.storesPendingIfAbsent();
  }

  /**
   * Builds a backend that writes to both and reads from {@code from}.
   *
   * @param from the backend the cluster moves away from
   * @param to the backend it moves to
   * @return the backend, which owns both: closing it closes them
   * @throws IllegalArgumentException if both are the same object
   */
  public static MigratingBackend of(Backend from, Backend to) {
    return new MigratingBackend(from, to);
  }

  /**
   * Builds the backend a configuration names: {@code build}'s backend of {@link
   * Config#resultBackend()}, or, while {@link Config#migrateFromResultBackend()} is set, a
   * migrating backend to that one from {@code build}'s backend of the old URL (given the same
   * config with {@code resultBackend} set to the old URL and no migration), each reading its own
   * technology's settings. {@link Machinery#connect} and the Spring Boot starter read a move this
   * way.
   *
   * @param config the configuration
   * @param settings what the caller's users call the two URL settings, for its errors
   * @param build builds one backend from a config whose {@link Config#resultBackend()} names it,
   *     told which setting named that URL (for its own errors)
   * @return the single backend, or a {@link MigratingBackend} owning both
   * @throws IllegalArgumentException if the old URL is the new one (a move to itself)
   * @throws RuntimeException whatever {@code build} throws; the new backend is closed first when
   *     the old one cannot be built
   */
  public static Backend fromConfig(
      Config config, Settings settings, BiFunction<Config, String, Backend> build) {
    return Moves.fromConfig(
        "result backend",
        config.resultBackend(),
        config.migrateFromResultBackend(),
        settings.resultBackend(),
        settings.migrateFromResultBackend(),
        () -> build.apply(config, settings.resultBackend()),
        () ->
            build.apply(
                config.toBuilder()
                    .resultBackend(config.migrateFromResultBackend())
                    .migrateFromResultBackend("")
                    .build(),
                settings.migrateFromResultBackend()),
        MigratingBackend::of,
        Backend::close);
  }

  /**
   * What users of a caller of {@link #fromConfig} call its two URL settings.
   *
   * @param resultBackend the backend's URL setting (e.g. {@code RESULT_BACKEND})
   * @param migrateFromResultBackend the old backend's (e.g. {@code
   *     MACHINERY_MIGRATE_FROM_RESULT_BACKEND})
   */
  public record Settings(String resultBackend, String migrateFromResultBackend) {
    /** The names of environment variables (and of Go Machinery's {@code RESULT_BACKEND}). */
    public static final Settings ENVIRONMENT =
        new Settings("RESULT_BACKEND", "MACHINERY_MIGRATE_FROM_RESULT_BACKEND");

    /** Checks that neither name is null. */
    public Settings {
      Objects.requireNonNull(resultBackend, "resultBackend");
      Objects.requireNonNull(migrateFromResultBackend, "migrateFromResultBackend");
    }
  }

  /**
   * Returns the backend the cluster moves away from: the record until the move ends.
   *
   * @return the old backend
   */
  public Backend from() {
    return from;
  }

  /**
   * Returns the backend the cluster moves to, which gets a copy of every write.
   *
   * @return the new backend
   */
  public Backend to() {
    return to;
  }

  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    both(b -> b.initGroup(groupUuid, taskUuids));
  }

  @Override
  public boolean groupCompleted(String groupUuid, int groupTaskCount) {
    try {
      return from.groupCompleted(groupUuid, groupTaskCount);
    } catch (StateNotFoundException e) {
      return fallBack(e, () -> to.groupCompleted(groupUuid, groupTaskCount));
    }
  }

  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount) {
    try {
      return from.groupTaskStates(groupUuid, groupTaskCount);
    } catch (StateNotFoundException e) {
      return fallBack(e, () -> to.groupTaskStates(groupUuid, groupTaskCount));
    }
  }

  /**
   * The new backend's answer where the old one lost the group; the old one's error when neither has
   * it.
   */
  private static <T> T fallBack(StateNotFoundException notInOld, Supplier<T> fromNew) {
    try {
      return fromNew.get();
    } catch (StateNotFoundException notInNew) {
      throw notInOld;
    }
  }

  /** Decided by the old backend; a win is copied to the new one. */
  @Override
  public boolean triggerChord(String groupUuid) {
    boolean won = from.triggerChord(groupUuid);
    if (won) {
      copy("chord trigger of group " + groupUuid, () -> to.triggerChord(groupUuid));
    }
    return won;
  }

  /**
   * Decided by the old backend; a win (or a win before) is copied to the new one with its member,
   * so the new one knows the winner. A loss is not copied: this caller does not know who won.
   */
  @Override
  public Trigger triggerChord(String groupUuid, String memberUuid) {
    Trigger trigger = from.triggerChord(groupUuid, memberUuid);
    if (trigger != Trigger.LOST) {
      copy("chord trigger of group " + groupUuid, () -> to.triggerChord(groupUuid, memberUuid));
    }
    return trigger;
  }

  /**
   * Decided by the old backend; a release is copied to the new one, which then forgets the winner
   * too (a trigger the new one kept would make the member that wins the old one's after the move
   * lose there).
   */
  @Override
  public boolean releaseChordTrigger(String groupUuid, String memberUuid) {
    boolean released = from.releaseChordTrigger(groupUuid, memberUuid);
    if (released) {
      copy(
          "chord trigger release of group " + groupUuid,
          () -> to.releaseChordTrigger(groupUuid, memberUuid));
    }
    return released;
  }

  /** Only where both backends release: a trigger either kept would outlive the release. */
  @Override
  public boolean releasesChordTriggers() {
    return from.releasesChordTriggers() && to.releasesChordTriggers();
  }

  @Override
  public void setStatePending(Signature signature) {
    both(b -> b.setStatePending(signature));
  }

  /** Decided by the old backend; a PENDING it stored is copied to the new one. */
  @Override
  public boolean setStatePendingIfAbsent(Signature signature) {
    boolean stored = from.setStatePendingIfAbsent(signature);
    if (stored) {
      copy(
          "PENDING of " + signature.uuid(),
          copiesPendingIfAbsent
              ? () -> {
                var unused = to.setStatePendingIfAbsent(signature);
              }
              : () -> to.setStatePending(signature));
    }
    return stored;
  }

  @Override
  public boolean storesPendingIfAbsent() {
    return from.storesPendingIfAbsent();
  }

  /**
   * PENDING in both; in the new backend only where the task has no state yet when it can (see
   * {@link #writeOrder()}), from a virtual thread, so the caller is not held.
   */
  @Override
  public CompletableFuture<Void> setStatePendingAsync(Signature signature) {
    if (!copiesPendingIfAbsent) {
      return bothAsync(b -> b.setStatePendingAsync(signature));
    }
    return CompletableFuture.allOf(
        issue(from, b -> b.setStatePendingAsync(signature)), copyPending(List.of(signature)));
  }

  /** {@link #setStatePendingAsync} for several tasks. */
  @Override
  public CompletableFuture<Void> setStatePendingAllAsync(List<Signature> signatures) {
    if (!copiesPendingIfAbsent) {
      return bothAsync(b -> b.setStatePendingAllAsync(signatures));
    }
    return CompletableFuture.allOf(
        issue(from, b -> b.setStatePendingAllAsync(signatures)), copyPending(signatures));
  }

  /**
   * The new backend's PENDING writes, each only where the task has no state: one virtual thread per
   * task, as the write blocks (a client that pipelines, as Lettuce does, sends a batch's together).
   */
  private CompletableFuture<Void> copyPending(List<Signature> signatures) {
    CompletableFuture<?>[] writes = new CompletableFuture<?>[signatures.size()];
    for (int i = 0; i < writes.length; i++) {
      Signature signature = signatures.get(i);
      writes[i] =
          CompletableFuture.runAsync(
              () -> {
                var unused = to.setStatePendingIfAbsent(signature);
              },
              COPIES);
    }
    return CompletableFuture.allOf(writes);
  }

  /**
   * The old backend's connection, so a send whose broker shares it stays one pipelined round trip,
   * when the new backend stores PENDING only where a task has no state: that copy, on a connection
   * of its own, may then land after a worker's first states without replacing them. Otherwise
   * empty: a send waits for both PENDING writes before it publishes.
   */
  @Override
  public Optional<Object> writeOrder() {
    return copiesPendingIfAbsent ? from.writeOrder() : Optional.empty();
  }

  @Override
  public void setStateReceived(Signature signature) {
    both(b -> b.setStateReceived(signature));
  }

  @Override
  public void setStateStarted(Signature signature) {
    both(b -> b.setStateStarted(signature));
  }

  @Override
  public void setStateRetry(Signature signature) {
    both(b -> b.setStateRetry(signature));
  }

  @Override
  public CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    return bothAsync(b -> b.setStateReceivedAsync(signature));
  }

  @Override
  public CompletableFuture<Void> setStateStartedAsync(Signature signature) {
    return bothAsync(b -> b.setStateStartedAsync(signature));
  }

  @Override
  public void runEnded(Signature signature) {
    try {
      from.runEnded(signature);
    } finally {
      to.runEnded(signature);
    }
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    both(b -> b.setStateSuccess(signature, results));
  }

  @Override
  public void setStateFailure(Signature signature, String error) {
    both(b -> b.setStateFailure(signature, error));
  }

  @Override
  public Optional<TaskState> getState(String taskUuid) {
    Optional<TaskState> state = from.getState(taskUuid);
    return state.isPresent() ? state : to.getState(taskUuid);
  }

  @Override
  public void purgeState(String taskUuid) {
    both(b -> b.purgeState(taskUuid));
  }

  @Override
  public void purgeGroupMeta(String groupUuid) {
    both(b -> b.purgeGroupMeta(groupUuid));
  }

  /** True when either backend's reads consume states: the worker then takes the careful path. */
  @Override
  public boolean consumesStatesOnRead() {
    return from.consumesStatesOnRead() || to.consumesStatesOnRead();
  }

  /**
   * Stores the report in each backend that keeps progress.
   *
   * @throws UnsupportedOperationException when neither does
   */
  @Override
  public void setProgress(String taskUuid, TaskProgress progress) {
    boolean kept = keepsProgress(from, b -> b.setProgress(taskUuid, progress));
    if (!keepsProgress(to, b -> b.setProgress(taskUuid, progress)) && !kept) {
      throw new UnsupportedOperationException(
          "neither " + name(from) + " nor " + name(to) + " can keep task progress");
    }
  }

  /**
   * Reads the old backend's report, else the new one's.
   *
   * @throws UnsupportedOperationException when neither keeps progress
   */
  @Override
  public Optional<TaskProgress> getProgress(String taskUuid) {
    Optional<TaskProgress> old = Optional.empty();
    boolean oldKeeps = true;
    try {
      old = from.getProgress(taskUuid);
    } catch (UnsupportedOperationException e) {
      oldKeeps = false;
    }
    if (old.isPresent()) {
      return old;
    }
    try {
      return to.getProgress(taskUuid);
    } catch (UnsupportedOperationException e) {
      if (oldKeeps) {
        return old;
      }
      throw new UnsupportedOperationException(
          "neither " + name(from) + " nor " + name(to) + " can keep task progress", e);
    }
  }

  private static boolean keepsProgress(Backend backend, Consumer<Backend> write) {
    try {
      write.accept(backend);
      return true;
    } catch (UnsupportedOperationException e) {
      return false;
    }
  }

  @Override
  public Optional<ControlPlane> controlPlane() {
    return from.controlPlane();
  }

  @Override
  public Optional<String> claimUnique(String key, String taskUuid, Duration ttl) {
    Optional<String> holder = from.claimUnique(key, taskUuid, ttl);
    if (holder.isEmpty()) {
      copy("uniqueness key " + key, () -> to.claimUnique(key, taskUuid, ttl));
    }
    return holder;
  }

  @Override
  public void releaseUnique(String key, String taskUuid) {
    from.releaseUnique(key, taskUuid);
    copy("release of uniqueness key " + key, () -> to.releaseUnique(key, taskUuid));
  }

  @Override
  public void close() {
    try {
      to.close();
    } finally {
      from.close();
    }
  }

  @Override
  public String toString() {
    return "MigratingBackend[from=" + name(from) + ", to=" + name(to) + "]";
  }

  /** Writes the old backend, then the new one; a failure on either fails the write. */
  private void both(Consumer<Backend> write) {
    write.accept(from);
    write.accept(to);
  }

  /**
   * Issues the write on the old backend, then on the new one, without waiting between them: each
   * backend keeps its own order, and the old one is read, so which lands first does not matter.
   */
  private CompletableFuture<Void> bothAsync(Function<Backend, CompletableFuture<Void>> write) {
    CompletableFuture<Void> old = issue(from, write);
    CompletableFuture<Void> fresh = issue(to, write);
    return CompletableFuture.allOf(old, fresh);
  }

  private static CompletableFuture<Void> issue(
      Backend backend, Function<Backend, CompletableFuture<Void>> write) {
    try {
      return write.apply(backend);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** Copies a decision the old backend took to the new one; a failure is logged, not thrown. */
  private void copy(String what, Runnable write) {
    try {
      write.run();
    } catch (UnsupportedOperationException e) {
      // the new backend cannot keep it: nothing to copy
    } catch (StateNotFoundException e) {
      // a group that began before the move, or on a process not yet moved, is not in the new
      // backend: nothing to copy it onto
      log.debug("Nothing to copy the {} onto in the new result backend: {}", what, e.getMessage());
    } catch (RuntimeException e) {
      log.warn(
          "Could not copy the {} to the result backend the cluster moves to ({}); the old one"
              + " decided and keeps it",
          what,
          name(to),
          e);
    }
  }

  private static String name(Backend backend) {
    return backend.getClass().getSimpleName();
  }
}
