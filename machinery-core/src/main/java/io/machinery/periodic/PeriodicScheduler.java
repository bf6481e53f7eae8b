package io.machinery.periodic;

import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.Group;
import io.machinery.Saga;
import io.machinery.Signature;
import io.machinery.internal.GoDurations;
import io.machinery.internal.GoTime;
import io.machinery.periodic.PeriodicEntry.Kind;
import io.machinery.periodic.PeriodicRun.Outcome;
import io.machinery.spi.Lock;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends tasks and workflows on cron schedules: Go Machinery's {@code
 * RegisterPeriodicTask/Group/Chain/Chord} (spec §2.12). Each {@link io.machinery.Server} owns one,
 * reached through {@link io.machinery.Server#periodicScheduler()} and the server's {@code
 * registerPeriodic*} methods, and closes it in {@link io.machinery.Server#close()}. The scheduler
 * knows only what it needs (a {@link PeriodicSender}, a {@link Lock} and a {@link Clock}), so this
 * package does not depend on {@code Server}.
 *
 * <h2>Design notes</h2>
 *
 * <ul>
 *   <li><b>Specs</b> are read exactly as robfig/cron v3's {@code ParseStandard} reads them (five
 *       fields, names, {@code ?}, descriptors, {@code @every <Go duration>}, {@code
 *       CRON_TZ=}/{@code TZ=}), with the same fire times; see {@code Schedule}. Specs without a
 *       zone prefix use {@link PeriodicConfig#zone()}. A spec is checked at registration: a bad
 *       one, or one that never fires, throws {@link IllegalArgumentException} naming the field and
 *       value.
 *   <li><b>Time</b> comes only from the server's {@link Clock}. An entry is due when its next fire
 *       time is not after {@code clock.instant()}. Once handled, its next fire time is the first
 *       tick after now (as robfig computes it from the time it woke up), so a late scheduler never
 *       bursts through missed ticks.
 *   <li><b>Threads.</b> No thread until the first registration, and none at all when {@link
 *       PeriodicConfig#backgroundThread()} is off. The scheduler thread (virtual) sleeps until the
 *       earliest next fire time but at most a second, so it notices a wall-clock jump, or a test
 *       moving a manual clock, within a second; registering or unregistering wakes it. Each due run
 *       goes to its own virtual thread, as robfig starts a goroutine per job, so a slow lock (the
 *       eager lock retries for 15 s) or broker delays no other entry. {@link #runDue()} hands out
 *       due runs the same way, then waits for them: that is how tests (and applications with their
 *       own timer) drive time deterministically. {@link #close()} stops the scheduler thread,
 *       interrupts runs in flight and waits for them; nothing outlives it.
 *   <li><b>One run per tick across servers</b>, as Go: before sending, a run takes {@code
 *       lock.tryLockWithRetries("machinery_lock_" + programName + name + spec, nextFireNanos - 1)},
 *       the lock expiring one nanosecond before the entry's next tick. Another scheduler holding it
 *       means that one fired this tick, and this run is skipped (logged at DEBUG; Go skips
 *       silently, issue #835). Java and Go schedulers exclude each other only when {@link
 *       PeriodicConfig#programName()} equals the Go binary's name.
 *   <li><b>Fresh messages</b> every run: templates are copied with new task UUIDs (nested callbacks
 *       too), and groups, chains and chords are rebuilt, so every run has its own group and chord
 *       UUIDs. Go keeps a UUID the template carries; here {@link Signature#create} gives every
 *       template one, and sending it again every run would overwrite the previous run's state.
 *   <li><b>Late runs.</b> A run reached more than {@link PeriodicConfig#missedFireThreshold()}
 *       after its time is handled by {@link PeriodicConfig#missedFirePolicy()}: fire once, or skip
 *       to the next tick.
 *   <li><b>Names are unique</b> (Go allows duplicates): registering a name again replaces that
 *       entry.
 * </ul>
 *
 * <p>Thread-safe.
 *
 * <p>Size: one state machine (registration, the sleeping thread, due runs, the cross-server lock,
 * shutdown) whose parts share the entry table and its lock; the spec parser is {@code Schedule}.
 */
public final class PeriodicScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PeriodicScheduler.class);
  static final long MAX_IDLE_MILLIS = 1000;
  private static final int MAX_COUNTED_TICKS = 10_000;

  private final PeriodicSender sender;
  private final Lock lock;
  private final Clock clock;
  private final PeriodicConfig config;
  private final ReentrantLock state = new ReentrantLock();
  private final Condition changed = state.newCondition();
  private final Map<String, Entry> entries = new LinkedHashMap<>(); // guarded by state
  private final Set<Thread> running = ConcurrentHashMap.newKeySet();
  private @Nullable Thread loop; // guarded by state
  private boolean closed; // guarded by state
  private boolean wakeUp; // guarded by state

  private PeriodicScheduler(PeriodicSender sender, Lock lock, Clock clock, PeriodicConfig config) {
    this.sender = Objects.requireNonNull(sender, "sender");
    this.lock = Objects.requireNonNull(lock, "lock");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.config = Objects.requireNonNull(config, "config");
  }

  /**
   * Creates a scheduler. Applications do not call this: {@link io.machinery.Server} makes the one
   * it owns (use {@link io.machinery.Server#periodicScheduler()}); this factory is the seam that
   * keeps the scheduler free of {@code Server}. A scheduler made here belongs to the caller, who
   * closes it.
   *
   * @param sender stores and publishes each run's messages
   * @param lock taken before each run, so that one of the schedulers sharing it fires each tick
   * @param clock the only source of time: due runs, lock expiry, late-run detection
   * @param config program name, zone, missed-fire policy and thread
   * @return a scheduler with no entries and no thread yet
   */
  public static PeriodicScheduler create(
      PeriodicSender sender, Lock lock, Clock clock, PeriodicConfig config) {
    return new PeriodicScheduler(sender, lock, clock, config);
  }

  /**
   * Returns the settings this scheduler was made with.
   *
   * @return the settings
   */
  public PeriodicConfig config() {
    return config;
  }

  // ------------------------------------------------------------------------------------------
  // registration

  /**
   * Sends a copy of {@code signature}, with a fresh UUID, on every tick of {@code spec}. Go's
   * {@code RegisterPeriodicTask(spec, name, signature)}; registering {@code name} again replaces
   * the entry.
   *
   * @throws IllegalArgumentException for an invalid spec (naming field and value), a spec that
   *     never fires, an empty name, or a signature without a name or with an argument of an
   *     unsupported type
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerTask(String spec, String name, Signature signature) {
    Objects.requireNonNull(signature, "signature");
    checkTemplate(signature, name);
    register(
        spec,
        name,
        Kind.TASK,
        () -> {
          return List.of(sender.sendTask(fresh(signature, Uuids.newTaskUuid())));
        });
  }

  /**
   * Sends a new group of copies of {@code signatures} on every tick, at most {@code
   * sendConcurrency} publishes at once (0: no limit). Go's {@code RegisterPeriodicGroup}.
   *
   * @throws IllegalArgumentException as {@link #registerTask}, or for no signatures or a negative
   *     concurrency
   */
  public void registerGroup(
      String spec, String name, int sendConcurrency, List<Signature> signatures) {
    List<Signature> templates = templates(signatures, name);
    checkConcurrency(sendConcurrency);
    register(
        spec,
        name,
        Kind.GROUP,
        () -> {
          Group group = Group.of(freshAll(templates));
          return sender.sendGroup(group, sendConcurrency);
        });
  }

  /**
   * Sends a new chain of copies of {@code signatures} on every tick. Go's {@code
   * RegisterPeriodicChain}.
   *
   * @throws IllegalArgumentException as {@link #registerTask}, or for no signatures
   */
  public void registerChain(String spec, String name, List<Signature> signatures) {
    List<Signature> templates = templates(signatures, name);
    register(
        spec,
        name,
        Kind.CHAIN,
        () -> {
          Chain chain = Chain.of(freshAll(templates));
          sender.sendChain(chain);
          return chain.tasks();
        });
  }

  /**
   * Sends a new chord on every tick: a group of copies of {@code signatures} whose results go to a
   * copy of {@code callback}. Go's {@code RegisterPeriodicChord}.
   *
   * @throws IllegalArgumentException as {@link #registerGroup}, or for a callback without a name
   */
  public void registerChord(
      String spec,
      String name,
      int sendConcurrency,
      Signature callback,
      List<Signature> signatures) {
    Objects.requireNonNull(callback, "callback");
    checkTemplate(callback, name);
    List<Signature> templates = templates(signatures, name);
    checkConcurrency(sendConcurrency);
    register(
        spec,
        name,
        Kind.CHORD,
        () -> {
          Chord chord =
              Chord.of(
                  Group.of(freshAll(templates)),
                  fresh(callback, "")); // Chord.of gives a chord_ UUID
          sender.sendChord(chord, sendConcurrency);
          return Stream.concat(chord.group().tasks().stream(), Stream.of(chord.callback()))
              .toList();
        });
  }

  /**
   * Sends a copy of {@code dag} with new UUIDs ({@link Dag#withNewUuids}) on every tick.
   *
   * @throws IllegalArgumentException for an invalid spec, a spec that never fires or an empty name
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerDag(String spec, String name, Dag dag) {
    Objects.requireNonNull(dag, "dag");
    register(
        spec,
        name,
        Kind.DAG,
        () -> {
          Dag sent = dag.withNewUuids();
          sender.sendDag(sent);
          return List.copyOf(sent.tasks().values());
        });
  }

  /**
   * Sends a copy of {@code saga} with new UUIDs ({@link Saga#withNewUuids}) on every tick.
   *
   * @throws IllegalArgumentException for an invalid spec, a spec that never fires or an empty name
   * @throws IllegalStateException after {@link #close()}
   */
  public void registerSaga(String spec, String name, Saga saga) {
    Objects.requireNonNull(saga, "saga");
    register(
        spec,
        name,
        Kind.SAGA,
        () -> {
          Saga sent = saga.withNewUuids();
          sender.sendSaga(sent);
          return sent.steps();
        });
  }

  /**
   * Removes the entry {@code name}; a run of it already in flight completes.
   *
   * @return whether there was such an entry
   */
  public boolean unregister(String name) {
    Objects.requireNonNull(name, "name");
    state.lock();
    try {
      Entry removed = entries.remove(name);
      if (removed == null) {
        return false;
      }
      log.info("Periodic {} {} (\"{}\") unregistered", kindName(removed.kind), name, removed.spec);
      wake();
      return true;
    } finally {
      state.unlock();
    }
  }

  /** The registered entries, in registration order, with their next fire times. */
  public List<PeriodicEntry> entries() {
    state.lock();
    try {
      return entries.values().stream().map(Entry::snapshot).toList();
    } finally {
      state.unlock();
    }
  }

  /** The entry registered under {@code name}, if any. */
  public Optional<PeriodicEntry> entry(String name) {
    state.lock();
    try {
      return Optional.ofNullable(entries.get(name)).map(Entry::snapshot);
    } finally {
      state.unlock();
    }
  }

  // ------------------------------------------------------------------------------------------
  // firing

  /**
   * Handles every entry due at the clock's current instant, each on its own virtual thread as the
   * scheduler thread does, and returns when all are done: one {@link PeriodicRun} per due entry, in
   * registration order. Entries not due are left alone, so calling this again at the same instant
   * does nothing. Meant for schedulers without a background thread (tests on a manual clock;
   * applications with their own timer); it is safe beside the background thread too, since each
   * tick is handed out once.
   *
   * @throws IllegalStateException after {@link #close()}
   */
  public List<PeriodicRun> runDue() {
    List<CompletableFuture<PeriodicRun>> runs = dispatchDue(true);
    List<PeriodicRun> results = new ArrayList<>(runs.size());
    for (CompletableFuture<PeriodicRun> run : runs) {
      results.add(run.join());
    }
    return results;
  }

  private List<CompletableFuture<PeriodicRun>> dispatchDue(boolean failIfClosed) {
    state.lock();
    try {
      if (closed) {
        if (failIfClosed) {
          throw new IllegalStateException(
              "the periodic scheduler is closed (its server was closed)");
        }
        return List.of();
      }
      Instant now = clock().instant();
      List<CompletableFuture<PeriodicRun>> runs = new ArrayList<>();
      for (Entry entry : entries.values()) {
        Instant scheduled = entry.next;
        if (scheduled == null || scheduled.isAfter(now)) {
          continue;
        }
        Instant following = nextAfter(entry.schedule, now);
        entry.next = following;
        entry.last = scheduled;
        Duration late = Duration.between(scheduled, now);
        if (late.compareTo(config.missedFireThreshold()) > 0) {
          String ticks = countTicks(entry.schedule, scheduled, now);
          if (config.missedFirePolicy() == MissedFirePolicy.SKIP) {
            log.warn(
                "Periodic {} missed {} run(s) from {}, now {} late; missed-fire policy SKIP, so it waits for"
                    + " its next run at {}",
                entry.name,
                ticks,
                scheduled,
                GoDurations.format(late),
                following);
            runs.add(
                CompletableFuture.completedFuture(
                    new PeriodicRun(
                        entry.name, scheduled, Outcome.SKIPPED_MISSED, List.of(), null)));
            continue;
          }
          log.info(
              "Periodic {} missed {} run(s) from {}, now {} late; missed-fire policy FIRE_ONCE, so it fires"
                  + " once now",
              entry.name,
              ticks,
              scheduled,
              GoDurations.format(late));
        }
        // Go: schedule.Next(now).UnixNano() - 1. An entry with no next tick keeps its lock for a
        // day.
        long lockValue =
            GoTime.unixNanos(following != null ? following : now.plus(Duration.ofDays(1))) - 1;
        runs.add(start(entry, scheduled, lockValue));
      }
      return runs;
    } finally {
      state.unlock();
    }
  }

  private CompletableFuture<PeriodicRun> start(Entry entry, Instant scheduled, long lockValue) {
    CompletableFuture<PeriodicRun> result = new CompletableFuture<>();
    Thread thread =
        Thread.ofVirtual()
            .name("machinery-periodic-" + entry.name)
            .unstarted(
                () -> {
                  try {
                    result.complete(fire(entry, scheduled, lockValue));
                  } catch (Throwable t) {
                    result.completeExceptionally(t);
                    throw t;
                  } finally {
                    running.remove(Thread.currentThread());
                  }
                });
    running.add(thread);
    thread.start();
    return result;
  }

  private PeriodicRun fire(Entry entry, Instant scheduled, long lockValue) {
    boolean locked;
    try {
      locked = lock.tryLockWithRetries(entry.lockKey, lockValue);
    } catch (RuntimeException e) {
      log.warn(
          "Periodic {} run at {} not sent: taking lock {} failed: {}",
          entry.name,
          scheduled,
          entry.lockKey,
          e.toString());
      return new PeriodicRun(entry.name, scheduled, Outcome.FAILED, List.of(), e);
    }
    if (!locked) {
      if (Thread.currentThread().isInterrupted()) {
        log.info(
            "Periodic {} run at {} not sent: the scheduler closed while it waited for lock {}",
            entry.name,
            scheduled,
            entry.lockKey);
        return new PeriodicRun(
            entry.name,
            scheduled,
            Outcome.FAILED,
            List.of(),
            new CancellationException("the periodic scheduler was closed"));
      }
      log.debug(
          "Periodic {} run at {} skipped: lock {} is held, so another server fired it",
          entry.name,
          scheduled,
          entry.lockKey);
      return new PeriodicRun(entry.name, scheduled, Outcome.LOCKED_ELSEWHERE, List.of(), null);
    }
    try {
      List<Signature> sent = entry.job.send();
      log.debug(
          "Periodic {} run at {} sent {}",
          entry.name,
          scheduled,
          sent.stream().map(Signature::uuid).toList());
      return new PeriodicRun(entry.name, scheduled, Outcome.SENT, sent, null);
    } catch (RuntimeException e) {
      // Go's text, so that log searches written for Go still match.
      log.warn(
          "periodic task failed. task name is: {}. error is {} (run at {})",
          entry.name,
          e.toString(),
          scheduled);
      return new PeriodicRun(entry.name, scheduled, Outcome.FAILED, List.of(), e);
    }
  }

  private void loop() {
    while (true) {
      state.lock();
      try {
        if (closed) {
          return;
        }
        try {
          dispatchDue(false);
        } catch (RuntimeException e) {
          log.error(
              "Periodic scheduler: handing out due runs failed; trying again in {} ms",
              MAX_IDLE_MILLIS,
              e);
        }
        long waitNanos = Duration.ofMillis(MAX_IDLE_MILLIS).toNanos();
        Instant now = clock().instant();
        for (Entry entry : entries.values()) {
          if (entry.next != null) {
            Duration until = Duration.between(now, entry.next);
            waitNanos = Math.min(waitNanos, until.isNegative() ? 0 : until.toNanos());
          }
        }
        if (!wakeUp && waitNanos > 0) {
          changed.awaitNanos(waitNanos);
        }
        wakeUp = false;
      } catch (InterruptedException e) {
        return; // close()
      } finally {
        state.unlock();
      }
    }
  }

  /** Stops the scheduler thread, interrupts runs in flight and waits for them. Idempotent. */
  @Override
  public void close() {
    Thread scheduler;
    state.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      scheduler = loop;
      entries.clear();
      changed.signalAll();
    } finally {
      state.unlock();
    }
    List<Thread> threads = new ArrayList<>(running);
    if (scheduler != null) {
      threads.add(0, scheduler);
    }
    threads.remove(
        Thread.currentThread()); // close() called from a task run: do not wait for ourselves
    threads.forEach(Thread::interrupt);
    for (Thread thread : threads) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        log.warn("Periodic scheduler: interrupted while waiting for {} to stop", thread.getName());
        return;
      }
    }
  }

  /**
   * Whether the scheduler thread or a run is alive; false before the first registration and after
   * close.
   */
  boolean hasLiveThreads() {
    Thread scheduler;
    state.lock();
    try {
      scheduler = loop;
    } finally {
      state.unlock();
    }
    return (scheduler != null && scheduler.isAlive()) || running.stream().anyMatch(Thread::isAlive);
  }

  // ------------------------------------------------------------------------------------------
  // internals

  private void register(String spec, String name, Kind kind, Job job) {
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a periodic entry needs a non-empty name");
    }
    Schedule schedule = Schedule.parse(spec);
    String lockKey = "machinery_lock_" + config.programName() + name + spec;
    state.lock();
    try {
      if (closed) {
        throw new IllegalStateException("the periodic scheduler is closed (its server was closed)");
      }
      Instant next = nextAfter(schedule, clock().instant());
      if (next == null) {
        throw new IllegalArgumentException(
            "invalid periodic spec \""
                + spec
                + "\": it never fires (no time in the next five years matches it)");
      }
      Entry entry = new Entry(name, spec, kind, schedule, lockKey, job, next);
      Entry old = entries.put(name, entry);
      if (old == null) {
        log.info(
            "Periodic {} {} registered with spec \"{}\"; next run at {}",
            kindName(kind),
            name,
            spec,
            next);
      } else {
        log.info(
            "Periodic {} {} replaced: spec \"{}\" is now \"{}\"; next run at {}",
            kindName(kind),
            name,
            old.spec,
            spec,
            next);
      }
      wake();
      if (config.backgroundThread() && loop == null) {
        loop = Thread.ofVirtual().name("machinery-periodic").start(this::loop);
      }
    } finally {
      state.unlock();
    }
  }

  private static String kindName(Kind kind) {
    return kind.name().toLowerCase(Locale.ROOT);
  }

  private void wake() {
    wakeUp = true;
    changed.signalAll();
  }

  private Clock clock() {
    return clock;
  }

  private @Nullable Instant nextAfter(Schedule schedule, Instant instant) {
    ZonedDateTime next = schedule.next(instant.atZone(config.zone()));
    return next == null ? null : next.toInstant();
  }

  /** How many ticks from {@code first} up to {@code now} went by, for the log. */
  private String countTicks(Schedule schedule, Instant first, Instant now) {
    int count = 1;
    Instant t = first;
    while (count < MAX_COUNTED_TICKS) {
      t = nextAfter(schedule, t);
      if (t == null || t.isAfter(now)) {
        return Integer.toString(count);
      }
      count++;
    }
    return "at least " + MAX_COUNTED_TICKS;
  }

  private static List<Signature> templates(List<Signature> signatures, String name) {
    List<Signature> templates = List.copyOf(Objects.requireNonNull(signatures, "signatures"));
    if (templates.isEmpty()) {
      throw new IllegalArgumentException(
          "periodic entry " + name + " needs at least one signature");
    }
    templates.forEach(s -> checkTemplate(s, name));
    return templates;
  }

  private static void checkConcurrency(int sendConcurrency) {
    if (sendConcurrency < 0) {
      throw new IllegalArgumentException(
          "sendConcurrency must be >= 0 (0 = unlimited), was " + sendConcurrency);
    }
  }

  /** What {@code Server.sendTask} would refuse, refused now rather than at every run. */
  private static void checkTemplate(Signature signature, String name) {
    try {
      WireCodec.checkTask(signature);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("periodic entry " + name + ": " + e.getMessage(), e);
    }
  }

  private static List<Signature> freshAll(List<Signature> templates) {
    return templates.stream().map(t -> fresh(t, Uuids.newTaskUuid())).toList();
  }

  /**
   * A copy of {@code template} with {@code uuid}, and fresh UUIDs for the callbacks that carry one.
   * Without recursion (a template may carry a chain of thousands): the signatures are listed
   * parents first, then rebuilt from the last, so that each one's callbacks are built before it.
   */
  static Signature fresh(Signature template, String uuid) {
    List<Copy> order = new ArrayList<>();
    order.add(new Copy(template, uuid, null, 0));
    for (int i = 0; i < order.size(); i++) {
      Copy parent = order.get(i);
      Signature t = parent.template;
      for (int k = 0; k < t.onSuccess().size(); k++) {
        Signature s = t.onSuccess().get(k);
        order.add(new Copy(s, freshUuid(s.uuid()), parent, k));
      }
      for (int k = 0; k < t.onError().size(); k++) {
        Signature s = t.onError().get(k);
        order.add(new Copy(s, freshUuid(s.uuid()), parent, t.onSuccess().size() + k));
      }
      Signature chordCallback = t.chordCallback();
      if (chordCallback != null) {
        order.add(new Copy(chordCallback, freshUuid(chordCallback.uuid()), parent, -1));
      }
    }
    for (int i = order.size() - 1; ; i--) {
      Copy c = order.get(i);
      Signature built = c.build();
      if (c.parent == null) {
        return built;
      }
      if (c.slot < 0) {
        c.parent.chordCallback = built;
      } else {
        c.parent.callbacks[c.slot] = built;
      }
    }
  }

  /** One signature of {@link #fresh}: its template, its new UUID, and its callbacks once built. */
  private static final class Copy {
    final Signature template;
    final String uuid;
    final @Nullable Copy parent;

    /** Where it goes in its parent: an index into its {@link #callbacks}, or -1 for the chord. */
    final int slot;

    /** The OnSuccess copies, then the OnError ones. */
    final Signature[] callbacks;

    @Nullable Signature chordCallback;

    Copy(Signature template, String uuid, @Nullable Copy parent, int slot) {
      this.template = template;
      this.uuid = uuid;
      this.parent = parent;
      this.slot = slot;
      this.callbacks = new Signature[template.onSuccess().size() + template.onError().size()];
    }

    Signature build() {
      Signature.Builder copy = template.toBuilder().uuid(uuid);
      int successes = template.onSuccess().size();
      List<Signature> all = Arrays.asList(callbacks);
      if (template.hasOnSuccess()) {
        copy.onSuccess(all.subList(0, successes));
      }
      if (template.hasOnError()) {
        copy.onError(all.subList(successes, callbacks.length));
      }
      if (template.chordCallback() != null) {
        copy.chordCallback(chordCallback);
      }
      return copy.build();
    }
  }

  private static String freshUuid(String old) {
    if (old.isEmpty()) {
      return "";
    }
    return old.startsWith("chord_") ? Uuids.newChordUuid() : Uuids.newTaskUuid();
  }

  /** Builds this run's messages from the templates and sends them; returns what it sent. */
  private interface Job {
    List<Signature> send();
  }

  private static final class Entry {
    final String name;
    final String spec;
    final Kind kind;
    final Schedule schedule;
    final String lockKey;
    final Job job;
    @Nullable Instant next; // guarded by state
    @Nullable Instant last; // guarded by state

    Entry(
        String name,
        String spec,
        Kind kind,
        Schedule schedule,
        String lockKey,
        Job job,
        Instant next) {
      this.name = name;
      this.spec = spec;
      this.kind = kind;
      this.schedule = schedule;
      this.lockKey = lockKey;
      this.job = job;
      this.next = next;
    }

    PeriodicEntry snapshot() {
      return new PeriodicEntry(name, spec, kind, lockKey, next, last);
    }
  }
}
