package io.machinery;

import io.machinery.config.Config;
import io.machinery.embedded.EagerLock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.periodic.PeriodicConfig;
import io.machinery.periodic.PeriodicEntry;
import io.machinery.periodic.PeriodicScheduler;
import io.machinery.periodic.PeriodicSender;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.Lock;
import io.machinery.wire.WireCodec;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point: registers tasks, sends tasks and workflows, and makes workers. Go's {@code
 * machinery.Server}.
 *
 * <pre>{@code
 * try (Server server = Server.builder().build()) {          // memory broker + backend, in this JVM
 *   server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
 *   Worker worker = server.newWorker("worker-1", 10);
 *   worker.launchAsync();
 *   List<Object> sum = server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(1L))).get(Duration.ofSeconds(5));
 * }
 * }</pre>
 *
 * <p>Thread-safe. Sending follows Go's order (spec §2.2): the PENDING state is stored before the
 * message is published. {@link #close()} stops the workers this server made, and closes the broker
 * and backend only if the server created them (the default memory ones); components passed to the
 * builder belong to the caller.
 *
 * <p>Listeners ({@link Builder#listener}) see every send: {@link TaskListener#publishing} before
 * the message is encoded (so they may add headers), then exactly one {@link TaskListener#sent},
 * also when the send is refused or fails after they saw it. While the broker publishes, the task's
 * ids are in the SLF4J MDC.
 *
 * <p>Size: over 400 lines because it is Go's whole {@code Server} surface (registration, sending of
 * tasks and workflows, periodic tasks, workers) with its builder; each part is short.
 */
public final class Server implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Server.class);

  /**
   * The error stored for a cancelled task ({@link #cancel}): FAILURE with this text, as Go clients
   * read it.
   */
  public static final String CANCELLED_ERROR = "cancelled";

  private final Config config;
  private final Broker broker;
  private final Backend backend;
  private final Lock lock;
  private final Clock clock;
  private final @Nullable Consumer<Signature> prePublishHandler;
  private final Map<String, TaskFunction> tasks = new ConcurrentHashMap<>();
  private final List<AutoCloseable> owned = new ArrayList<>();
  private final List<Worker> workers = new CopyOnWriteArrayList<>();
  private final PeriodicScheduler periodic;
  private final TaskListener listener;
  private final @Nullable ControlPlane controlPlane;
  private final TaskSender sender;

  private Server(Builder b) {
    this.config = b.config;
    this.clock = b.clock;
    this.listener = Listeners.of(b.listeners);
    this.prePublishHandler = b.prePublishHandler;
    owned.addAll(b.owned);
    if (b.broker == null) {
      MemoryBroker memory = MemoryBroker.create(config, clock);
      owned.add(memory);
      this.broker = memory;
    } else {
      this.broker = b.broker;
    }
    if (b.backend == null) {
      MemoryBackend memory = MemoryBackend.create(config, clock);
      owned.add(memory);
      this.backend = memory;
    } else {
      this.backend = b.backend;
    }
    if (b.lock == null) {
      EagerLock eager = EagerLock.create(clock);
      owned.add(eager);
      this.lock = eager;
    } else {
      this.lock = b.lock;
    }
    this.controlPlane =
        b.controlPlane != null
            ? b.controlPlane
            : broker.controlPlane().or(backend::controlPlane).orElse(null);
    QueueBounds bounds;
    try {
      bounds = QueueBounds.of(b.bounds, broker, config);
    } catch (RuntimeException e) {
      close(owned);
      throw e;
    }
    this.sender = new TaskSender(config, broker, backend, listener, prePublishHandler, bounds);
    this.periodic =
        PeriodicScheduler.create(
            new Sender(), lock, clock, b.periodic == null ? PeriodicConfig.defaults() : b.periodic);
  }

  /** The scheduler's narrow view of this server: it sends, nothing more. */
  private final class Sender implements PeriodicSender {
    @Override
    public Signature sendTask(Signature task) {
      return Server.this.sendTask(task).signature();
    }

    @Override
    public List<Signature> sendGroup(Group group, int sendConcurrency) {
      return Server.this.sendGroup(group, sendConcurrency).stream()
          .map(AsyncResult::signature)
          .toList();
    }

    @Override
    public void sendChain(Chain chain) {
      Server.this.sendChain(chain);
    }

    @Override
    public void sendChord(Chord chord, int sendConcurrency) {
      Server.this.sendChord(chord, sendConcurrency);
    }

    @Override
    public void sendDag(Dag dag) {
      Server.this.sendDag(dag);
    }

    @Override
    public void sendSaga(Saga saga) {
      Server.this.sendSaga(saga);
    }
  }

  /**
   * Starts a server builder. Without further settings the server runs in this JVM: a {@link
   * MemoryBroker}, a {@link MemoryBackend} and an {@link EagerLock}, created and closed by the
   * server.
   *
   * @return a new builder with {@link Config#DEFAULT}, the system UTC clock and no components
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Creates a server on the given components: Go's {@code NewServer(cnf, broker, backend, lock)}.
   * The components stay the caller's: {@link #close()} does not close them.
   *
   * @param config the configuration (default queue, result expiry, message limit, ...)
   * @param broker the broker tasks are published to and consumed from
   * @param backend the result backend task states are stored in
   * @param lock the lock periodic runs take
   * @return a server using these components
   * @throws NullPointerException if any argument is null
   */
  public static Server create(Config config, Broker broker, Backend backend, Lock lock) {
    return builder().config(config).broker(broker).backend(backend).lock(lock).build();
  }

  // ------------------------------------------------------------------------------------------
  // registration

  /**
   * Registers one task under {@code name}, replacing any earlier one. Workers made by this server
   * run it for messages whose task name is {@code name}; Go workers must register the same name to
   * share the queue.
   *
   * <p><b>Warning:</b> delivery is at-least-once. A worker that dies, loses its connection or is
   * stopped mid-task leaves the message to be delivered again, and a task that fails with a retry
   * is run again, so {@code function} must be idempotent: running it twice with the same arguments
   * must leave the same outcome as running it once (use the task UUID from {@link TaskContext} to
   * de-duplicate side effects).
   *
   * @param name the task name as it appears on the wire; not empty
   * @param function the code to run
   * @throws NullPointerException if {@code name} or {@code function} is null
   * @throws IllegalArgumentException if {@code name} is empty
   */
  public void registerTask(String name, TaskFunction function) {
    Objects.requireNonNull(function, "function");
    if (Objects.requireNonNull(name, "name").isEmpty()) {
      throw new IllegalArgumentException("a task name must not be empty");
    }
    tasks.put(name, function);
  }

  /**
   * Registers several tasks, as {@link #registerTask} does for each; all names are checked before
   * any is stored, so a bad entry registers nothing.
   *
   * <p><b>Warning:</b> as for {@link #registerTask}, every function must be idempotent under
   * at-least-once delivery.
   *
   * @param functions the tasks by name
   * @throws NullPointerException if a function is null
   * @throws IllegalArgumentException if a name is empty
   */
  public void registerTasks(Map<String, TaskFunction> functions) {
    functions.forEach(
        (name, fn) -> {
          Objects.requireNonNull(fn, "function for " + name);
          if (name.isEmpty()) {
            throw new IllegalArgumentException("a task name must not be empty");
          }
        });
    tasks.putAll(functions);
  }

  /**
   * Tells whether a task is registered under {@code name}.
   *
   * @param name the task name
   * @return true if {@link #registerTask} stored a function under this name
   */
  public boolean isTaskRegistered(String name) {
    return tasks.containsKey(name);
  }

  /**
   * Returns the task registered under {@code name}.
   *
   * @param name the task name
   * @return the registered function
   * @throws MachineryException "Task not registered error: name" as Go, if there is none
   */
  public TaskFunction registeredTask(String name) {
    TaskFunction fn = tasks.get(name);
    if (fn == null) {
      throw new MachineryException("Task not registered error: " + name);
    }
    return fn;
  }

  @Nullable TaskFunction findTask(String name) {
    return tasks.get(name);
  }

  /**
   * Returns the names of the registered tasks.
   *
   * @return an immutable snapshot of the names
   */
  public Set<String> registeredTaskNames() {
    return Set.copyOf(tasks.keySet());
  }

  // ----------------------------------------------------------------------------------------------
  // sending

  /**
   * Stores the task as PENDING, then publishes it. A task without UUID gets one; without routing
   * key, the broker's default.
   *
   * @param signature the task to send
   * @return a handle to the task's result
   * @throws IllegalArgumentException when the signature has no name, an argument whose Go type is
   *     unsupported or whose value does not fit its type, or is larger than {@link
   *     Config#maxMessageBytes()}; nothing is stored then
   * @throws QueueFullException when the task's queue is bounded ({@link Builder#bound}) and has no
   *     room for it; nothing is stored then
   * @throws MachineryException "Set state pending error: ..." or "Publish message error: ..." as Go
   */
  public AsyncResult sendTask(Signature signature) {
    return sender.send(signature);
  }

  /**
   * Sends a task that carries on accepted work (a chain's next task, a callback), past any {@link
   * QueueBound}; see {@link TaskSender#sendFollowUp}.
   */
  AsyncResult sendFollowUp(Signature signature) {
    return sender.sendFollowUp(signature);
  }

  /** Sends a received task again (a retry); see {@link TaskSender#resend}. */
  AsyncResult resend(Signature received) {
    return sender.resend(received);
  }

  /** Publishes without storing PENDING; see {@link TaskSender#publishWithoutPending}. */
  Signature publishWithoutPending(Signature signature) {
    return sender.publishWithoutPending(signature);
  }

  /**
   * Sends a task without waiting: {@link #sendTask} whose waiting is left to the returned future.
   * The task is checked and encoded on the caller's thread; the PENDING write and the publish are
   * handed to the clients (Redis, RabbitMQ) without waiting for their answers, so one thread can
   * keep many sends in flight. A component without asynchronous writes (the default of the SPI)
   * still blocks for its part. A bounded queue ({@link Builder#bound}) never blocks the caller: a
   * send that needs a fresh reading of its queue's size, or must wait for room, is admitted on a
   * virtual thread.
   *
   * <p>Bound the sends in flight (a semaphore released as each future completes, for instance): a
   * Redis connection's request queue holds a bounded number of commands (a send is two), past which
   * sends fail at once, and sends that stay in flight long outlive young collections. From one
   * thread on Redis, a window of 2,000 sent 13-18% more tasks per second than one of 40,000
   * (docs/benchmarks.md, session 11).
   *
   * @param signature the task to send
   * @return completes with the task's handle once PENDING is stored and the message published, or
   *     with the error {@link #sendTask} would throw ({@link QueueFullException} included; a bound
   *     that waits for room delays the future, not the caller)
   * @throws IllegalArgumentException at once, for a signature {@link #sendTask} refuses; nothing is
   *     stored then
   */
  public CompletableFuture<AsyncResult> sendTaskAsync(Signature signature) {
    return sender.sendAsync(List.of(signature)).thenApply(results -> results.get(0));
  }

  /**
   * Sends independent tasks in one call: every PENDING write and every publish is in flight at once
   * (on Redis, pipelined in runs of 32 tasks, each run's PENDING writes before its one push per
   * queue; on AMQP, confirms collected together). Unlike {@link #sendGroup} no group is recorded.
   * Returns when all are stored and published.
   *
   * @param signatures the tasks, each sent as by {@link #sendTask}
   * @return one handle per task, in order
   * @throws IllegalArgumentException when a signature would be refused by {@link #sendTask};
   *     nothing is stored then
   * @throws QueueFullException when a bounded queue has no room for the tasks going to it; nothing
   *     is sent then (admission is all or nothing)
   * @throws MachineryException the first error: "Set state pending error: ..." or "Publish message
   *     error: ..." (others may have been sent: a {@link TaskListener} is told of each task)
   */
  public List<AsyncResult> sendTasks(List<Signature> signatures) {
    return signatures.isEmpty() ? List.of() : sender.sendAll(signatures);
  }

  /**
   * {@link #sendTasks} without waiting.
   *
   * @param signatures the tasks
   * @return completes with one handle per task, in order, or with the first error
   * @throws IllegalArgumentException at once, when a signature would be refused by {@link
   *     #sendTask}
   */
  public CompletableFuture<List<AsyncResult>> sendTasksAsync(List<Signature> signatures) {
    if (signatures.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    return sender.sendAsync(signatures);
  }

  /**
   * Sends a group: records it, stores every member PENDING (the writes of up to 256 members at
   * once, on backends that write asynchronously), then publishes them with at most {@code
   * sendConcurrency} publishes at once (0: no limit). Returns when all are published.
   *
   * @param group the tasks to send together
   * @param sendConcurrency at most this many publishes at once; 0 means no limit
   * @return one handle per member, in the group's order
   * @throws IllegalArgumentException if {@code sendConcurrency} is negative, or a member would be
   *     refused by {@link #sendTask}; nothing is stored then
   * @throws QueueFullException when a bounded queue has no room for the members going to it;
   *     nothing is stored then
   * @throws MachineryException "Init group error: ..." when the backend cannot record the group, or
   *     the first publish error, after every publish has finished
   */
  public List<AsyncResult> sendGroup(Group group, int sendConcurrency) {
    if (sendConcurrency < 0) {
      throw new IllegalArgumentException(
          "sendConcurrency must be >= 0 (0 = unlimited), was " + sendConcurrency);
    }
    List<TaskSender.Prepared> members = new ArrayList<>(group.tasks().size());
    try {
      for (Signature task : group.tasks()) {
        members.add(sender.prepare(task));
      }
    } catch (RuntimeException e) {
      sender.notSent(members, e); // the members prepared so far were announced to listeners
      throw e;
    }
    QueueBounds.Admitted admitted = sender.admit(members);
    try {
      try {
        try {
          backend.initGroup(group.groupUuid(), group.taskUuids());
        } catch (RuntimeException e) {
          throw new MachineryException("Init group error: " + e.getMessage(), e);
        }
        sender.storePendingAll(members);
      } catch (RuntimeException e) {
        sender.notSent(members, e);
        throw e;
      }
      sender.publishAll(members, sendConcurrency);
    } finally {
      admitted.landed();
    }
    List<AsyncResult> results = new ArrayList<>(members.size());
    for (TaskSender.Prepared member : members) {
      results.add(new AsyncResult(member.signature(), backend));
    }
    return results;
  }

  /**
   * Sends a chord's group; the callback is sent by the worker that completes the group, with the
   * members' results appended to its arguments.
   *
   * @param chord the group and its callback
   * @param sendConcurrency at most this many publishes at once; 0 means no limit
   * @return a handle that waits for the callback's result
   * @throws IllegalArgumentException as {@link #sendGroup}, or if the callback would be refused by
   *     {@link #sendTask}; nothing is stored then
   * @throws MachineryException as {@link #sendGroup}
   */
  public ChordAsyncResult sendChord(Chord chord, int sendConcurrency) {
    sender.prepare(chord.callback(), false); // refuse a bad callback before anything is stored
    List<AsyncResult> members = sendGroup(chord.group(), sendConcurrency);
    return new ChordAsyncResult(
        members.stream().map(AsyncResult::signature).toList(), chord.callback(), backend);
  }

  /**
   * Sends a chain's first task; each next one is sent by the worker when its parent succeeds, with
   * the parent's results appended to its arguments (unless it is immutable).
   *
   * @param chain the tasks in order
   * @return a handle that waits for the last task's result
   * @throws IllegalArgumentException if a task would be refused by {@link #sendTask}; nothing is
   *     sent then
   * @throws MachineryException as {@link #sendTask}
   */
  public ChainAsyncResult sendChain(Chain chain) {
    // The first task carries the rest: sendTask checks them all before anything is stored (a check
    // of each task's own nested rest took time by the square of the chain's length).
    sendTask(chain.tasks().get(0));
    return new ChainAsyncResult(chain.tasks(), backend);
  }

  /**
   * Sends a saga: its first step, with the rest nested as a chain's; each step carries the
   * compensations that run, last step first, when it fails for good (see {@link Saga}).
   *
   * @param saga the steps and their compensations
   * @return a handle that waits until the saga settled
   * @throws IllegalArgumentException if a task would be refused by {@link #sendTask} (the first
   *     message carries the whole saga, so its size counts); nothing is sent then
   * @throws UnsupportedOperationException when the result backend's reads consume states (Go's AMQP
   *     backend): a compensation could not read the results of the step it undoes
   * @throws MachineryException as {@link #sendTask}
   */
  public SagaAsyncResult sendSaga(Saga saga) {
    if (backend.consumesStatesOnRead()) {
      throw new UnsupportedOperationException(
          "a saga needs a result backend that keeps states when they are read; this one's reads"
              + " consume them (Go's AMQP backend): use Redis, Memcache, MongoDB or DynamoDB");
    }
    Signature first = saga.steps().get(0);
    WireCodec.checkTask(first);
    sendTask(first);
    return new SagaAsyncResult(saga, backend);
  }

  /**
   * Returns the handle to a saga sent another way: through the JDBC outbox, or by another process
   * that holds the same {@link Saga} (its UUIDs). Nothing is sent.
   *
   * @param saga the saga as it was sent
   * @return a handle that waits until the saga settled, as {@link #sendSaga}'s
   */
  public SagaAsyncResult sagaResult(Saga saga) {
    return new SagaAsyncResult(saga, backend);
  }

  /**
   * Sends a DAG: records each task's dependencies in the backend, then sends the tasks that depend
   * on none, as {@link #sendTasks}. Each other task is sent by the worker on which the last of its
   * dependencies succeeds, with their results appended to its arguments (unless it is immutable);
   * when a task fails for good, every task that depends on it gets FAILURE instead (see {@link
   * Dag}).
   *
   * @param dag the tasks and their dependencies
   * @return one handle per task, by name
   * @throws IllegalArgumentException when a task would be refused by {@link #sendTask} (each
   *     message carries the whole DAG, so its size counts); nothing is stored then
   * @throws UnsupportedOperationException when the result backend's reads consume states (Go's AMQP
   *     backend): a worker could not read a dependency's result without taking it from its client
   * @throws QueueFullException as {@link #sendTasks}
   * @throws MachineryException "Init group error: ..." when the backend cannot record the
   *     dependencies, or as {@link #sendTasks}
   */
  public DagAsyncResult sendDag(Dag dag) {
    if (backend.consumesStatesOnRead()) {
      throw new UnsupportedOperationException(
          "a DAG needs a result backend that keeps states when they are read; this one's reads"
              + " consume them (Go's AMQP backend): use Redis, Memcache, MongoDB or DynamoDB");
    }
    List<Signature> first = new ArrayList<>();
    for (Map.Entry<String, Signature> task : dag.tasks().entrySet()) {
      if (dag.dependencies(task.getKey()).isEmpty()) {
        first.add(task.getValue());
      } else {
        sender.prepare(task.getValue(), false); // refuse it before anything is stored
      }
    }
    for (Map.Entry<String, List<String>> group : dag.dependencyGroups().entrySet()) {
      try {
        backend.initGroup(group.getKey(), group.getValue());
      } catch (RuntimeException e) {
        throw new MachineryException("Init group error: " + e.getMessage(), e);
      }
    }
    sendTasks(first);
    return new DagAsyncResult(dag, backend);
  }

  /**
   * Cancels tasks, wherever they are: a task not yet started never starts, a running one is
   * cancelled, and a finished one is left alone. Each UUID is revoked in the control plane for
   * {@link Config#effectiveResultsExpireIn()} (workers read it on every heartbeat: a worker learns
   * of it within one heartbeat interval), and each task without a finished state gets FAILURE
   * {@value #CANCELLED_ERROR} at once, so clients waiting for it, Go's included, learn it. A worker
   * skips a revoked task when it is delivered (FAILURE, its error callbacks and chord completion
   * follow as for any failure), and a running one sees {@link TaskContext#isCancelled()} turn true
   * and is interrupted after the worker's {@link Worker.Builder#cancelGracePeriod}; whatever it
   * returns then, its state is FAILURE {@value #CANCELLED_ERROR}. For a group pass its members'
   * UUIDs; for a chord or a chain {@link ChordAsyncResult#taskUuids()} or {@link
   * ChainAsyncResult#taskUuids()}. Go workers do not know revocations: a task they run is not
   * cancelled.
   *
   * @param taskUuids the tasks' UUIDs
   * @return how many of them had no finished state (on a backend whose reads consume states: all of
   *     them)
   * @throws UnsupportedOperationException when the server has no control plane, or one that keeps
   *     no revocations
   * @throws MachineryException when the control plane or the backend cannot be reached
   */
  public int cancel(java.util.Collection<String> taskUuids) {
    return Cancellation.cancel(this, taskUuids);
  }

  /**
   * Sends a task unless one with the same name and arguments is pending or running; see {@link
   * #sendTaskUnique(Signature, String, java.time.Duration)}.
   *
   * @param signature the task to send
   * @param ttl how long the uniqueness holds at most
   * @return the handle of the task sent now, or of the one sent before
   * @throws UnsupportedOperationException when the result backend cannot keep uniqueness keys
   * @throws IllegalArgumentException as {@link #sendTask}, or for a ttl that is not positive
   * @throws MachineryException as {@link #sendTask}, or when the backend cannot be reached
   */
  public AsyncResult sendTaskUnique(Signature signature, java.time.Duration ttl) {
    return UniqueTasks.send(this, signature, UniqueTasks.defaultKey(signature), ttl);
  }

  /**
   * Sends a task unless another with the same uniqueness key is pending or running, in which case
   * that task's handle is returned and nothing is sent. The key is claimed in the result backend
   * atomically across senders for at most {@code ttl}; the worker releases it when the task
   * finishes (a retry keeps it). A holder that has a final state but kept the key (a Go worker ran
   * it, which releases nothing; or it was cancelled) gives it up to the next sender, which reads
   * the holder's state when it meets it; one that never finishes (purged) holds it until {@code
   * ttl}. The key travels in header {@code machinery_unique_key}.
   *
   * @param signature the task to send
   * @param key the uniqueness key (not empty)
   * @param ttl how long the uniqueness holds at most; positive
   * @return the handle of the task sent now, or of the one holding the key
   * @throws UnsupportedOperationException when the result backend cannot keep uniqueness keys
   * @throws IllegalArgumentException as {@link #sendTask}, or for an empty key or a ttl that is not
   *     positive
   * @throws MachineryException as {@link #sendTask}, or when the backend cannot be reached
   */
  public AsyncResult sendTaskUnique(Signature signature, String key, java.time.Duration ttl) {
    return UniqueTasks.send(this, signature, key, ttl);
  }

  /**
   * Returns a handle to a task sent elsewhere (by another process, or by Go), read from this
   * server's backend.
   *
   * @param taskUuid the task's UUID
   * @return a handle to the task's result; it reads nothing until asked
   */
  public AsyncResult asyncResult(String taskUuid) {
    return new AsyncResult(Signature.emptyBuilder().uuid(taskUuid).build(), backend);
  }

  // ----------------------------------------------------------------------------------------------
  // periodic

  /**
   * Sends a copy of {@code signature}, with a fresh UUID, on every tick of {@code spec}: Go's
   * {@code RegisterPeriodicTask}. The spec is a robfig/cron standard spec: five fields ({@code "0 9
   * * * MON-FRI"}), a descriptor ({@code "@daily"}), {@code "@every 1m30s"}, optionally prefixed
   * with {@code "CRON_TZ=Area/City "}. Before each run the scheduler takes this server's {@link
   * #lock()} under Go's key, so among servers sharing the lock one fires each tick. Registering
   * {@code name} again replaces the entry. See {@link PeriodicScheduler}.
   *
   * @param spec the cron spec
   * @param name the entry's name, part of the lock key; not empty
   * @param signature the template copied on every tick
   * @throws IllegalArgumentException for an invalid spec (the message names the field and value), a
   *     spec that never fires, an empty name, or a signature {@link #sendTask} would refuse
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerPeriodicTask(String spec, String name, Signature signature) {
    periodic.registerTask(spec, name, signature);
  }

  /**
   * Sends a new group of copies of {@code signatures} on every tick: Go's {@code
   * RegisterPeriodicGroup}.
   *
   * @param spec the cron spec, as for {@link #registerPeriodicTask}
   * @param name the entry's name; not empty
   * @param sendConcurrency at most this many publishes at once; 0 means no limit
   * @param signatures the templates of the members; at least one
   * @throws IllegalArgumentException as {@link #registerPeriodicTask}, or for no signatures or a
   *     negative concurrency
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerPeriodicGroup(
      String spec, String name, int sendConcurrency, Signature... signatures) {
    periodic.registerGroup(spec, name, sendConcurrency, Arrays.asList(signatures));
  }

  /**
   * Sends a new chain of copies of {@code signatures} on every tick: Go's {@code
   * RegisterPeriodicChain}.
   *
   * @param spec the cron spec, as for {@link #registerPeriodicTask}
   * @param name the entry's name; not empty
   * @param signatures the templates of the chain's tasks, in order; at least one
   * @throws IllegalArgumentException as {@link #registerPeriodicTask}, or for no signatures
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerPeriodicChain(String spec, String name, Signature... signatures) {
    periodic.registerChain(spec, name, Arrays.asList(signatures));
  }

  /**
   * Sends a new chord on every tick: Go's {@code RegisterPeriodicChord}.
   *
   * @param spec the cron spec, as for {@link #registerPeriodicTask}
   * @param name the entry's name; not empty
   * @param sendConcurrency at most this many publishes at once; 0 means no limit
   * @param callback the template of the chord's callback
   * @param signatures the templates of the group's members; at least one
   * @throws IllegalArgumentException as {@link #registerPeriodicGroup}, or for a callback without a
   *     name
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerPeriodicChord(
      String spec, String name, int sendConcurrency, Signature callback, Signature... signatures) {
    periodic.registerChord(spec, name, sendConcurrency, callback, Arrays.asList(signatures));
  }

  /**
   * Sends a copy of {@code dag} with new UUIDs ({@link Dag#withNewUuids}) on every tick, as {@link
   * #sendDag} does. Not in Go Machinery.
   *
   * @param spec the cron spec, as for {@link #registerPeriodicTask}
   * @param name the entry's name; not empty
   * @param dag the template
   * @throws IllegalArgumentException for an invalid spec, a spec that never fires or an empty name
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerPeriodicDag(String spec, String name, Dag dag) {
    periodic.registerDag(spec, name, dag);
  }

  /**
   * Sends a copy of {@code saga} with new UUIDs ({@link Saga#withNewUuids}) on every tick, as
   * {@link #sendSaga} does. Not in Go Machinery.
   *
   * @param spec the cron spec, as for {@link #registerPeriodicTask}
   * @param name the entry's name; not empty
   * @param saga the template
   * @throws IllegalArgumentException for an invalid spec, a spec that never fires or an empty name
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerPeriodicSaga(String spec, String name, Saga saga) {
    periodic.registerSaga(spec, name, saga);
  }

  /**
   * Removes a periodic entry; a run of it already in flight completes.
   *
   * @param name the entry's name
   * @return true if there was such an entry
   */
  public boolean unregisterPeriodic(String name) {
    return periodic.unregister(name);
  }

  /**
   * Returns the periodic entries with their next fire times.
   *
   * @return a snapshot, in registration order
   */
  public List<PeriodicEntry> periodicEntries() {
    return periodic.entries();
  }

  /**
   * Returns this server's periodic scheduler, for {@link PeriodicScheduler#runDue()} and lookups.
   * The server owns and closes it.
   *
   * @return the scheduler
   */
  public PeriodicScheduler periodicScheduler() {
    return periodic;
  }

  // ----------------------------------------------------------------------------------------------
  // workers

  /**
   * Creates a worker consuming the default queue: Go's {@code NewWorker}. It does nothing until
   * launched; this server stops it in {@link #close()}.
   *
   * @param consumerTag the consumer's name at the broker (Go's worker name)
   * @param concurrency at most this many tasks run at once; 0 or less means twice the number of
   *     processors
   * @return an unlaunched worker
   */
  public Worker newWorker(String consumerTag, int concurrency) {
    return workerBuilder(consumerTag).concurrency(concurrency).build();
  }

  /**
   * Creates a worker consuming {@code queue}: Go's {@code NewCustomQueueWorker}.
   *
   * @param consumerTag the consumer's name at the broker
   * @param concurrency at most this many tasks run at once; 0 means the default of the builder
   * @param queue the queue to consume; empty means the default queue
   * @return an unlaunched worker
   * @throws IllegalArgumentException if {@code concurrency} is negative
   */
  public Worker newCustomQueueWorker(String consumerTag, int concurrency, String queue) {
    return workerBuilder(consumerTag).concurrency(concurrency).queue(queue).build();
  }

  /**
   * Starts a worker builder, for handlers, graceful-stop timeout, signal handling and the other
   * options.
   *
   * @param consumerTag the consumer's name at the broker
   * @return a builder for a worker of this server
   */
  public Worker.Builder workerBuilder(String consumerTag) {
    return new Worker.Builder(this, consumerTag);
  }

  void track(Worker worker) {
    workers.add(worker);
  }

  /** The workers this server launched. */
  List<Worker> workers() {
    return List.copyOf(workers);
  }

  // ----------------------------------------------------------------------------------------------
  // accessors

  /**
   * Returns the configuration.
   *
   * @return the configuration this server was built with
   */
  public Config config() {
    return config;
  }

  /**
   * Returns the broker, whether the caller's or the server's own.
   *
   * @return the broker
   */
  public Broker broker() {
    return broker;
  }

  /**
   * Returns the result backend, whether the caller's or the server's own.
   *
   * @return the backend
   */
  public Backend backend() {
    return backend;
  }

  /**
   * Returns the lock periodic runs take.
   *
   * @return the lock
   */
  public Lock lock() {
    return lock;
  }

  /**
   * Returns the clock for ETAs, retries, state times and periodic runs.
   *
   * @return the clock
   */
  public Clock clock() {
    return clock;
  }

  /**
   * Returns the control plane this server's workers announce themselves to and read paused queues
   * from: the builder's, else the broker's, else the backend's.
   *
   * @return the control plane; empty when neither the builder, the broker nor the backend gives one
   *     (then workers are not listed and queues cannot be paused)
   */
  public Optional<ControlPlane> controlPlane() {
    return Optional.ofNullable(controlPlane);
  }

  /** The listeners given to the builder, as one (a no-op when there are none). */
  TaskListener listener() {
    return listener;
  }

  OffsetDateTime now() {
    return OffsetDateTime.now(clock).withOffsetSameInstant(java.time.ZoneOffset.UTC);
  }

  /**
   * Stops the periodic scheduler and this server's workers, then closes what the server created
   * (the default memory broker, backend and eager lock); components passed to the builder stay
   * open. Idempotent.
   */
  @Override
  public void close() {
    periodic.close();
    for (Worker worker : workers) {
      worker.quit();
    }
    close(owned);
  }

  private static void close(List<AutoCloseable> resources) {
    for (AutoCloseable resource : resources) {
      try {
        resource.close();
      } catch (Exception e) {
        log.warn("Closing {} failed: {}", resource, e.toString());
      }
    }
  }

  /** Builds a {@link Server}; not thread-safe. */
  public static final class Builder {
    private Config config = Config.DEFAULT;
    private @Nullable Broker broker;
    private @Nullable Backend backend;
    private @Nullable Lock lock;
    private Clock clock = Clock.systemUTC();
    private @Nullable Consumer<Signature> prePublishHandler;
    private @Nullable PeriodicConfig periodic;
    private final List<TaskListener> listeners = new ArrayList<>();
    private @Nullable ControlPlane controlPlane;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final List<QueueBound> bounds = new ArrayList<>();

    private Builder() {}

    // For Machinery.connect: what is set, and components the server is to close as its own.
    Config configValue() {
      return config;
    }

    Clock clockValue() {
      return clock;
    }

    boolean hasBroker() {
      return broker != null;
    }

    boolean hasBackend() {
      return backend != null;
    }

    boolean hasLock() {
      return lock != null;
    }

    Builder own(AutoCloseable component) {
      owned.add(component);
      return this;
    }

    /**
     * Sets the configuration; default {@link Config#DEFAULT}.
     *
     * @param value the configuration
     * @return this builder
     */
    public Builder config(Config value) {
      config = Objects.requireNonNull(value, "config");
      return this;
    }

    /**
     * Sets the broker; default a {@link MemoryBroker} the server creates and closes. A broker set
     * here stays the caller's to close.
     *
     * @param value the broker
     * @return this builder
     */
    public Builder broker(Broker value) {
      broker = Objects.requireNonNull(value, "broker");
      return this;
    }

    /**
     * Sets the result backend; default a {@link MemoryBackend} the server creates and closes. A
     * backend set here stays the caller's to close.
     *
     * @param value the backend
     * @return this builder
     */
    public Builder backend(Backend value) {
      backend = Objects.requireNonNull(value, "backend");
      return this;
    }

    /**
     * Sets the lock periodic runs take; default an {@link EagerLock}, which excludes nothing across
     * processes.
     *
     * @param value the lock
     * @return this builder
     */
    public Builder lock(Lock value) {
      lock = Objects.requireNonNull(value, "lock");
      return this;
    }

    /**
     * Sets the clock for ETAs, retries, state times and periodic runs; default the system UTC
     * clock.
     *
     * @param value the clock
     * @return this builder
     */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * Sets a hook called in {@link Server#sendTask} after PENDING is stored, before publishing
     * (Go's {@code SetPreTaskHandler}). An exception it throws reaches the sender, and the task is
     * not published.
     *
     * @param handler receives each signature about to be published
     * @return this builder
     */
    public Builder prePublishHandler(Consumer<Signature> handler) {
      prePublishHandler = Objects.requireNonNull(handler);
      return this;
    }

    /**
     * Sets the periodic scheduler's program name, zone, missed-fire policy and thread; default
     * {@link PeriodicConfig#defaults()}.
     *
     * @param value the scheduler's settings
     * @return this builder
     */
    public Builder periodic(PeriodicConfig value) {
      periodic = Objects.requireNonNull(value, "periodic");
      return this;
    }

    /**
     * Adds a listener for task events (sends, and runs on this server's workers); call it again for
     * more, they are called in the order added. See {@link TaskListener}; {@code
     * machinery-micrometer} and {@code machinery-opentelemetry} provide listeners.
     *
     * @param value the listener; its methods must be quick and must not throw (a throw is logged
     *     and ignored)
     * @return this builder
     */
    public Builder listener(TaskListener value) {
      listeners.add(Objects.requireNonNull(value, "listener"));
      return this;
    }

    /**
     * Sets the control plane (live workers, paused queues) instead of the broker's or the
     * backend's, for example a Redis one beside an AMQP broker and backend. The caller closes what
     * it built it on.
     *
     * @param value the control plane
     * @return this builder
     */
    public Builder controlPlane(ControlPlane value) {
      controlPlane = Objects.requireNonNull(value, "controlPlane");
      return this;
    }

    /**
     * Bounds a queue: new work sent through this server to {@code value}'s queue while it holds
     * {@link QueueBound#maxPending()} waiting tasks is refused with {@link QueueFullException}, at
     * once or after waiting for room; call it again for more queues. What workers send to carry on
     * accepted work (chain steps, callbacks, retries) is never bounded.
     *
     * <p>How the count is kept: this server reads the queue's size from the broker's {@link
     * io.machinery.spi.Inspector#pendingCount} (one round trip) at its first send there, again when
     * that reading is older than {@link QueueBound#recountEvery()} (default 100 ms), and again when
     * the queue looks full; on top of the reading it counts its own sends that were still in flight
     * when it was taken and those it admitted since. So one server alone never takes the queue past
     * the bound, however many threads send through it; what other processes send to the same queue
     * within one {@code recountEvery} can overshoot it by that much. Delayed tasks count once they
     * are due. The config's bounds ({@link Config#queueBounds()}, {@code MACHINERY_QUEUE_BOUNDS})
     * apply too, to the queues no call of this method bounds.
     *
     * @param value the bound
     * @return this builder
     * @throws IllegalStateException at {@link #build} when the broker cannot count its queues
     *     (Google Cloud Pub/Sub), or its inspector is missing
     * @throws IllegalArgumentException at {@link #build} when two bounds name the same queue
     */
    public Builder bound(QueueBound value) {
      bounds.add(Objects.requireNonNull(value, "bound"));
      return this;
    }

    /**
     * Builds the server.
     *
     * @return a server; the caller closes it
     */
    public Server build() {
      return new Server(this);
    }
  }
}
