package io.machinery;

import io.machinery.config.Config;
import io.machinery.embedded.EagerLock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.periodic.PeriodicConfig;
import io.machinery.periodic.PeriodicEntry;
import io.machinery.periodic.PeriodicScheduler;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.Lock;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
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
 * <p>Thread-safe. Sending follows Go's order (spec §2.2): the PENDING state is stored before the message is
 * published. {@link #close()} stops the workers this server made, and closes the broker and backend only if
 * the server created them (the default memory ones); components passed to the builder belong to the caller.
 *
 * <p>Listeners ({@link Builder#listener}) see every send: {@link TaskListener#publishing} before the message is
 * encoded (so they may add headers), then exactly one {@link TaskListener#sent}, also when the send is refused
 * or fails after they saw it. While the broker publishes, the task's ids are in the SLF4J MDC.
 *
 * <p>Size: over 400 lines because it is Go's whole {@code Server} surface (registration, sending of tasks and
 * workflows, periodic tasks, workers) with its builder; each part is short.
 */
public final class Server implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Server.class);

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

  private Server(Builder b) {
    this.config = b.config;
    this.clock = b.clock;
    this.listener = Listeners.of(b.listeners);
    this.prePublishHandler = b.prePublishHandler;
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
    this.periodic = PeriodicScheduler.create(this, b.periodic == null ? PeriodicConfig.defaults() : b.periodic);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Go's {@code NewServer(cnf, broker, backend, lock)}. */
  public static Server create(Config config, Broker broker, Backend backend, Lock lock) {
    return builder().config(config).broker(broker).backend(backend).lock(lock).build();
  }

  // ------------------------------------------------------------------------------------------ registration

  /** Registers one task under {@code name}, replacing any earlier one. */
  public void registerTask(String name, TaskFunction function) {
    Objects.requireNonNull(function, "function");
    if (Objects.requireNonNull(name, "name").isEmpty()) {
      throw new IllegalArgumentException("a task name must not be empty");
    }
    tasks.put(name, function);
  }

  /** Registers several tasks; all names are checked before any is stored. */
  public void registerTasks(Map<String, TaskFunction> functions) {
    functions.forEach((name, fn) -> {
      Objects.requireNonNull(fn, "function for " + name);
      if (name.isEmpty()) {
        throw new IllegalArgumentException("a task name must not be empty");
      }
    });
    tasks.putAll(functions);
  }

  public boolean isTaskRegistered(String name) {
    return tasks.containsKey(name);
  }

  /**
   * The task registered under {@code name}.
   *
   * @throws MachineryException "Task not registered error: name" as Go
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

  public Set<String> registeredTaskNames() {
    return Set.copyOf(tasks.keySet());
  }

  // ---------------------------------------------------------------------------------------------- sending

  /**
   * Stores the task as PENDING, then publishes it. A task without UUID gets one; without routing key, the
   * broker's default.
   *
   * @throws IllegalArgumentException when the signature has no name, an argument whose Go type is unsupported
   *     or whose value does not fit its type, or is larger than {@link Config#maxMessageBytes()}; nothing is
   *     stored then
   * @throws MachineryException "Set state pending error: ..." or "Publish message error: ..." as Go
   */
  public AsyncResult sendTask(Signature signature) {
    Prepared prepared = prepare(signature);
    try {
      storePending(prepared.signature);
      if (prePublishHandler != null) {
        prePublishHandler.accept(prepared.signature);
      }
    } catch (RuntimeException e) {
      notSent(List.of(prepared), e);
      throw e;
    }
    publish(prepared);
    return new AsyncResult(prepared.signature, backend);
  }

  /**
   * Sends a group: records it, stores every member PENDING, then publishes them with at most {@code
   * sendConcurrency} publishes at once (0: no limit). Returns when all are published.
   *
   * @throws MachineryException with the first publish error, after every publish has finished
   */
  public List<AsyncResult> sendGroup(Group group, int sendConcurrency) {
    if (sendConcurrency < 0) {
      throw new IllegalArgumentException("sendConcurrency must be >= 0 (0 = unlimited), was " + sendConcurrency);
    }
    List<Prepared> members = new ArrayList<>(group.tasks().size());
    try {
      for (Signature task : group.tasks()) {
        members.add(prepare(task));
      }
    } catch (RuntimeException e) {
      notSent(members, e); // the members prepared so far were announced to listeners
      throw e;
    }
    try {
      try {
        backend.initGroup(group.groupUuid(), group.taskUuids());
      } catch (RuntimeException e) {
        throw new MachineryException("Init group error: " + e.getMessage(), e);
      }
      for (Prepared member : members) {
        storePending(member.signature);
      }
    } catch (RuntimeException e) {
      notSent(members, e);
      throw e;
    }
    publishAll(members, sendConcurrency);
    List<AsyncResult> results = new ArrayList<>(members.size());
    for (Prepared member : members) {
      results.add(new AsyncResult(member.signature, backend));
    }
    return results;
  }

  /** Sends a chord's group; the callback is sent by the worker that completes the group. */
  public ChordAsyncResult sendChord(Chord chord, int sendConcurrency) {
    prepare(chord.callback(), false); // refuse a bad callback before anything is stored
    List<AsyncResult> members = sendGroup(chord.group(), sendConcurrency);
    return new ChordAsyncResult(members.stream().map(AsyncResult::signature).toList(), chord.callback(), backend);
  }

  /** Sends a chain's first task; each next one is sent by the worker when its parent succeeds. */
  public ChainAsyncResult sendChain(Chain chain) {
    for (Signature task : chain.tasks()) {
      checkArgs(task);
    }
    sendTask(chain.tasks().get(0));
    return new ChainAsyncResult(chain.tasks(), backend);
  }

  /** A handle to a task sent elsewhere (by another process, or by Go). */
  public AsyncResult asyncResult(String taskUuid) {
    return new AsyncResult(Signature.emptyBuilder().uuid(taskUuid).build(), backend);
  }

  private record Prepared(Signature signature, byte[] message) {}

  private Prepared prepare(Signature signature) {
    return prepare(signature, true);
  }

  /** @param publishing whether the task will be published (then listeners see it), or is only checked */
  private Prepared prepare(Signature signature, boolean publishing) {
    checkArgs(signature);
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
      throw new IllegalArgumentException("task " + ready.name() + " " + ready.uuid() + " is " + message.length
          + " bytes, over the limit of " + config.maxMessageBytes() + " (Config.maxMessageBytes)");
    }
    return new Prepared(ready, message);
  }

  private static void checkArgs(Signature signature) {
    if (signature.name().isEmpty()) {
      throw new IllegalArgumentException("a task signature needs a name");
    }
    List<Arg> args = signature.args();
    for (int i = 0; i < args.size(); i++) {
      try {
        args.get(i).typedValue();
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "argument " + (i + 1) + " of task " + signature.name() + ": " + e.getMessage(), e);
      }
    }
    for (Signature callback : signature.onSuccess()) checkArgs(callback);
    for (Signature callback : signature.onError()) checkArgs(callback);
    Signature chord = signature.chordCallback();
    if (chord != null) checkArgs(chord);
  }

  private void storePending(Signature signature) {
    try {
      backend.setStatePending(signature);
    } catch (RuntimeException e) {
      throw new MachineryException("Set state pending error: " + e.getMessage(), e);
    }
  }

  private void publish(Prepared prepared) {
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

  /** Tells listeners that prepared tasks were not published (their {@link TaskListener#publishing} ran). */
  private void notSent(List<Prepared> prepared, @Nullable RuntimeException error) {
    if (listener == Listeners.NONE) {
      return;
    }
    RuntimeException why = error != null ? error : new IllegalArgumentException("message over Config.maxMessageBytes");
    for (Prepared p : prepared) {
      listener.sent(p.signature, why);
    }
  }

  private void publishAll(List<Prepared> members, int sendConcurrency) {
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
        MachineryException interrupted = new MachineryException("interrupted while sending group", e);
        notSent(members.subList(i, members.size()), interrupted);
        throw interrupted;
      }
      threads.add(Thread.ofVirtual().start(() -> {
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

  // ---------------------------------------------------------------------------------------------- periodic

  /**
   * Sends a copy of {@code signature}, with a fresh UUID, on every tick of {@code spec}: Go's {@code
   * RegisterPeriodicTask}. The spec is a robfig/cron standard spec: five fields ({@code "0 9 * * MON-FRI"}),
   * a descriptor ({@code "@daily"}), {@code "@every 1m30s"}, optionally prefixed with {@code "CRON_TZ=Area/City "}.
   * Before each run the scheduler takes this server's {@link #lock()} under Go's key, so among servers sharing
   * the lock one fires each tick. Registering {@code name} again replaces the entry. See {@link
   * PeriodicScheduler}.
   *
   * @throws IllegalArgumentException for an invalid spec (the message names the field and value), a spec that
   *     never fires, an empty name, or a signature {@link #sendTask} would refuse
   */
  public void registerPeriodicTask(String spec, String name, Signature signature) {
    periodic.registerTask(spec, name, signature);
  }

  /** Sends a new group of copies of {@code signatures} on every tick: Go's {@code RegisterPeriodicGroup}. */
  public void registerPeriodicGroup(String spec, String name, int sendConcurrency, Signature... signatures) {
    periodic.registerGroup(spec, name, sendConcurrency, Arrays.asList(signatures));
  }

  /** Sends a new chain of copies of {@code signatures} on every tick: Go's {@code RegisterPeriodicChain}. */
  public void registerPeriodicChain(String spec, String name, Signature... signatures) {
    periodic.registerChain(spec, name, Arrays.asList(signatures));
  }

  /** Sends a new chord on every tick: Go's {@code RegisterPeriodicChord}. */
  public void registerPeriodicChord(String spec, String name, int sendConcurrency, Signature callback,
      Signature... signatures) {
    periodic.registerChord(spec, name, sendConcurrency, callback, Arrays.asList(signatures));
  }

  /** Removes a periodic entry; returns whether there was one. */
  public boolean unregisterPeriodic(String name) {
    return periodic.unregister(name);
  }

  /** The periodic entries with their next fire times. */
  public List<PeriodicEntry> periodicEntries() {
    return periodic.entries();
  }

  /** This server's periodic scheduler, for {@link PeriodicScheduler#runDue()} and lookups. */
  public PeriodicScheduler periodicScheduler() {
    return periodic;
  }

  // ---------------------------------------------------------------------------------------------- workers

  /** A worker consuming the default queue with up to {@code concurrency} tasks at once. */
  public Worker newWorker(String consumerTag, int concurrency) {
    return workerBuilder(consumerTag).concurrency(concurrency).build();
  }

  /** A worker consuming {@code queue}. */
  public Worker newCustomQueueWorker(String consumerTag, int concurrency, String queue) {
    return workerBuilder(consumerTag).concurrency(concurrency).queue(queue).build();
  }

  /** A builder for a worker with handlers, graceful-stop timeout and signal handling. */
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

  // ---------------------------------------------------------------------------------------------- accessors

  public Config config() { return config; }
  public Broker broker() { return broker; }
  public Backend backend() { return backend; }
  public Lock lock() { return lock; }
  public Clock clock() { return clock; }

  /** The listeners given to the builder, as one (a no-op when there are none). */
  TaskListener listener() { return listener; }

  OffsetDateTime now() {
    return OffsetDateTime.now(clock).withOffsetSameInstant(java.time.ZoneOffset.UTC);
  }

  /** Stops the periodic scheduler and this server's workers, then closes what the server created. Idempotent. */
  @Override
  public void close() {
    periodic.close();
    for (Worker worker : workers) {
      worker.quit();
    }
    for (AutoCloseable resource : owned) {
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

    private Builder() {}

    public Builder config(Config value) { config = Objects.requireNonNull(value, "config"); return this; }
    /** The broker; default a {@link MemoryBroker} the server creates and closes. */
    public Builder broker(Broker value) { broker = Objects.requireNonNull(value, "broker"); return this; }
    /** The result backend; default a {@link MemoryBackend} the server creates and closes. */
    public Builder backend(Backend value) { backend = Objects.requireNonNull(value, "backend"); return this; }
    /** The lock for periodic tasks; default an {@link EagerLock}. */
    public Builder lock(Lock value) { lock = Objects.requireNonNull(value, "lock"); return this; }
    /** The clock for ETAs, retries and state times; default the system UTC clock. */
    public Builder clock(Clock value) { clock = Objects.requireNonNull(value, "clock"); return this; }
    /** Called in {@link #sendTask} after PENDING is stored, before publishing (Go's {@code SetPreTaskHandler}). */
    public Builder prePublishHandler(Consumer<Signature> handler) { prePublishHandler = Objects.requireNonNull(handler); return this; }

    /** Program name, zone, missed-fire policy and thread of the periodic scheduler; default {@link PeriodicConfig#defaults()}. */
    public Builder periodic(PeriodicConfig value) { periodic = Objects.requireNonNull(value, "periodic"); return this; }

    /**
     * Adds a listener for task events (sends, and runs on this server's workers); call it again for more, they
     * are called in the order added. See {@link TaskListener}; {@code machinery-micrometer} and {@code
     * machinery-opentelemetry} provide listeners.
     */
    public Builder listener(TaskListener value) { listeners.add(Objects.requireNonNull(value, "listener")); return this; }

    public Server build() {
      return new Server(this);
    }
  }
}
