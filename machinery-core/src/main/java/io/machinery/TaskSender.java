package io.machinery;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * How a {@link Server} sends: checks and encodes a task once, stores PENDING, publishes, and tells
 * listeners.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>One round trip per send.</b> Go stores PENDING, waits, then publishes: two waited round
 *       trips. When the broker and the backend write through the same connection ({@link
 *       Broker#writeOrder()} equals {@link Backend#writeOrder()}: Redis broker and Redis backend on
 *       the same Redis and settings share one connection in a JVM; not on a cluster, whose keys
 *       live on different node connections), the PENDING write and the publish are issued back to
 *       back without waiting in between, in one batch ({@link Broker#batchWrites()}: on Redis one
 *       hand-off to the I/O thread and one packet, for a single send as for a whole list of PENDING
 *       writes and their pushes): Redis applies them in that order, so Go's order holds (no worker
 *       can see the message before PENDING is stored, so PENDING never lands over RECEIVED) and a
 *       send costs one round trip. Otherwise the publish waits for the write, as in Go (still
 *       without blocking the caller of the asynchronous form). A PENDING write that has already
 *       failed when the publish would start stops the publish ("Set state pending error"); on one
 *       connection, one that fails after it was pipelined is reported the same way although the
 *       push may have gone through (both fail together in practice: the same server, lost or out of
 *       memory).
 *   <li><b>Asynchronous and batch sends</b> are the same path: {@link #sendAsync} takes a list; the
 *       backend gets the list's PENDING writes at once ({@link Backend#setStatePendingAllAsync}:
 *       one future for all, not one per task) and the broker the whole list ({@link
 *       Broker#publishAllAsync}: Redis pushes each queue's run of messages with one command, AMQP
 *       collects the confirms). The caller's thread only encodes and hands commands to the client,
 *       except where a component has no asynchronous form (it then blocks, as its sync call). On
 *       one connection a long list leaves in runs of {@link #WRITE_CHUNK} tasks, each written as
 *       soon as it is built, so the I/O thread and Redis work while the next run is built (figures
 *       in docs/benchmarks.md); every task is still checked and encoded before the first run
 *       leaves.
 *   <li><b>Bounded queues.</b> New work (the public sends) is admitted into bounded queues ({@link
 *       QueueBounds}) after it is checked and encoded and before anything is written; what carries
 *       on accepted work ({@link #sendFollowUp}, {@link #resend}) is not bounded.
 *   <li><b>Errors</b> keep Go's wording: "Set state pending error: ..." and "Publish message error:
 *       ...".
 * </ul>
 */
final class TaskSender {
  /** Runs a publish that had to wait for a PENDING write, off the client's I/O thread. */
  private static final Executor VIRTUAL =
      command -> Thread.ofVirtual().name("machinery-send").start(command);

  private final Config config;
  private final Broker broker;
  private final Backend backend;
  private final TaskListener listener;
  private final @Nullable Consumer<Signature> prePublishHandler;

  /** The bounded queues' admission; null when no queue is bounded. */
  private final @Nullable QueueBounds bounds;

  /** Whether PENDING and the publish share one ordered connection (see the class notes). */
  private final boolean pipelined;

  TaskSender(
      Config config,
      Broker broker,
      Backend backend,
      TaskListener listener,
      @Nullable Consumer<Signature> prePublishHandler,
      @Nullable QueueBounds bounds) {
    this.config = config;
    this.broker = broker;
    this.backend = backend;
    this.listener = listener;
    this.prePublishHandler = prePublishHandler;
    this.bounds = bounds;
    this.pipelined =
        broker.writeOrder().isPresent() && broker.writeOrder().equals(backend.writeOrder());
  }

  /** How a send is admitted into bounded queues ({@link QueueBounds}). */
  private enum Admission {
    /** Not bounded: it carries on accepted work. */
    NONE,
    /** Waits for room on the caller's thread: a blocking send. */
    ON_CALLER,
    /** Waits for room on a virtual thread: an asynchronous send. */
    ASIDE
  }

  /** Sends one task and waits until it is stored and published; see {@link #sendAsync}. */
  AsyncResult send(Signature signature) {
    return await(sendAsync(List.of(signature), true, Admission.ON_CALLER)).get(0);
  }

  /** Sends tasks and waits until all are stored and published; see {@link #sendAsync}. */
  List<AsyncResult> sendAll(List<Signature> signatures) {
    return await(sendAsync(signatures, true, Admission.ON_CALLER));
  }

  /**
   * Sends a task that carries on work already accepted (a chain's next task, a callback): as {@link
   * #send}, but never refused or held back by a {@link QueueBound}, so a full queue cannot break a
   * workflow half-way.
   */
  AsyncResult sendFollowUp(Signature signature) {
    return await(sendAsync(List.of(signature), true, Admission.NONE)).get(0);
  }

  /**
   * Sends again a task this process received (a retry): as {@link #send}, without {@link
   * WireCodec#checkTask}. A message that decoded can be written again as it came, and Go
   * republishes what it received: a callback without a name, or an argument whose value does not
   * fit its type, fails where Go fails it (the callback when it is sent, the task when it runs
   * again), not in the retry, which would leave the task at RETRY with nothing in flight.
   */
  AsyncResult resend(Signature received) {
    return await(sendAsync(List.of(received), false, Admission.NONE)).get(0);
  }

  /**
   * Sends new tasks without waiting: each is checked and encoded now (a bad one throws here, before
   * anything is written), then admitted into its queue if the queue is bounded (a full queue fails
   * the future, or delays it, see {@link QueueBounds}), then PENDING and the publishes go out; the
   * future completes when all are stored and published.
   */
  CompletableFuture<List<AsyncResult>> sendAsync(List<Signature> signatures) {
    return sendAsync(signatures, true, Admission.ASIDE);
  }

  private CompletableFuture<List<AsyncResult>> sendAsync(
      List<Signature> signatures, boolean check, Admission admission) {
    List<Prepared> prepared = new ArrayList<>(signatures.size());
    try {
      for (Signature signature : signatures) {
        prepared.add(prepare(signature, true, check));
      }
    } catch (RuntimeException e) {
      notSent(prepared, e); // the tasks prepared so far were announced to listeners
      throw e;
    }
    if (admission == Admission.ON_CALLER) {
      return sendAdmitted(prepared, admit(prepared));
    }
    if (admission == Admission.ASIDE && bounds != null) {
      CompletableFuture<QueueBounds.Admitted> admitted = bounds.admit(signaturesOf(prepared));
      if (!admitted.isDone() || admitted.isCompletedExceptionally()) {
        return admitted
            .handle(
                (taken, error) -> {
                  if (error != null) {
                    RuntimeException why = asRuntime(cause(error));
                    notSent(prepared, why);
                    throw why;
                  }
                  return taken;
                })
            .thenCompose(taken -> sendAdmitted(prepared, taken));
      }
      return sendAdmitted(prepared, admitted.join());
    }
    return sendPrepared(prepared);
  }

  /** Sends admitted tasks and tells the bounds when the send has landed or failed. */
  private CompletableFuture<List<AsyncResult>> sendAdmitted(
      List<Prepared> prepared, QueueBounds.Admitted taken) {
    if (!taken.tookRoom()) {
      return sendPrepared(prepared);
    }
    CompletableFuture<List<AsyncResult>> sent;
    try {
      sent = sendPrepared(prepared);
    } catch (RuntimeException e) {
      taken.landed();
      throw e;
    }
    sent.whenComplete((ok, error) -> taken.landed());
    return sent;
  }

  /**
   * Admits new tasks into their bounded queues, waiting on this thread when a bound waits; see
   * {@link QueueBounds}. Listeners are told of tasks refused.
   *
   * @return the room taken, to be told when the tasks have landed ({@link
   *     QueueBounds.Admitted#landed})
   * @throws QueueFullException when a queue has no room
   */
  QueueBounds.Admitted admit(List<Prepared> prepared) {
    if (bounds == null) {
      return QueueBounds.Admitted.NOTHING;
    }
    try {
      return bounds.admitNow(signaturesOf(prepared));
    } catch (RuntimeException e) {
      notSent(prepared, e);
      throw e;
    }
  }

  private static List<Signature> signaturesOf(List<Prepared> prepared) {
    List<Signature> signatures = new ArrayList<>(prepared.size());
    for (Prepared p : prepared) {
      signatures.add(p.signature());
    }
    return signatures;
  }

  private static RuntimeException asRuntime(Throwable e) {
    return e instanceof RuntimeException r ? r : new MachineryException(message(e), e);
  }

  /** PENDING and the publishes of prepared (and admitted) tasks. */
  private CompletableFuture<List<AsyncResult>> sendPrepared(List<Prepared> prepared) {
    CompletableFuture<Void> pending;
    CompletableFuture<Void> published;
    if (pipelined) {
      Written inRuns = writeInRuns(prepared);
      pending = inRuns.pending();
      published = inRuns.published();
    } else {
      pending = storePendingAsync(prepared);
      CompletableFuture<Void> written = pending;
      published =
          written.isDone()
              ? publishAfter(prepared, written)
              : written
                  .handleAsync((ok, error) -> publishAfter(prepared, written), VIRTUAL)
                  .thenCompose(f -> f);
    }
    CompletableFuture<Void> written = pending;
    return CompletableFuture.allOf(written, published)
        .handle(
            (ok, error) -> {
              if (error != null) {
                if (written.isCompletedExceptionally()) {
                  Throwable pendingError = failure(written);
                  throw new MachineryException(
                      "Set state pending error: " + message(pendingError), cause(pendingError));
                }
                Throwable c = cause(error);
                if (c instanceof Refused refused) {
                  // the pre-publish handler's own exception, as the synchronous send throws it
                  throw refused.reason;
                }
                throw c instanceof MachineryException m
                        && m.getMessage() != null
                        && m.getMessage().startsWith("Publish message error: ")
                    ? m
                    : new MachineryException("Publish message error: " + message(error), c);
              }
              List<AsyncResult> results = new ArrayList<>(prepared.size());
              for (Prepared p : prepared) {
                results.add(new AsyncResult(p.signature(), backend));
              }
              return results;
            });
  }

  /**
   * The most tasks whose PENDING writes and publishes leave in one write: a longer list goes in
   * runs of this many, each handed to the connection as soon as it is built, so the client's I/O
   * thread and Redis work on one run while this thread builds the next (one write for the whole
   * list kept them idle until the last task was built).
   */
  static final int WRITE_CHUNK = 32;

  /** The futures of a send's PENDING writes and of its publishes. */
  private record Written(CompletableFuture<Void> pending, CompletableFuture<Void> published) {}

  /**
   * The pipelined send (broker and backend on one connection): PENDING and the publishes of each
   * run of {@link #WRITE_CHUNK} tasks leave together, in one write ({@link Broker#batchWrites}),
   * PENDING first; a list of one run is one write. A run whose PENDING writes fail at once is not
   * published, nor are the runs after it; the runs before it were sent.
   */
  private Written writeInRuns(List<Prepared> prepared) {
    if (prepared.size() <= WRITE_CHUNK) {
      return writeRun(prepared); // the path of every sendTask: no combined futures
    }
    int runs = (prepared.size() + WRITE_CHUNK - 1) / WRITE_CHUNK;
    CompletableFuture<?>[] pendings = new CompletableFuture<?>[runs];
    CompletableFuture<?>[] publishes = new CompletableFuture<?>[runs];
    int sent = 0;
    for (int from = 0; from < prepared.size(); from += WRITE_CHUNK) {
      List<Prepared> run = prepared.subList(from, Math.min(prepared.size(), from + WRITE_CHUNK));
      Written written = writeRun(run);
      pendings[sent] = written.pending();
      publishes[sent] = written.published();
      sent++;
      if (written.pending().isCompletedExceptionally()) {
        List<Prepared> rest = prepared.subList(from + run.size(), prepared.size());
        if (!rest.isEmpty()) {
          notSent(
              rest,
              new MachineryException(
                  "Set state pending error: " + message(failure(written.pending()))));
        }
        break;
      }
    }
    return new Written(
        CompletableFuture.allOf(java.util.Arrays.copyOf(pendings, sent)),
        CompletableFuture.allOf(java.util.Arrays.copyOf(publishes, sent)));
  }

  /** One write: the run's PENDING writes, then its publishes. */
  private Written writeRun(List<Prepared> run) {
    try (Broker.WriteBatch batch = broker.batchWrites()) {
      CompletableFuture<Void> pending = storePendingAsync(run);
      return new Written(pending, publishAfter(run, pending));
    }
  }

  /**
   * Issues the tasks' PENDING writes without waiting, as one future (a batch costs no future per
   * task); a write that throws is a failed future.
   */
  private CompletableFuture<Void> storePendingAsync(List<Prepared> prepared) {
    try {
      return backend.setStatePendingAllAsync(signaturesOf(prepared));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Publishes unless the PENDING writes have already failed; tells listeners each task's outcome.
   */
  private CompletableFuture<Void> publishAfter(
      List<Prepared> prepared, CompletableFuture<Void> pending) {
    if (pending.isCompletedExceptionally()) {
      RuntimeException why =
          new MachineryException("Set state pending error: " + message(failure(pending)));
      notSent(prepared, why);
      return CompletableFuture.failedFuture(why);
    }
    List<Signature> signatures = new ArrayList<>(prepared.size());
    List<byte[]> messages = new ArrayList<>(prepared.size());
    try {
      for (Prepared p : prepared) {
        if (prePublishHandler != null) {
          prePublishHandler.accept(p.signature());
        }
        signatures.add(p.signature());
        messages.add(p.message());
      }
    } catch (RuntimeException e) {
      notSent(prepared, e);
      return CompletableFuture.failedFuture(new Refused(e));
    }
    List<CompletableFuture<Void>> sends;
    try (TaskMdc mdc = TaskMdc.of(signatures.get(0), signatures.get(0).routingKey())) {
      sends =
          signatures.size() == 1
              ? List.of(broker.publishAsync(signatures.get(0), messages.get(0)))
              : broker.publishAllAsync(signatures, messages);
    } catch (RuntimeException e) {
      notSent(prepared, e);
      return CompletableFuture.failedFuture(e);
    }
    if (listener != Listeners.NONE) {
      for (int i = 0; i < sends.size(); i++) {
        Signature s = signatures.get(i);
        sends
            .get(i)
            .whenComplete(
                (ok, error) ->
                    listener.sent(
                        s,
                        error == null
                            ? null
                            : cause(error) instanceof RuntimeException r
                                ? r
                                : new MachineryException(message(error), cause(error))));
      }
    }
    return allOfDistinct(sends);
  }

  /**
   * One future for a broker's answers; a broker that pushes a run of messages with one command
   * gives the same future for each, which is waited for once.
   */
  private static CompletableFuture<Void> allOfDistinct(List<CompletableFuture<Void>> sends) {
    List<CompletableFuture<Void>> distinct = new ArrayList<>();
    CompletableFuture<Void> previous = null;
    for (CompletableFuture<Void> send : sends) {
      if (send != previous) {
        distinct.add(send);
        previous = send;
      }
    }
    return distinct.size() == 1
        ? distinct.get(0)
        : CompletableFuture.allOf(distinct.toArray(CompletableFuture[]::new));
  }

  /** A pre-publish handler refused the send: its exception travels through the future unchanged. */
  private static final class Refused extends RuntimeException {
    final RuntimeException reason;

    Refused(RuntimeException reason) {
      super(reason.getMessage(), reason, false, false);
      this.reason = reason;
    }
  }

  /** Waits for a send: its result, or its error as thrown by the synchronous API. */
  static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while sending", e);
    } catch (ExecutionException e) {
      Throwable c = cause(e);
      throw c instanceof RuntimeException r ? r : new MachineryException(message(c), c);
    }
  }

  private static Throwable failure(CompletableFuture<?> failed) {
    try {
      failed.join();
      throw new IllegalStateException("not failed");
    } catch (CompletionException | java.util.concurrent.CancellationException e) {
      return e;
    }
  }

  private static Throwable cause(Throwable e) {
    Throwable c = e;
    while ((c instanceof CompletionException || c instanceof ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }

  private static String message(Throwable e) {
    Throwable c = cause(e);
    return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
  }

  record Prepared(Signature signature, byte[] message) {}

  Prepared prepare(Signature signature) {
    return prepare(signature, true);
  }

  /**
   * @param publishing whether the task will be published (then listeners see it), or is only
   *     checked
   */
  Prepared prepare(Signature signature, boolean publishing) {
    return prepare(signature, publishing, true);
  }

  /**
   * @param check whether to refuse a task {@link WireCodec#checkTask} refuses (false only for a
   *     task this process received, see {@link #resend})
   */
  private Prepared prepare(Signature signature, boolean publishing, boolean check) {
    if (check) {
      WireCodec.checkTask(signature);
    }
    Signature.Builder b = signature.toBuilder();
    if (signature.uuid().isEmpty()) {
      b.uuid(Uuids.newTaskUuid());
    }
    if (!signature.hasHeaders()) {
      b.headers(Map.of()); // Go's SendTask always makes Headers non-nil
    }
    Signature ready = b.build();
    if (ready.routingKey().isEmpty()) {
      ready = ready.toBuilder().routingKey(broker.routingKeyFor(ready)).build();
    }
    if (publishing && listener != Listeners.NONE) {
      ready = listener.publishing(ready);
    }
    byte[] message;
    try {
      message = WireCodec.encode(ready);
    } catch (RuntimeException e) {
      if (publishing) {
        notSent(List.of(new Prepared(ready, new byte[0])), e);
      }
      throw e;
    }
    if (message.length > config.maxMessageBytes()) {
      if (publishing) {
        notSent(List.of(new Prepared(ready, message)), null);
      }
      throw new IllegalArgumentException(
          "task "
              + ready.name()
              + " "
              + ready.uuid()
              + " is "
              + message.length
              + " bytes, over the limit of "
              + config.maxMessageBytes()
              + " (Config.maxMessageBytes)");
    }
    return new Prepared(ready, message);
  }

  /**
   * Publishes a task without storing PENDING first (the pre-publish handler and listeners as for
   * any send): the first half of a chord callback's publish-first send, whose PENDING the caller
   * stores afterwards with {@link Backend#setStatePendingIfAbsent} (see ChordCompletion).
   *
   * @return the task as published (with its routing key and headers)
   */
  Signature publishWithoutPending(Signature signature) {
    Prepared prepared = prepare(signature);
    if (prePublishHandler != null) {
      try {
        prePublishHandler.accept(prepared.signature());
      } catch (RuntimeException e) {
        notSent(List.of(prepared), e);
        throw e;
      }
    }
    publish(prepared);
    return prepared.signature();
  }

  /**
   * How many members of a group have their PENDING writes in flight at once (see {@link
   * #storePendingAll}): enough to spare a large group its round trips one after the other, few
   * enough that a backend which writes one queue per state (AMQP) is never asked for thousands of
   * queue declarations within one publish timeout.
   */
  static final int PENDING_RUN = 256;

  /**
   * Stores every member of a group PENDING before any is published, as Go does, but without one
   * round trip per member: the writes of each run of {@link #PENDING_RUN} members go out at once
   * ({@link Backend#setStatePendingAllAsync}) and are awaited together. Returns when every write is
   * done.
   *
   * @throws MachineryException "Set state pending error: ..." with the first failure, once the
   *     writes of its run are done (the members of earlier runs, and others of its run, may be
   *     stored PENDING, as after a failure of one write in Go's loop)
   */
  void storePendingAll(List<Prepared> members) {
    for (int from = 0; from < members.size(); from += PENDING_RUN) {
      try {
        storePendingAsync(members.subList(from, Math.min(members.size(), from + PENDING_RUN)))
            .join();
      } catch (CompletionException | java.util.concurrent.CancellationException e) {
        Throwable why = cause(e);
        throw new MachineryException("Set state pending error: " + message(why), why);
      }
    }
  }

  void publish(Prepared prepared) {
    TaskMdc mdc = TaskMdc.of(prepared.signature, prepared.signature.routingKey());
    try {
      broker.publish(prepared.signature, prepared.message);
    } catch (RuntimeException e) {
      if (listener != Listeners.NONE) {
        listener.sent(prepared.signature, e);
      }
      throw new MachineryException("Publish message error: " + e.getMessage(), e);
    } finally {
      mdc.close();
    }
    if (listener != Listeners.NONE) {
      listener.sent(prepared.signature, null);
    }
  }

  /**
   * Tells listeners that prepared tasks were not published (their {@link TaskListener#publishing}
   * ran).
   */
  void notSent(List<Prepared> prepared, @Nullable RuntimeException error) {
    if (listener == Listeners.NONE) {
      return;
    }
    RuntimeException why =
        error != null ? error : new IllegalArgumentException("message over Config.maxMessageBytes");
    for (Prepared p : prepared) {
      listener.sent(p.signature, why);
    }
  }

  void publishAll(List<Prepared> members, int sendConcurrency) {
    if (members.size() == 1) {
      publish(members.get(0));
      return;
    }
    Semaphore permits = new Semaphore(sendConcurrency > 0 ? sendConcurrency : Integer.MAX_VALUE);
    List<Thread> threads = new ArrayList<>(members.size());
    List<RuntimeException> errors = new CopyOnWriteArrayList<>();
    for (int i = 0; i < members.size(); i++) {
      Prepared member = members.get(i);
      try {
        permits.acquire();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        MachineryException interrupted =
            new MachineryException("interrupted while sending group", e);
        notSent(members.subList(i, members.size()), interrupted);
        throw interrupted;
      }
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      publish(member);
                    } catch (RuntimeException e) {
                      errors.add(e);
                    } finally {
                      permits.release();
                    }
                  }));
    }
    for (Thread thread : threads) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException("interrupted while sending group", e);
      }
    }
    if (!errors.isEmpty()) {
      throw errors.get(0);
    }
  }
}
