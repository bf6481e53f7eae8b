package io.machinery;

import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.BreakerOpening;
import io.machinery.wire.LogText;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's circuit breakers ({@link TaskBreaker}, set with {@link Worker.Builder#breaker}):
 * asked after a delivery is decoded and before its task runs, told how the run ended.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Parking.</b> A task whose breaker is open goes back to the broker with a delay ({@link
 *       io.machinery.spi.Delivery#requeue(java.time.Duration, byte[])}), as a limited task does
 *       ({@link TaskLimits}): it holds no slot, nothing polls, and other tasks take the slot at
 *       once. Its header {@value MessageHeaders#BREAKER} counts the parkings; neither {@code
 *       RetryCount} nor {@code maxDeliveries} sees them.
 *   <li><b>Delays are few distinct values</b>, since a broker that keeps a queue per delay (AMQP's
 *       requeue queues) keeps one per value: while open, the time left rounded up to an eighth of
 *       {@code openFor}, plus 0, 1 or 2 eighths at random (so parked tasks come back spread over a
 *       quarter of {@code openFor}, not at one instant); while half-open, a doubling from 50 ms by
 *       the message's parkings, at most {@code openFor}.
 *   <li><b>Generations.</b> Each state change starts a generation; a run reports its outcome with
 *       the generation it was admitted in, and outcomes of an older generation are ignored: a run
 *       admitted while closed that fails after the breaker opened does not reopen it later, and a
 *       slow run from before cannot close a half-open breaker.
 *   <li><b>One lock per key</b>, held for a few field updates; logging happens outside it.
 *   <li><b>Bounded memory.</b> Keys may be many (one per tenant or host). Past {@link #MAX_KEYS},
 *       at most once a second, the worker forgets the keys that are closed with no failure kept:
 *       forgetting one loses only its count of successes.
 *   <li><b>Openings from the control plane</b> ({@link #follow}, on every heartbeat): an opening of
 *       a key opens this worker's breaker of that key until its {@code until}, once per opening id;
 *       a key that is a task name whose breaker is keyed by name gets its breaker at once (other
 *       keys when a task of theirs first arrives), so the heartbeat lists it open. An opening that
 *       this worker applied and that is gone before its time was closed elsewhere: the breaker
 *       closes. A read that began before the opening was applied cannot close it ({@code
 *       appliedAt}): the opening may simply not have been in the store yet.
 *   <li><b>Sharing</b> ({@link TaskBreaker#shared()}): the outcomes this worker counts (while
 *       closed) are also sent to the key's window kept for the whole cluster ({@link
 *       ControlPlane#countBreakerRuns}), which opens the key on every worker once the cluster's
 *       runs reach the failure rate. They go from one virtual thread per key at a time, each round
 *       trip carrying the outcomes kept since the last (at most a window's worth, at most one round
 *       trip per 50 ms; none on the task path); the answer's opening is applied at once, other
 *       workers apply it on their heartbeat or their next count. This worker's own window still
 *       opens its own breaker, and such an opening stays this worker's: a fault only this worker
 *       sees does not park the cluster. A count that fails is logged and its outcomes count on this
 *       worker only.
 *   <li><b>One trial for the cluster</b> (shared breakers only): when an opening of the control
 *       plane that this worker applied ends, the first task of the key to arrive asks the control
 *       plane who runs the trial ({@link ControlPlane#claimBreakerTrial}, on that task's own
 *       thread, once per opening; the worker's other tasks of the key park meanwhile and heartbeats
 *       change nothing). Won, that task is the trial and the others follow the trial opening
 *       written for them: open, but parking briefly (as half-open), until the trial passed (its
 *       opening is removed: they close within a heartbeat, or at their next claim) or failed (the
 *       trial's worker opens the key again for {@code openFor}). The applied opening's id is kept
 *       past its time so the claim can name it. A control plane that keeps no trials, or a claim
 *       that fails, leaves this worker to its own trial, as for openings of its own window.
 *   <li><b>Eager broker.</b> Its deliveries run in the sender's thread and cannot be requeued: the
 *       gate waits there instead, asking again after each delay.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class TaskBreakers {
  private static final Logger log = LoggerFactory.getLogger(Worker.class);

  /** How a run ended, for its breaker. */
  enum Verdict {
    /** The function returned a result. */
    SUCCEEDED,
    /** The function threw, or outlived its deadline. */
    FAILED,
    /** Neither: retry later asked for, cancelled, abandoned, arguments that did not bind. */
    NEUTRAL
  }

  /** What the gate decided. */
  sealed interface Entry {}

  /** Run the task, then {@link #report} how it ended (once). */
  static final class Ticket implements Entry {
    private final @Nullable Circuit circuit;
    private final long generation;
    private final boolean trial;
    private boolean reported;

    private Ticket(@Nullable Circuit circuit, long generation, boolean trial) {
      this.circuit = circuit;
      this.generation = generation;
      this.trial = trial;
    }

    /**
     * Tells the breaker how the run ended; later calls do nothing.
     *
     * @param verdict how it ended
     * @param error what the function threw when {@code verdict} is {@link Verdict#FAILED}
     */
    void report(Verdict verdict, @Nullable Throwable error) {
      if (circuit == null || reported) {
        return;
      }
      reported = true;
      Verdict counted = verdict;
      if (verdict == Verdict.FAILED && error != null && !circuit.countsAsFailure(error)) {
        counted = Verdict.NEUTRAL;
      }
      circuit.report(generation, trial, counted, error);
    }
  }

  /** Hand the message back: {@code replacement} after {@code delay}. */
  record Park(
      Duration delay, Signature replacement, String key, TaskBreaker.State state, int parkings)
      implements Entry {}

  static final Ticket UNBROKEN = new Ticket(null, 0, false);

  /**
   * An opening gone from the control plane less than this before its time counts as expired, not
   * closed: the store and this worker may disagree on the time by a little.
   */
  static final long EXPIRY_MARGIN_MILLIS = 1_000;

  /**
   * The least time between two counts of one key's runs for the cluster: a busy key sends a
   * window's worth of outcomes at most this often, not one round trip after another.
   */
  static final long CLUSTER_COUNT_INTERVAL_NANOS =
      java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50);

  /** How many keys' state a worker keeps before it forgets the closed ones without failures. */
  static final int MAX_KEYS = 10_000;

  private final Map<String, TaskBreaker> breakers;
  private final Map<String, Circuit> circuits = new ConcurrentHashMap<>();
  private final Clock clock;
  private final String consumerTag;
  private final AtomicLong nextSweep = new AtomicLong();

  /** The openings of the control plane's last read ({@link #follow}), by key. */
  private volatile Map<String, BreakerOpening> openings = Map.of();

  /** False once the control plane said it keeps no openings. */
  private volatile boolean openingsSupported = true;

  /** False once the control plane refused to count runs for the cluster. */
  private volatile boolean countingSupported = true;

  /** False once the control plane said it keeps no cluster trials: each worker runs its own. */
  private volatile boolean clusterTrialsSupported = true;

  /** Where shared breakers count their runs, and as whom; set by the first {@link #follow}. */
  private record Sharing(ControlPlane plane, String workerId) {}

  private volatile @Nullable Sharing sharing;

  TaskBreakers(Map<String, TaskBreaker> breakers, Clock clock, String consumerTag) {
    this.breakers = Map.copyOf(breakers);
    this.clock = clock;
    this.consumerTag = consumerTag;
  }

  boolean isEmpty() {
    return breakers.isEmpty();
  }

  /**
   * Asks the breaker of {@code signature}'s task whether it may run now.
   *
   * @throws RuntimeException when the key function throws or returns a bad key
   */
  Entry enter(Signature signature) {
    TaskBreaker breaker = breakers.get(signature.name());
    if (breaker == null) {
      return UNBROKEN;
    }
    String key = breaker.keyOf(signature);
    long now = clock.millis();
    Circuit circuit = circuits.get(key);
    if (circuit == null) {
      forgetQuietKeys(now);
      circuit = circuitOf(key, breaker);
    }
    return circuit.admit(signature, now);
  }

  /** The key's breaker, made when missing with the opening of the last read applied. */
  private Circuit circuitOf(String key, TaskBreaker breaker) {
    boolean[] made = {false};
    Circuit circuit =
        circuits.computeIfAbsent(
            key,
            k -> {
              made[0] = true;
              return new Circuit(k, breaker);
            });
    BreakerOpening opening = openings.get(key);
    if (made[0] && opening != null) {
      circuit.follow(opening, System.nanoTime(), clock.millis());
    }
    return circuit;
  }

  /**
   * Reads the breaker openings of {@code plane} and applies them (see the class notes); {@code
   * workerId} names this worker in an opening that its shared breakers' counts cause. A control
   * plane that keeps no openings turns this off for good (logged once).
   *
   * @throws RuntimeException when the control plane cannot be read (the heartbeat logs it)
   */
  void follow(ControlPlane plane, String workerId) {
    if (breakers.isEmpty() || !openingsSupported) {
      return;
    }
    sharing = new Sharing(plane, workerId);
    long readAt = System.nanoTime();
    Map<String, BreakerOpening> read;
    try {
      read = Map.copyOf(plane.openBreakers());
    } catch (UnsupportedOperationException e) {
      openingsSupported = false;
      sharing = null;
      log.debug(
          "The control plane {} keeps no breaker openings: the breakers of worker {} stay its own",
          plane.getClass().getSimpleName(),
          consumerTag);
      return;
    }
    openings = read;
    long now = clock.millis();
    read.forEach(
        (key, opening) -> {
          TaskBreaker named = breakers.get(key);
          if (!circuits.containsKey(key) && named != null && named.keyedByTaskName()) {
            circuitOf(key, named); // listed open by the heartbeat before a task of it arrives
          }
        });
    circuits.forEach((key, circuit) -> circuit.follow(read.get(key), readAt, now));
  }

  /** Past {@link #MAX_KEYS}, at most once a second: drops the closed keys with no failure kept. */
  private void forgetQuietKeys(long now) {
    long due = nextSweep.get();
    if (circuits.size() < MAX_KEYS || now < due || !nextSweep.compareAndSet(due, now + 1000)) {
      return;
    }
    circuits.values().removeIf(Circuit::isQuiet);
  }

  /** The id of the control plane's opening that {@code key}'s breaker applied (tests). */
  @Nullable String appliedOpening(String key) {
    Circuit circuit = circuits.get(key);
    if (circuit == null) {
      return null;
    }
    synchronized (circuit) {
      return circuit.appliedId;
    }
  }

  /** How many outcomes of {@code key} wait to be sent to the cluster's window (tests). */
  int pendingClusterRuns(String key) {
    Circuit circuit = circuits.get(key);
    if (circuit == null) {
      return 0;
    }
    synchronized (circuit) {
      return circuit.clusterRuns.size() + (circuit.flushing ? 1 : 0);
    }
  }

  /** How many keys' state is kept (tests). */
  int keys() {
    return circuits.size();
  }

  /**
   * {@link #enter} until admitted, waiting in this thread between tries (the eager broker).
   *
   * @throws InterruptedException when interrupted while waiting
   */
  Ticket enterWaiting(Signature signature) throws InterruptedException {
    Signature current = signature;
    while (true) {
      Entry entry = enter(current);
      if (entry instanceof Ticket ticket) {
        return ticket;
      }
      Park park = (Park) entry;
      current = park.replacement();
      Thread.sleep(park.delay());
    }
  }

  /** The state of every breaker key this worker has seen, by key. */
  Map<String, TaskBreaker.State> states() {
    long now = clock.millis();
    Map<String, TaskBreaker.State> states = new TreeMap<>();
    circuits.forEach((key, circuit) -> states.put(key, circuit.state(now)));
    return states;
  }

  /** One key's breaker. */
  private final class Circuit {
    private final String key;
    private final TaskBreaker breaker;
    private final Backoff halfOpenBackoff;
    // Guarded by this.
    private TaskBreaker.State state = TaskBreaker.State.CLOSED;
    private long generation;
    private final boolean[] failedRuns;
    private int kept;
    private int next;
    private int failures;
    private long openUntil;
    private int trialsRunning;
    private int trialsSucceeded;

    /** The id of the control plane's opening this breaker applied; null when none. */
    private @Nullable String appliedId;

    /** When {@link #appliedId} was set ({@link System#nanoTime()}). */
    private long appliedAt;

    /** Whether the opening applied is another worker's trial opening: its trial decides. */
    private boolean followingTrial;

    /** The trial opening of the cluster's trial this worker runs now; null when none. */
    private @Nullable String clusterTrialId;

    /** Whether this worker is asking the control plane for the cluster's trial. */
    private boolean claiming;

    /** Outcomes not yet sent to the cluster's window (a shared breaker), oldest first. */
    private final java.util.ArrayDeque<Boolean> clusterRuns = new java.util.ArrayDeque<>();

    /** Whether a virtual thread is sending {@link #clusterRuns}. */
    private boolean flushing;

    /** Whether the last count failed: a failing streak is logged once. */
    private boolean countFailing;

    /** When the last count for the cluster began ({@link System#nanoTime()}). */
    private long lastClusterCount = System.nanoTime() - CLUSTER_COUNT_INTERVAL_NANOS;

    private final ControlPlane.BreakerWindow clusterWindow;

    Circuit(String key, TaskBreaker breaker) {
      this.key = key;
      this.breaker = breaker;
      this.failedRuns = new boolean[breaker.window()];
      this.clusterWindow =
          new ControlPlane.BreakerWindow(
              breaker.window(), breaker.minimumRuns(), breaker.failureRate(), breaker.openFor());
      Duration first =
          Worker.FIRST_LIMIT_DELAY.compareTo(breaker.openFor()) < 0
              ? Worker.FIRST_LIMIT_DELAY
              : breaker.openFor();
      this.halfOpenBackoff = new Backoff(first, breaker.openFor());
    }

    boolean countsAsFailure(Throwable error) {
      try {
        return breaker.countsAsFailure(error);
      } catch (RuntimeException e) {
        log.warn(
            "The countsAsFailure predicate of breaker {} threw {}; counting the error",
            LogText.of(key),
            e.toString());
        return true;
      }
    }

    synchronized boolean isQuiet() {
      return state == TaskBreaker.State.CLOSED && failures == 0;
    }

    /** The state for people: open while another worker's trial decides shows half-open. */
    synchronized TaskBreaker.State state(long now) {
      return state == TaskBreaker.State.OPEN && (now >= openUntil || followingTrial)
          ? TaskBreaker.State.HALF_OPEN
          : state;
    }

    Entry admit(Signature signature, long now) {
      boolean halfOpened = false;
      String endedId = null;
      long claimedIn = 0;
      Entry entry;
      synchronized (this) {
        if (state == TaskBreaker.State.OPEN && now >= openUntil) {
          state = TaskBreaker.State.HALF_OPEN;
          generation++;
          trialsRunning = 0;
          trialsSucceeded = 0;
          clusterTrialId = null;
          followingTrial = false;
          if (appliedId != null && breaker.shared() && clusterTrialsSupported && sharing != null) {
            claiming = true; // an opening of the cluster ended: one trial for the cluster
            endedId = appliedId;
            claimedIn = generation;
          } else {
            halfOpened = true;
          }
        }
        entry = endedId != null ? null : admitted(signature, now);
      }
      if (halfOpened) {
        log.info(
            "Worker {}: breaker {} is half-open: letting {} trial run(s) through",
            consumerTag,
            LogText.of(key),
            breaker.trialRuns());
      }
      if (entry != null) {
        return entry;
      }
      return claimClusterTrial(signature, Objects.requireNonNull(endedId), claimedIn);
    }

    /** What the state admits (under this circuit's lock). */
    private Entry admitted(Signature signature, long now) {
      return switch (state) {
        case CLOSED -> new Ticket(this, generation, false);
        case OPEN ->
            park(signature, followingTrial ? halfOpenDelay(signature) : openDelay(openUntil - now));
        case HALF_OPEN -> {
          if (!claiming && trialsRunning + trialsSucceeded < breaker.trialRuns()) {
            trialsRunning++;
            yield new Ticket(this, generation, true);
          }
          yield park(signature, halfOpenDelay(signature));
        }
      };
    }

    private Duration halfOpenDelay(Signature signature) {
      return halfOpenBackoff.delay(MessageHeaders.count(signature, MessageHeaders.BREAKER) + 1);
    }

    /**
     * Asks the control plane who runs the cluster's trial now that the opening {@code endedId}
     * ended, on the task's own thread (one round trip, once per opening): this task is the trial
     * when this worker won it; it parks while another worker's trial decides; it runs when that
     * trial passed already. When the control plane cannot answer, this worker runs its own trial.
     */
    private Entry claimClusterTrial(Signature signature, String endedId, long claimedIn) {
      Sharing to = sharing;
      ControlPlane.BreakerTrial answer = null;
      try {
        if (to != null) {
          answer = to.plane().claimBreakerTrial(key, endedId, breaker.openFor(), to.workerId());
        }
      } catch (UnsupportedOperationException e) {
        clusterTrialsSupported = false;
      } catch (RuntimeException e) {
        log.warn(
            "Worker {}: could not claim the cluster's trial of breaker {} ({}); running its own",
            consumerTag,
            LogText.of(key),
            e.toString());
      } catch (Throwable t) {
        synchronized (this) {
          claiming = false; // an Error: never left claiming; the next task is its own trial
        }
        throw t;
      }
      long now = clock.millis();
      String change;
      Entry entry;
      synchronized (this) {
        claiming = false;
        if (generation != claimedIn || state != TaskBreaker.State.HALF_OPEN) {
          return admitted(signature, now); // cannot happen while claiming; kept safe
        }
        if (answer == null) {
          change = "is half-open: letting " + breaker.trialRuns() + " trial run(s) through";
        } else {
          BreakerOpening opening = answer.opening();
          switch (answer.answer()) {
            case RUN -> {
              clusterTrialId = Objects.requireNonNull(opening).id();
              appliedId = clusterTrialId;
              appliedAt = System.nanoTime();
              change = "is half-open: this worker runs the cluster's trial";
            }
            case FOLLOW -> change = applyOpening(Objects.requireNonNull(opening));
            case PASSED -> {
              closeAndForget();
              appliedId = null;
              change = "closed: the cluster's trial passed";
            }
            default -> throw new IllegalStateException(answer.answer().toString());
          }
        }
        entry = admitted(signature, now);
      }
      log.info("Worker {}: breaker {} {}", consumerTag, LogText.of(key), change);
      return entry;
    }

    /**
     * Opens this breaker until {@code opening}'s time, as the control plane's (under this circuit's
     * lock); a trial opening parks briefly, as half-open. Returns the change, for the log.
     */
    private String applyOpening(BreakerOpening opening) {
      appliedId = opening.id();
      appliedAt = System.nanoTime();
      followingTrial = opening.trial();
      clusterTrialId = null;
      if (state != TaskBreaker.State.OPEN) {
        state = TaskBreaker.State.OPEN;
        generation++;
      }
      openUntil = opening.until().toEpochMilli();
      return opening.trial()
          ? "waits for the cluster's trial on " + LogText.of(opening.openedBy())
          : "opened in the control plane by "
              + LogText.of(opening.openedBy())
              + " ("
              + LogText.of(opening.reason())
              + "); its tasks wait until "
              + opening.until();
    }

    private void closeAndForget() {
      state = TaskBreaker.State.CLOSED;
      generation++;
      kept = 0;
      next = 0;
      failures = 0;
    }

    /** The time left, rounded up to an eighth of openFor, plus 0-2 eighths at random. */
    private Duration openDelay(long leftMillis) {
      long eighth = Math.max(1, breaker.openFor().toMillis() / 8);
      long steps = Math.max(1, (leftMillis + eighth - 1) / eighth);
      return Duration.ofMillis(eighth * (steps + ThreadLocalRandom.current().nextInt(3)));
    }

    private Park park(Signature signature, Duration delay) {
      int parkings = MessageHeaders.count(signature, MessageHeaders.BREAKER) + 1;
      return new Park(
          delay,
          MessageHeaders.with(signature, MessageHeaders.BREAKER, parkings),
          key,
          state,
          parkings);
    }

    /**
     * Applies the control plane's opening of this key, {@code null} when it has none (see the class
     * notes).
     *
     * @param readAt when the read that found it began ({@link System#nanoTime()})
     */
    void follow(@Nullable BreakerOpening opening, long readAt, long now) {
      String change = null;
      boolean closed = false;
      synchronized (this) {
        if (claiming) {
          return; // the claim's answer decides
        }
        if (opening != null) {
          if (opening.id().equals(appliedId)) {
            return;
          }
          if (opening.until().toEpochMilli() <= now) {
            appliedId = opening.id();
            appliedAt = System.nanoTime();
            return;
          }
          change = applyOpening(opening);
        } else {
          if (appliedId == null || appliedAt - readAt >= 0) {
            return; // nothing applied, or applied after the read began
          }
          if (state != TaskBreaker.State.OPEN) {
            appliedId = null;
            return;
          }
          if (openUntil - now <= EXPIRY_MARGIN_MILLIS) {
            return; // its time is up: half-open as after any opening (the id names it in a claim)
          }
          appliedId = null;
          closeAndForget();
          closed = true;
          change =
              followingTrial
                  ? "closed: the cluster's trial passed"
                  : "closed: its opening was removed from the control plane";
          followingTrial = false;
        }
      }
      if (closed) {
        log.info("Worker {}: breaker {} {}", consumerTag, LogText.of(key), change);
      } else {
        log.warn("Worker {}: breaker {} {}", consumerTag, LogText.of(key), change);
      }
    }

    void report(long admittedIn, boolean trial, Verdict verdict, @Nullable Throwable error) {
      String change = null;
      boolean closed = false;
      boolean flush = false;
      String passedTrial = null;
      String failedTrial = null;
      synchronized (this) {
        if (admittedIn != generation || verdict == Verdict.NEUTRAL && !trial) {
          return;
        }
        if (trial) {
          trialsRunning--;
          if (verdict == Verdict.SUCCEEDED && ++trialsSucceeded >= breaker.trialRuns()) {
            closeAndForget();
            closed = true;
            change = "closed: " + trialsSucceeded + " trial run(s) succeeded";
            passedTrial = clusterTrialId; // appliedId stays it: a read of it changes nothing
            clusterTrialId = null;
          } else if (verdict == Verdict.FAILED) {
            failedTrial = clusterTrialId;
            clusterTrialId = null;
            change = open("a trial run failed", error);
          }
        } else {
          keep(verdict == Verdict.FAILED);
          flush = countForCluster(verdict == Verdict.FAILED);
          if (verdict == Verdict.FAILED
              && kept >= breaker.minimumRuns()
              && failures >= breaker.failureRate() * kept) {
            change = open(failures + " of the last " + kept + " runs failed", error);
          }
        }
      }
      if (flush) {
        Thread.ofVirtual().name("machinery-breaker-count").start(this::flushClusterRuns);
      }
      if (passedTrial != null || failedTrial != null) {
        String passed = passedTrial;
        String reason =
            failedTrial == null
                ? ""
                : "the cluster's trial run failed"
                    + (error == null ? "" : ": " + LogText.of(String.valueOf(error)));
        Thread.ofVirtual()
            .name("machinery-breaker-trial")
            .start(() -> reportClusterTrial(passed, reason));
      }
      if (closed) {
        log.info("Worker {}: breaker {} {}", consumerTag, LogText.of(key), change);
      } else if (change != null) {
        log.warn("Worker {}: breaker {} {}", consumerTag, LogText.of(key), change);
      }
    }

    /**
     * Keeps an outcome for the cluster's window of a shared breaker (under this circuit's lock);
     * true when a flush must start (none is running).
     */
    private boolean countForCluster(boolean failed) {
      if (!breaker.shared() || sharing == null || !countingSupported) {
        return false;
      }
      if (clusterRuns.size() == failedRuns.length) {
        clusterRuns.removeFirst(); // a window's worth is all the cluster's window can use
      }
      clusterRuns.addLast(failed);
      if (flushing) {
        return false;
      }
      flushing = true;
      return true;
    }

    /**
     * Sends the kept outcomes to the cluster's window until none is left (outcomes of runs that end
     * meanwhile go with the next round trip), and applies an opening it answers with.
     */
    private void flushClusterRuns() {
      while (true) {
        long wait;
        synchronized (this) {
          wait = lastClusterCount + CLUSTER_COUNT_INTERVAL_NANOS - System.nanoTime();
        }
        if (wait > 0) {
          java.util.concurrent.locks.LockSupport.parkNanos(wait); // pace: one round trip a while
        }
        boolean[] batch;
        Sharing to = sharing;
        synchronized (this) {
          if (clusterRuns.isEmpty() || to == null || !countingSupported) {
            clusterRuns.clear();
            flushing = false;
            return;
          }
          lastClusterCount = System.nanoTime();
          batch = new boolean[clusterRuns.size()];
          for (int i = 0; i < batch.length; i++) {
            batch[i] = clusterRuns.removeFirst();
          }
        }
        try {
          BreakerOpening opening =
              to.plane().countBreakerRuns(key, batch, clusterWindow, to.workerId());
          if (opening != null) {
            follow(opening, System.nanoTime(), clock.millis());
          }
          if (countFailing) {
            countFailing = false; // one flusher at a time writes it (handed over under the lock)
            log.info(
                "Worker {}: the runs of breaker {} count for the cluster again",
                consumerTag,
                LogText.of(key));
          }
        } catch (UnsupportedOperationException e) {
          countingSupported = false;
          log.info(
              "Worker {}: the control plane {} keeps no cluster windows, so the runs of shared"
                  + " breaker {} count on this worker only ({})",
              consumerTag,
              to.plane().getClass().getSimpleName(),
              LogText.of(key),
              e.getMessage());
        } catch (RuntimeException e) {
          if (!countFailing) {
            countFailing = true;
            log.warn(
                "Worker {}: could not count {} run(s) of breaker {} for the cluster ({}); until it"
                    + " works again they count on this worker only",
                consumerTag,
                batch.length,
                LogText.of(key),
                e.toString());
          }
        }
      }
    }

    /**
     * Tells the control plane how the cluster's trial ended, off the task's path: passed (its
     * opening removed: the others close within a heartbeat), or failed (the key opened again for
     * {@code openFor}, which this worker applies at once). When that fails, the next claim once the
     * trial opening's time is up runs the trial again.
     */
    private void reportClusterTrial(@Nullable String passedTrial, String failure) {
      Sharing to = sharing;
      if (to == null) {
        return;
      }
      try {
        if (passedTrial != null) {
          to.plane().passBreakerTrial(key, passedTrial);
        } else {
          BreakerOpening opening =
              to.plane().openBreaker(key, breaker.openFor(), failure, to.workerId());
          follow(opening, System.nanoTime(), clock.millis());
        }
      } catch (RuntimeException e) {
        log.warn(
            "Worker {}: could not tell the control plane that the cluster's trial of breaker {} {}"
                + " ({}); the next claim once its trial opening's time is up runs the trial again",
            consumerTag,
            LogText.of(key),
            passedTrial != null ? "passed" : "failed",
            e.toString());
      }
    }

    private void keep(boolean failed) {
      if (kept == failedRuns.length) {
        if (failedRuns[next]) {
          failures--;
        }
      } else {
        kept++;
      }
      failedRuns[next] = failed;
      if (failed) {
        failures++;
      }
      next = (next + 1) % failedRuns.length;
    }

    private String open(String why, @Nullable Throwable error) {
      state = TaskBreaker.State.OPEN;
      generation++;
      appliedId = null; // this worker's own opening: a control plane's earlier one no longer holds
      followingTrial = false;
      openUntil = clock.millis() + breaker.openFor().toMillis();
      return "opened ("
          + why
          + (error == null ? "" : ", last: " + LogText.of(String.valueOf(error)))
          + "); its tasks wait "
          + breaker.openFor()
          + " before a trial";
    }
  }
}
