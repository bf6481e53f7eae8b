package io.machinery.embedded;

import io.machinery.Server;
import io.machinery.periodic.PeriodicEntry;
import io.machinery.periodic.PeriodicScheduler;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Runs a server on the memory broker through virtual time, so a test of ETAs, retries, retry-later,
 * rate limits, circuit breakers and periodic tasks takes milliseconds instead of the minutes it
 * describes, and never sleeps.
 *
 * <p>The server must be built with a {@link ManualClock} and the {@link MemoryBroker} (the default
 * broker of {@code Server.builder()}, which takes the server's clock), and its workers launched:
 *
 * <pre>{@code
 * ManualClock clock = ManualClock.at("2026-01-01T00:00:00Z");
 * Server server = Server.builder().clock(clock).build();
 * server.newWorker("test", 4).launchAsync();
 * VirtualTime time = VirtualTime.of(server);
 * AsyncResult result = server.sendTask(signature); // its function fails twice, then returns
 * time.advance(Duration.ofMinutes(1));             // runs it, and its retries 1 s and 2 s later
 * }</pre>
 *
 * <p>Design notes. Idle means nothing can happen without time moving: every queue a worker fetches
 * from is empty, every message handed to a worker is settled (its final state stored, its retry or
 * next chain step published, acknowledged), no delayed message and no periodic entry is due. {@link
 * #advance(Duration)} waits for idle, then moves the clock straight to the next due time (a delayed
 * message's ETA, a requeue's delay, a periodic tick) and waits for idle again, until the target. So
 * every task starts at the virtual instant it was due, and a test sees what a wall-clock run would
 * see, in the same order. Waiting for idle is the only wall time spent; it gives up after {@link
 * #withTimeout(Duration) a timeout} (30 s by default) with what was still busy, such as a task
 * blocked in its function.
 *
 * <p>Limits. Queues without a fetching worker (none launched, or paused) do not count, so their
 * messages wait as on a real broker. Idle is counted at the broker, so the listener events that
 * come after a message is settled ({@code TaskListener.deadLettered} and {@code notRun}) may reach
 * a listener just after a call returns; the broker's own records ({@link
 * MemoryBroker#deadLetters()}) and every stored state are complete. Task deadlines, result waits
 * ({@code AsyncResult.get}) and the graceful shutdown stay on wall time. A periodic scheduler with
 * its background thread could fire beside this, so a server with periodic entries needs {@code
 * PeriodicConfig.builder().backgroundThread(false)}; this fires them itself.
 *
 * <p>One test thread drives it; the server's threads run the tasks. Immutable.
 */
public final class VirtualTime {
  /** How long {@link #runUntilIdle()} waits, in wall time, unless {@link #withTimeout} says. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final ManualClock clock;
  private final MemoryBroker broker;
  private final PeriodicScheduler scheduler;
  private final Duration timeout;

  private VirtualTime(
      ManualClock clock, MemoryBroker broker, PeriodicScheduler scheduler, Duration timeout) {
    this.clock = clock;
    this.broker = broker;
    this.scheduler = scheduler;
    this.timeout = timeout;
  }

  /**
   * Virtual time for {@code server}.
   *
   * @param server a server built with a {@link ManualClock} and a {@link MemoryBroker} on it
   * @return virtual time with the default timeout
   * @throws IllegalArgumentException when the server's clock is not a manual clock, or its broker
   *     not the memory broker on that clock
   */
  public static VirtualTime of(Server server) {
    Objects.requireNonNull(server, "server");
    if (!(server.clock() instanceof ManualClock clock)) {
      throw new IllegalArgumentException(
          "virtual time needs a server built with a ManualClock (Server.builder().clock(clock)),"
              + " not "
              + server.clock());
    }
    if (!(server.broker() instanceof MemoryBroker broker)) {
      throw new IllegalArgumentException(
          "virtual time needs the memory broker, not "
              + server.broker().getClass().getSimpleName());
    }
    if (broker.clock() != clock) {
      throw new IllegalArgumentException(
          "the memory broker follows another clock ("
              + broker.clock()
              + "): create it with the server's, MemoryBroker.create(config, clock), or let"
              + " Server.builder().clock(clock) create it");
    }
    return new VirtualTime(clock, broker, server.periodicScheduler(), DEFAULT_TIMEOUT);
  }

  /**
   * The same virtual time, waiting for idle at most {@code wallTimeout} per call.
   *
   * @param wallTimeout how long to wait, in wall time
   * @return a copy
   */
  public VirtualTime withTimeout(Duration wallTimeout) {
    Objects.requireNonNull(wallTimeout, "wallTimeout");
    if (wallTimeout.isNegative() || wallTimeout.isZero()) {
      throw new IllegalArgumentException("wallTimeout must be positive, was " + wallTimeout);
    }
    return new VirtualTime(clock, broker, scheduler, wallTimeout);
  }

  /**
   * The virtual instant.
   *
   * @return the clock's instant
   */
  public Instant now() {
    return clock.instant();
  }

  /**
   * Runs what is due at the current instant, and what that sends, until idle; time does not move.
   *
   * @throws IllegalStateException when the server is not idle within the timeout (the message says
   *     what was busy), or periodic entries meet a scheduler with a background thread
   */
  public void runUntilIdle() {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      int fired = firePeriodicDue();
      String busy;
      try {
        busy = broker.awaitIdle(deadline);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the server to be idle", e);
      }
      if (busy != null) {
        throw new IllegalStateException(
            "not idle after "
                + timeout
                + " of wall time, at virtual "
                + clock.instant()
                + ": "
                + busy);
      }
      if (fired == 0 && !periodicDue()) {
        return;
      }
    }
  }

  /**
   * Moves time forward by {@code duration}, stopping at every due time on the way and running what
   * is due there until idle.
   *
   * @param duration how far to move; zero only runs until idle
   * @return the new virtual instant
   * @throws IllegalStateException as {@link #runUntilIdle()}
   */
  public Instant advance(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    if (duration.isNegative()) {
      throw new IllegalArgumentException("virtual time moves forward only, not by " + duration);
    }
    return advanceTo(clock.instant().plus(duration));
  }

  /**
   * Moves time forward to {@code target} as {@link #advance(Duration)} does.
   *
   * @param target the instant to reach; one not after now only runs until idle
   * @return the new virtual instant
   * @throws IllegalStateException as {@link #runUntilIdle()}
   */
  public Instant advanceTo(Instant target) {
    Objects.requireNonNull(target, "target");
    while (true) {
      runUntilIdle();
      Instant next = nextDue();
      if (next == null || next.isAfter(target)) {
        break;
      }
      moveTo(next);
    }
    moveTo(target);
    runUntilIdle();
    return clock.instant();
  }

  private void moveTo(Instant instant) {
    if (instant.isAfter(clock.instant())) {
      clock.set(instant);
    }
  }

  /** The soonest due time of a delayed message or a periodic entry, or null. */
  private @Nullable Instant nextDue() {
    long millis = broker.nextDueMillis();
    Instant next = millis < 0 ? null : Instant.ofEpochMilli(millis);
    for (PeriodicEntry entry : scheduler.entries()) {
      Instant fire = entry.nextFireTime();
      if (fire != null && (next == null || fire.isBefore(next))) {
        next = fire;
      }
    }
    return next;
  }

  private boolean periodicDue() {
    Instant now = clock.instant();
    for (PeriodicEntry entry : scheduler.entries()) {
      Instant fire = entry.nextFireTime();
      if (fire != null && !fire.isAfter(now)) {
        return true;
      }
    }
    return false;
  }

  /** Sends the periodic runs due now, in this thread; how many there were. */
  private int firePeriodicDue() {
    if (!periodicDue()) {
      return 0;
    }
    if (scheduler.config().backgroundThread()) {
      throw new IllegalStateException(
          "virtual time fires periodic tasks itself: build the server with"
              + " .periodic(PeriodicConfig.builder().backgroundThread(false).build()), or its"
              + " scheduler's thread could fire beside it");
    }
    return scheduler.runDue().size();
  }
}
