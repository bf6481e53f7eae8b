package io.machinery.dashboard;

import io.machinery.Inspection;
import io.machinery.spi.QueueStats;
import io.machinery.spi.WorkerStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chart's data: every interval, the totals of the queues' sizes (one {@link
 * Inspection#queues()} read) and the workers' running tasks (one {@link Inspection#workers()}
 * read), kept in a ring buffer.
 *
 * <p>Design notes. One daemon thread samples; readers copy the buffer under its lock. "Finished"
 * counts the running tasks of the last sample that are not running now: a lower bound (a task that
 * starts and ends between two samples is not seen), but the same for every broker and free of
 * listeners, so remote workers count too. "Dead-lettered" is the growth of the dead letters, the
 * failure signal every inspector has. Without a control plane the running and finished tasks stay
 * at zero. A broker without an inspector, or whose inspector keeps no counts ({@link
 * io.machinery.spi.Inspector#countsQueues()} false: Google Cloud Pub/Sub), is not asked for sizes
 * at all (Pub/Sub's would only throw, each interval): its samples say {@code counted == false}, the
 * API sends their sizes as null, and the page shows "not counted by this broker" instead of a flat
 * line at zero.
 */
final class Sampler implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Dashboard.class);

  /**
   * One sample.
   *
   * @param at when it was taken
   * @param pending waiting tasks over all queues
   * @param delayed delayed tasks over all queues
   * @param deadLettered dead letters over all queues
   * @param running tasks the workers run
   * @param finished tasks seen running at the previous sample and gone now
   * @param newDeadLetters growth of the dead letters since the previous sample
   * @param counted false when the broker keeps no counts: the four sizes above mean nothing
   */
  record Sample(
      Instant at,
      long pending,
      long delayed,
      long deadLettered,
      int running,
      int finished,
      long newDeadLetters,
      boolean counted) {}

  private final Inspection inspection;
  private final boolean countsQueues;
  private final Clock clock;
  private final int capacity;
  private final ArrayDeque<Sample> samples;
  private final ScheduledExecutorService scheduler;
  private Set<String> lastRunning = Set.of();
  private long lastDead = -1;

  /**
   * @param countsQueues whether the broker's inspector counts its queues (false also without one)
   */
  Sampler(Inspection inspection, boolean countsQueues, Clock clock, int capacity) {
    this.inspection = inspection;
    this.countsQueues = countsQueues;
    this.clock = clock;
    this.capacity = capacity;
    this.samples = new ArrayDeque<>(capacity);
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "machinery-dashboard-sampler");
              t.setDaemon(true);
              return t;
            });
  }

  static Sampler start(
      Inspection inspection, boolean countsQueues, Clock clock, Duration interval, int capacity) {
    Sampler sampler = new Sampler(inspection, countsQueues, clock, capacity);
    sampler.scheduler.scheduleWithFixedDelay(
        sampler::sampleQuietly, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    return sampler;
  }

  private void sampleQuietly() {
    try {
      sample();
    } catch (RuntimeException e) {
      LOG.warn("dashboard: sampling the queues failed: {}", e.toString());
    }
  }

  /** Takes one sample now (the scheduler's thread, or a test). */
  void sample() {
    long pending = 0;
    long delayed = 0;
    long dead = 0;
    if (countsQueues) {
      for (QueueStats q : inspection.queues()) {
        pending += q.pending();
        delayed += q.delayed();
        dead += q.deadLettered();
      }
    }
    Set<String> running = new HashSet<>();
    if (inspection.hasControlPlane()) {
      for (WorkerStatus w : inspection.workers()) {
        w.running().forEach(t -> running.add(t.uuid()));
      }
    }
    synchronized (samples) {
      int finished = 0;
      for (String uuid : lastRunning) {
        if (!running.contains(uuid)) {
          finished++;
        }
      }
      long newDead = lastDead < 0 ? 0 : Math.max(0, dead - lastDead);
      lastRunning = running;
      lastDead = dead;
      if (samples.size() == capacity) {
        samples.removeFirst();
      }
      samples.addLast(
          new Sample(
              clock.instant(),
              pending,
              delayed,
              dead,
              running.size(),
              finished,
              newDead,
              countsQueues));
    }
  }

  List<Sample> samples() {
    synchronized (samples) {
      return new ArrayList<>(samples);
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
