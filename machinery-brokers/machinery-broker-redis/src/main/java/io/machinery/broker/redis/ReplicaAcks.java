package io.machinery.broker.redis;

import io.machinery.MachineryException;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.RedisConfig;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The opt-in replica acknowledgement of sends ({@link RedisBroker.Builder#replicaAcks}): a send
 * returns only once Redis's {@code WAIT numreplicas timeout}, issued after its writes on the same
 * connection, says that enough replicas have them.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Why.</b> Redis replicates asynchronously: a write the primary acknowledged and no
 *       replica received yet is lost when a replica is promoted (a Sentinel or cluster failover). A
 *       task whose send returned normally must not be lost that way; {@code WAIT} closes the window
 *       for the writes it covers (those of its connection issued before it: the send's push, and on
 *       a shared session its PENDING state too).
 *   <li><b>Same connection, pipelined.</b> {@code WAIT} counts the writes of the client that sends
 *       it, so it travels on the shared connection right behind the send's writes, in the same
 *       batch when one is open: one round trip plus the replicas' acknowledgement, no extra waited
 *       round trip.
 *   <li><b>One {@code WAIT} in flight.</b> {@code WAIT} blocks its connection in Redis until the
 *       replicas answer or the timeout passes, and the connection is the broker's only one (the
 *       consumers' fetches and heartbeats, and a backend's writes, wait behind it). One {@code
 *       WAIT} per send would queue them one after the other: with a replica missing, each would
 *       block the connection for the whole timeout, in turn. So at most one is in flight per
 *       broker: a send that finds none pipelines its own; a send that finds one waits until its
 *       writes are answered and joins the next, which is issued as soon as the one in flight
 *       returns and covers every send that joined it (group commit). The connection is then blocked
 *       at most one timeout at a time, and a send waits at most about two.
 *   <li><b>Same client, checked.</b> Lettuce sends again, on a new connection, the commands whose
 *       replies a lost connection took with it. A {@code WAIT} re-sent that way to another server
 *       (the new primary, after a failover behind one address or a Sentinel's switch) counts that
 *       server's writes, not the send's, and may confirm a send the old primary is about to lose.
 *       So a send issues {@code CLIENT INFO} before its writes and every {@code WAIT} one after it;
 *       a confirmation counts only when both name the same client ({@code id}) on the same server
 *       socket ({@code laddr}): Redis then served the writes and the {@code WAIT} in order, on one
 *       connection. ({@code CLIENT ID} alone is not enough: each server counts its own ids, so the
 *       old primary and the new one may hand out the same.)
 *   <li><b>What a failure means.</b> Fewer replicas in time, a reconnect in between, or no answer:
 *       the send fails, but the task may have been stored (and may run, or be lost in a failover
 *       later): at-least-once, the caller may send it again. Nothing is rolled back.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class ReplicaAcks {
  private final RedisSession session;
  private final int replicas;
  private final Duration timeout;
  private final ReentrantLock lock = new ReentrantLock();

  /** The {@code WAIT} issued and not answered yet; guarded by {@link #lock}. */
  private @Nullable CompletableFuture<Confirmation> inFlight;

  /** The sends waiting for the {@code WAIT} after {@link #inFlight}; guarded by {@link #lock}. */
  private @Nullable CompletableFuture<Confirmation> next;

  ReplicaAcks(RedisSession session, int replicas, Duration timeout) {
    check(replicas, timeout);
    if (replicas < 1) {
      throw new IllegalArgumentException("replicaAcks is off (0 replicas): build no ReplicaAcks");
    }
    this.session = Objects.requireNonNull(session, "session");
    this.replicas = replicas;
    this.timeout = timeout;
  }

  /**
   * The rule for the setting, the config's ({@link RedisConfig#checkReplicaAcks}) wherever it is
   * set: 0 replicas for off, else a timeout of at least 1 ms ({@code WAIT}'s timeout is in whole
   * milliseconds, and 0 would wait for ever).
   *
   * @throws IllegalArgumentException when a value breaks the rule, saying what to change
   */
  static void check(int replicas, Duration timeout) {
    RedisConfig.checkReplicaAcks(replicas, timeout);
  }

  /**
   * Issues {@code CLIENT INFO}: call it on the sending thread right before the send's writes.
   *
   * @return the client the writes that follow travel on ({@link #client})
   */
  CompletableFuture<String> before() {
    return session.timed(session.commands().clientInfo()).thenApply(ReplicaAcks::client);
  }

  /**
   * The client a {@code CLIENT INFO} reply describes: its {@code id} and the server's end of its
   * connection ({@code laddr}).
   */
  static String client(String clientInfo) {
    StringBuilder client = new StringBuilder();
    for (String field : clientInfo.trim().split(" ")) {
      if (field.startsWith("id=") || field.startsWith("laddr=")) {
        client.append(field).append(' ');
      }
    }
    return client.toString();
  }

  /**
   * Confirms writes issued on this thread after {@code clientBefore} ({@link #before()}): call it
   * right after issuing them.
   *
   * @param clientBefore the client issued before the writes
   * @param answered done (either way) once Redis answered every write of the send
   * @return a future done when a {@code WAIT} after the writes, on the same client, counted enough
   *     replicas; failed with a {@link MachineryException} saying that the task may or may not have
   *     been stored otherwise
   */
  CompletableFuture<Void> after(
      CompletableFuture<String> clientBefore, CompletableFuture<?> answered) {
    CompletableFuture<Confirmation> own = null;
    lock.lock();
    try {
      if (inFlight == null) {
        own = inFlight = new CompletableFuture<>();
      }
    } finally {
      lock.unlock();
    }
    if (own != null) {
      issue(own); // pipelined behind the writes this thread just issued
    }
    CompletableFuture<Confirmation> confirmation =
        own != null
            ? own
            : answered.handle((ignored, error) -> null).thenCompose(ignored -> nextWait());
    CompletableFuture<Void> verdict = new CompletableFuture<>();
    clientBefore
        .thenCombine(confirmation, this::shortfall)
        .whenComplete(
            (shortfall, error) -> {
              if (error != null) {
                Throwable cause = error.getCause() != null ? error.getCause() : error;
                verdict.completeExceptionally(
                    unconfirmed(
                        "the WAIT that would confirm the send failed: " + cause.getMessage()));
              } else if (shortfall.isEmpty()) {
                verdict.complete(null);
              } else {
                verdict.completeExceptionally(unconfirmed(shortfall));
              }
            });
    return verdict;
  }

  /** The {@code WAIT} that will be issued after every write answered so far. */
  private CompletableFuture<Confirmation> nextWait() {
    CompletableFuture<Confirmation> own;
    lock.lock();
    try {
      if (inFlight != null) {
        if (next == null) {
          next = new CompletableFuture<>();
        }
        return next;
      }
      own = inFlight = new CompletableFuture<>();
    } finally {
      lock.unlock();
    }
    issue(own);
    return own;
  }

  /**
   * Issues {@code WAIT} and {@code CLIENT INFO} after it, and completes {@code confirmation}, the
   * {@link #inFlight} one, with their answers. Outside the lock: Lettuce may complete commands, and
   * so call {@link #answered}, on a thread that hands it one.
   */
  private void issue(CompletableFuture<Confirmation> confirmation) {
    confirmation.whenComplete((done, error) -> answered(confirmation));
    try {
      CompletableFuture<Long> acknowledged =
          session.timed(session.commands().waitForReplication(replicas, timeout.toMillis()));
      CompletableFuture<String> client =
          session.timed(session.commands().clientInfo()).thenApply(ReplicaAcks::client);
      acknowledged
          .thenCombine(client, Confirmation::new)
          .whenComplete(
              (done, error) -> {
                if (error != null) {
                  confirmation.completeExceptionally(error);
                } else {
                  confirmation.complete(done);
                }
              });
    } catch (RuntimeException e) {
      confirmation.completeExceptionally(e); // a connection that cannot take commands now
    }
  }

  /**
   * The {@code WAIT} in flight answered: the next one, for the sends that joined it, goes out (its
   * future was handed to them as {@link #next}).
   */
  private void answered(CompletableFuture<Confirmation> confirmation) {
    CompletableFuture<Confirmation> joined;
    lock.lock();
    try {
      if (inFlight != confirmation) {
        return;
      }
      inFlight = joined = next;
      next = null;
    } finally {
      lock.unlock();
    }
    if (joined != null) {
      issue(joined);
    }
  }

  /**
   * Why {@code confirmation} does not confirm writes issued after {@code clientBefore}; "" when it
   * does.
   */
  private String shortfall(String clientBefore, Confirmation confirmation) {
    if (!clientBefore.equals(confirmation.client())) {
      return "the connection was replaced between the send's writes and the WAIT that would"
          + " confirm them";
    }
    if (confirmation.replicas() < replicas) {
      return "only "
          + confirmation.replicas()
          + " of the "
          + replicas
          + " replicas asked for acknowledged the send within "
          + timeout.toMillis()
          + " ms (WAIT)";
    }
    return "";
  }

  private MachineryException unconfirmed(String why) {
    return new MachineryException(
        "Redis at "
            + session.address()
            + ": "
            + why
            + "; the task may or may not have been stored (and may yet be lost in a failover):"
            + " send it again if it must run (at-least-once: it may then run twice)");
  }

  /** A {@code WAIT}'s answer and the client that sent it. */
  private record Confirmation(long replicas, String client) {}
}
