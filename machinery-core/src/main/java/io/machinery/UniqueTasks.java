package io.machinery;

import io.machinery.spi.Backend;
import io.machinery.wire.BodyPreview;
import io.machinery.wire.LogText;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Unique tasks ({@link Server#sendTaskUnique}): at most one task per uniqueness key is pending or
 * running.
 *
 * <p>Design notes: the sender claims the key in the result backend before anything is stored or
 * published ({@link Backend#claimUnique}: atomic across senders, one round trip), so of racing
 * senders exactly one sends and the others get its handle. The key travels in the message's header
 * {@value #HEADER} (a string, as Go carries headers on), and the worker releases it once the task's
 * final state is stored (SUCCESS or FAILURE; a retry keeps it), compare-and-delete, so a later
 * claimant is never released by an earlier task. A holder that finished without releasing (a Go
 * worker ran it, its release failed, or it was cancelled while waiting) is found by the next sender
 * that meets it: the holder's state is read (only then, one read), and when it is final the key is
 * released from that holder (compare-and-delete again, so racing senders still send one task) and
 * claimed anew. A cancelled task counts as finished at once ({@link Server#cancel} stores its
 * FAILURE), even a running one still winding down in its grace period. A holder that never ran and
 * has no final state (a purged queue's task) keeps the key until its time to live unless cancelled:
 * set the TTL to about the longest a task should wait and run. The default key is a SHA-256 of the
 * task's name and Go JSON arguments. A UUID sent again after it finished (a signature re-sent with
 * its UUID) looks finished until its new PENDING is stored, so a sender in between may send a
 * second task: give each send its own UUID, as {@link Signature#create} does.
 */
final class UniqueTasks {
  private static final Logger log = LoggerFactory.getLogger(UniqueTasks.class);

  /** The message header naming the uniqueness key the worker releases when the task finishes. */
  static final String HEADER = "machinery_unique_key";

  private UniqueTasks() {}

  /** The default key: the task's name and arguments, hashed (arguments may be large). */
  static String defaultKey(Signature signature) {
    Signature nameAndArgs =
        Signature.emptyBuilder().name(signature.name()).args(signature.args()).build();
    return signature.name() + ":" + BodyPreview.sha256Hex(WireCodec.encode(nameAndArgs));
  }

  static AsyncResult send(Server server, Signature signature, String key, Duration ttl) {
    if (Objects.requireNonNull(key, "key").isEmpty()) {
      throw new IllegalArgumentException("a uniqueness key must not be empty");
    }
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("the uniqueness ttl must be positive, was " + ttl);
    }
    Signature task =
        signature.toBuilder()
            .uuid(signature.uuid().isEmpty() ? Uuids.newTaskUuid() : signature.uuid())
            .header(HEADER, key)
            .build();
    Backend backend = server.backend();
    Optional<String> holder = backend.claimUnique(key, task.uuid(), ttl);
    if (holder.isPresent()
        && holder.get().equals(task.uuid())
        && backend.getState(task.uuid()).isEmpty()) {
      // the claim is this call's own: its first try landed, the reply was lost and the client
      // tried again (the AWS SDK and MongoDB's retryable writes do), which found the key taken.
      // With no state stored yet, no earlier send of this UUID got as far as PENDING.
      holder = Optional.empty();
    }
    if (holder.isPresent() && hasFinished(backend, holder.get())) {
      // finished without giving the key back (a Go worker ran it, its release failed, or it was
      // cancelled while it waited): free the key from that holder only, and claim it again
      log.debug(
          "Uniqueness key {} is held by {}, which has finished; claiming it for {}",
          LogText.of(key),
          LogText.of(holder.get()),
          LogText.of(task.uuid()));
      backend.releaseUnique(key, holder.get());
      holder = backend.claimUnique(key, task.uuid(), ttl);
    }
    if (holder.isPresent()) {
      log.debug(
          "Task {} with uniqueness key {} is already sent as {}; not sending it again",
          LogText.of(task.name()),
          LogText.of(key),
          LogText.of(holder.get()));
      return server.asyncResult(holder.get());
    }
    try {
      return server.sendTask(task);
    } catch (RuntimeException e) {
      release(backend, key, task.uuid());
      throw e;
    }
  }

  /** Whether the task holding a key has a final state stored (SUCCESS or FAILURE). */
  private static boolean hasFinished(Backend backend, String holder) {
    return backend.getState(holder).map(TaskState::isCompleted).orElse(false);
  }

  /** The worker's release after a final state; never throws (the key then lives until its TTL). */
  static void releaseAfterFinish(Backend backend, Signature signature) {
    Object key = signature.headers().get(HEADER);
    if (key instanceof String k && !k.isEmpty()) {
      release(backend, k, signature.uuid());
    }
  }

  private static void release(Backend backend, String key, String uuid) {
    try {
      backend.releaseUnique(key, uuid);
    } catch (RuntimeException e) {
      log.warn(
          "Could not release uniqueness key {} of task {} ({}); it is held until its time to live",
          LogText.of(key),
          LogText.of(uuid),
          e.toString());
    }
  }
}
