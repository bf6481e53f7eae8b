package io.machinery;

import io.machinery.config.Config;
import io.machinery.config.QueueBoundSetting;
import io.machinery.spi.Broker;
import io.machinery.spi.Inspector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Admits new work into bounded queues ({@link QueueBound}) for one {@link Server}.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>A count kept per sender, read again when stale or when the queue looks full.</b> Each
 *       bounded queue has a {@link Gauge}: the last reading of its size ({@link
 *       Inspector#pendingCount}, one round trip) and what this server sent around it. A send is
 *       admitted when the estimate below plus its tasks fit the bound. The reading is taken again
 *       when it is older than {@link QueueBound#recountEvery()}, and whenever the queue looks full,
 *       so a queue that workers drained admits again at the next send (a refused send costs one
 *       round trip, as a send does). The estimate is the reading, plus this server's sends that
 *       were in flight when it was taken (admitted, not yet landed: {@link Admitted}), plus its
 *       sends admitted since. The workers' takes are not counted between readings, and a send that
 *       landed just before the broker counted is counted twice, so the estimate errs high, never
 *       low, for this server's own sends: one server alone never takes a queue past its bound,
 *       however many threads send through it. Other processes' sends within one interval are what
 *       several senders can overshoot it by. An exact bound would need the check and the push in
 *       one broker operation on every broker, and the count is a guard against runaway growth, not
 *       an invariant.
 *   <li><b>All or nothing.</b> A send of several tasks (a batch, a group) is admitted only when
 *       every queue it touches has room for its tasks there; a queue admitted before a later one
 *       refused gets its room back.
 *   <li><b>Waiting without holding anything.</b> A {@link QueueBound.WhenFull#WAIT} send that finds
 *       no room reads the size again with a back-off from {@link #FIRST_PAUSE} to {@link
 *       #LONGEST_PAUSE}, holding no gauge lock while it pauses. A blocking send waits on its
 *       caller's thread ({@link #admitNow}), so interrupting the caller stops the wait and nothing
 *       is sent; an asynchronous one ({@link #admit}) reads and waits on a virtual thread, so its
 *       caller is never blocked, not even for a reading. Waiters are not served in order: any send
 *       that finds room takes it.
 *   <li><b>Only new work.</b> {@link TaskSender} asks for admission only on the public sends; the
 *       sends that carry on accepted work (chain steps, callbacks, retries) skip it.
 * </ul>
 */
final class QueueBounds {
  /** The first pause of a waiting send between two readings of a full queue. */
  static final Duration FIRST_PAUSE = Duration.ofMillis(2);

  /** The longest pause of a waiting send between two readings of a full queue. */
  static final Duration LONGEST_PAUSE = Duration.ofMillis(50);

  private final Broker broker;
  private final Inspector inspector;

  /** By queue name, as {@link Broker#queueFor} names them. */
  private final Map<String, Gauge> gauges;

  private QueueBounds(Broker broker, Inspector inspector, Map<String, Gauge> gauges) {
    this.broker = broker;
    this.inspector = inspector;
    this.gauges = gauges;
  }

  /**
   * The admission for {@code bounds}, or null when there are none (no cost on the send path).
   *
   * @throws IllegalArgumentException when two bounds name the same queue
   * @throws IllegalStateException when the broker cannot count its queues
   */
  static @Nullable QueueBounds of(List<QueueBound> explicit, Broker broker, Config config) {
    List<QueueBound> bounds = withConfigured(explicit, config);
    if (bounds.isEmpty()) {
      return null;
    }
    Inspector inspector =
        broker
            .inspector()
            .filter(Inspector::countsQueues)
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "queue bounds "
                            + bounds
                            + " need a broker that can count its queues, and "
                            + broker.getClass().getSimpleName()
                            + " cannot"));
    Map<String, Gauge> gauges = new HashMap<>();
    for (QueueBound bound : bounds) {
      String queue = bound.queue().isEmpty() ? config.defaultQueue() : bound.queue();
      if (gauges.put(queue, new Gauge(queue, bound)) != null) {
        throw new IllegalArgumentException("two bounds for queue '" + queue + "'");
      }
    }
    return new QueueBounds(broker, inspector, Map.copyOf(gauges));
  }

  /**
   * The builder's bounds, then the config's ({@link Config#queueBounds()}, {@code
   * MACHINERY_QUEUE_BOUNDS}) for the queues the builder does not bound: code wins over
   * configuration, queue by queue.
   */
  static List<QueueBound> withConfigured(List<QueueBound> explicit, Config config) {
    if (config.queueBounds().isEmpty()) {
      return explicit;
    }
    Set<String> bounded = new HashSet<>();
    for (QueueBound bound : explicit) {
      bounded.add(bound.queue().isEmpty() ? config.defaultQueue() : bound.queue());
    }
    List<QueueBound> all = new ArrayList<>(explicit);
    for (QueueBoundSetting setting : config.queueBounds()) {
      String queue = setting.queue().isEmpty() ? config.defaultQueue() : setting.queue();
      if (!bounded.contains(queue)) {
        all.add(
            setting.maxWait().isZero()
                ? QueueBound.reject(setting.queue(), setting.maxPending())
                : QueueBound.waitFor(setting.queue(), setting.maxPending(), setting.maxWait()));
      }
    }
    return all;
  }

  /**
   * Admits tasks whose routing keys are set, waiting on this thread when a bound waits: returns
   * once every bounded queue they go to has taken them.
   *
   * @throws QueueFullException for a rejecting bound, a wait that ran out, more tasks than a bound
   * @throws MachineryException when interrupted while waiting (nothing was admitted), or when the
   *     broker cannot count
   */
  Admitted admitNow(List<Signature> tasks) {
    Map<Gauge, Integer> wanted = wanted(tasks);
    return wanted.isEmpty() ? Admitted.NOTHING : admitNow(wanted);
  }

  private Admitted admitNow(Map<Gauge, Integer> wanted) {
    if (mustWait(wanted)) {
      awaitRoom(wanted);
    }
    return new Admitted(wanted);
  }

  /**
   * Admits tasks whose routing keys are set without blocking the caller: a completed future when
   * every bounded queue they go to has room by its last reading, else a future completed on a
   * virtual thread, which reads the sizes and admits, waits or refuses as {@link #admitNow} does.
   * The caller's thread never reads a size, so a send made from a client's I/O thread (a callback
   * of another send's future) cannot stall that thread. Once it waits, the send happens when room
   * appears or fails after the longest wait: cancelling the caller's future does not stop it.
   */
  CompletableFuture<Admitted> admit(List<Signature> tasks) {
    Map<Gauge, Integer> wanted = wanted(tasks);
    if (wanted.isEmpty()) {
      return CompletableFuture.completedFuture(Admitted.NOTHING);
    }
    if (tryTake(wanted, false) == null) {
      return CompletableFuture.completedFuture(new Admitted(wanted));
    }
    CompletableFuture<Admitted> admitted = new CompletableFuture<>();
    Thread.ofVirtual()
        .name("machinery-queue-bound")
        .start(
            () -> {
              try {
                admitted.complete(admitNow(wanted));
              } catch (Throwable e) {
                admitted.completeExceptionally(e);
              }
            });
    return admitted;
  }

  /** How many of the tasks go to each bounded queue. */
  private Map<Gauge, Integer> wanted(List<Signature> tasks) {
    Map<Gauge, Integer> wanted = new LinkedHashMap<>();
    for (Signature task : tasks) {
      Gauge gauge = gauges.get(broker.queueFor(task.routingKey()));
      if (gauge != null) {
        wanted.merge(gauge, 1, Integer::sum);
      }
    }
    return wanted;
  }

  /**
   * Takes room now: false when taken, true when the send must wait for it.
   *
   * @throws QueueFullException when it must not wait: a rejecting bound, or more tasks than a bound
   */
  private boolean mustWait(Map<Gauge, Integer> wanted) {
    Refusal refusal = tryTake(wanted, true);
    if (refusal == null) {
      return false;
    }
    if (refusal.gauge.bound.whenFull() == QueueBound.WhenFull.REJECT
        || refusal.tasks > refusal.gauge.bound.maxPending()) {
      throw refusal.toException(Duration.ZERO);
    }
    return true;
  }

  private void awaitRoom(Map<Gauge, Integer> wanted) {
    long start = System.nanoTime();
    long pause = FIRST_PAUSE.toNanos();
    while (true) {
      Refusal refusal = tryTake(wanted, true);
      if (refusal == null) {
        return;
      }
      Duration waited = Duration.ofNanos(System.nanoTime() - start);
      Duration left = refusal.gauge.bound.maxWait().minus(waited);
      if (left.isNegative() || left.isZero()) {
        throw refusal.toException(waited);
      }
      try {
        Thread.sleep(Duration.ofNanos(Math.min(pause, left.toNanos())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new MachineryException(
            "interrupted while waiting for room in queue '" + refusal.gauge.queue + "'", e);
      }
      pause = Math.min(pause * 2, LONGEST_PAUSE.toNanos());
    }
  }

  /**
   * Takes room in every queue, or in none: null when taken, else the first queue without room (its
   * count {@link Gauge#UNREAD} when a reading was due and {@code mayRead} is false). A reading that
   * fails gives back what was taken, and throws.
   */
  private @Nullable Refusal tryTake(Map<Gauge, Integer> wanted, boolean mayRead) {
    List<Map.Entry<Gauge, Integer>> taken = new ArrayList<>(wanted.size());
    try {
      for (Map.Entry<Gauge, Integer> want : wanted.entrySet()) {
        long counted = want.getKey().take(want.getValue(), mayRead ? this : null);
        if (counted >= 0 || counted == Gauge.UNREAD) {
          giveBack(taken);
          return new Refusal(want.getKey(), counted, want.getValue());
        }
        taken.add(want);
      }
      return null;
    } catch (RuntimeException e) {
      giveBack(taken);
      throw e;
    }
  }

  private static void giveBack(List<Map.Entry<Gauge, Integer>> taken) {
    for (Map.Entry<Gauge, Integer> back : taken) {
      back.getKey().giveBack(back.getValue());
    }
  }

  private long count(String queue) {
    return inspector.pendingCount(queue);
  }

  /**
   * Room taken in bounded queues by one send, to be told when the send has landed or failed ({@link
   * #landed}): until then its tasks count on top of any reading of the queues' sizes.
   */
  static final class Admitted {
    /** A send to no bounded queue. */
    static final Admitted NOTHING = new Admitted(Map.of());

    private final Map<Gauge, Integer> taken;

    private Admitted(Map<Gauge, Integer> taken) {
      this.taken = taken;
    }

    /** Whether the send took room in a bounded queue (and must tell {@link #landed}). */
    boolean tookRoom() {
      return !taken.isEmpty();
    }

    /**
     * The send has reached the broker, or failed: a reading of the queues' sizes shows it from now
     * on. Lock-free (it runs on a client's I/O thread, which may be what a reading waits for).
     */
    void landed() {
      taken.forEach(Gauge::landed);
    }
  }

  /** A queue without room for a send's tasks. */
  private record Refusal(Gauge gauge, long counted, int tasks) {
    QueueFullException toException(Duration waited) {
      return new QueueFullException(gauge.queue, counted, gauge.bound.maxPending(), tasks, waited);
    }
  }

  /** What this server knows of one bounded queue's size. */
  private static final class Gauge {
    /** What {@link #take} returns when it had to read the size and had no reader. */
    static final long UNREAD = -2;

    final String queue;
    final QueueBound bound;
    private final long recountNanos;
    private final ReentrantLock lock = new ReentrantLock();

    /** This server's sends admitted here that have not landed yet (see {@link Admitted}). */
    private final AtomicLong inFlight = new AtomicLong();

    private long reading;

    /** {@link #inFlight} just before the last reading: those sends may be missing from it. */
    private long inFlightAtRead;

    private long admittedSince;
    private long readAt;
    private boolean read;

    Gauge(String queue, QueueBound bound) {
      this.queue = queue;
      this.bound = bound;
      this.recountNanos = bound.recountEvery().toNanos();
    }

    /**
     * Takes room for {@code tasks}: -1 when taken, else the count that had no room for them. Reads
     * the queue's size when the last reading is stale or the queue looks full, holding this gauge's
     * lock (a {@link ReentrantLock}, which does not pin a virtual thread to its carrier on Java
     * 21): senders of one queue wait for one reading rather than each sending its own. Without a
     * {@code reader} it reads nothing and returns {@link #UNREAD} where it would have read.
     */
    long take(int tasks, @Nullable QueueBounds reader) {
      lock.lock();
      try {
        long age = System.nanoTime() - readAt;
        boolean fits = read && estimate() + tasks <= bound.maxPending();
        if (!fits || age >= recountNanos) {
          if (reader == null) {
            return UNREAD;
          }
          long unlanded = inFlight.get();
          reading = reader.count(queue);
          inFlightAtRead = unlanded;
          admittedSince = 0;
          readAt = System.nanoTime();
          read = true;
        }
        long counted = estimate();
        if (counted + tasks > bound.maxPending()) {
          return counted;
        }
        admittedSince += tasks;
        inFlight.addAndGet(tasks);
        return -1;
      } finally {
        lock.unlock();
      }
    }

    /**
     * The last reading, the sends that may have been missing from it (in flight when it was taken:
     * one that landed before the broker counted is counted twice, which errs high until the next
     * reading), and the sends admitted since.
     */
    private long estimate() {
      return reading + inFlightAtRead + admittedSince;
    }

    void giveBack(int tasks) {
      lock.lock();
      try {
        admittedSince = Math.max(0, admittedSince - tasks);
        inFlight.addAndGet(-tasks);
      } finally {
        lock.unlock();
      }
    }

    void landed(int tasks) {
      inFlight.addAndGet(-tasks);
    }
  }
}
