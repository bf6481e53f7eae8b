package io.machinery.spi;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Whether a broker's hold on messages (a Redis lease, an SQS visibility timeout, a Pub/Sub ack
 * deadline) has lasted without a break, judged on this process's monotonic clock from the renewals
 * the server confirmed. A broker's {@link Delivery#stillHeld()} asks it. Thread-safe.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>What a renewal proves.</b> A command sent at {@code s} and confirmed at {@code c} set a
 *       hold of {@code ttl} somewhere between the two, so the hold lasts at least until {@code s +
 *       ttl}. It continues the hold before it only when it was confirmed before that hold ended
 *       ({@code c} earlier than the current end): it then ran while the old hold still stood.
 *       Confirmed later, there may have been a gap in which the server let another consumer have
 *       the messages (a process paused by a long collection or SIGSTOP, a network partition), so a
 *       new stretch begins at {@code s}.
 *   <li><b>Held throughout.</b> A message taken by a command sent at {@code since} (the take that
 *       set the hold, or the renewal just before it) is surely still held when the current stretch
 *       began no later than {@code since} and its end is more than a margin away. The margin
 *       ({@link #margin}: a tenth of the hold, at least 50 ms) covers a server clock that runs a
 *       little faster than this one.
 *   <li><b>Conservative.</b> A renewal the broker does not report only makes the answer "not sure",
 *       never a wrong "held": the broker then asks the server (Redis: is the message still in this
 *       consumer's list) or gives the message up (SQS, Pub/Sub).
 * </ul>
 */
public final class LeaseTimeline {
  private final long ttlNanos;
  private final long marginNanos;

  /**
   * The current stretch of unbroken hold: since when, and until when. Replaced whole under the
   * lock, read without it (every task's bookkeeping asks).
   */
  private record Stretch(long start, long heldUntil) {}

  private volatile @Nullable Stretch stretch;

  /** Whether {@link #renewedAfterABreak} reported a break already; under the lock. */
  private boolean breakReported;

  private LeaseTimeline(Duration ttl) {
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("a hold lasts longer than zero; was " + ttl);
    }
    this.ttlNanos = ttl.toNanos();
    this.marginNanos = margin(ttl).toNanos();
  }

  /**
   * A timeline of holds that each last {@code ttl}, with no renewal yet.
   *
   * @param ttl how long one renewal holds
   * @return the timeline
   */
  public static LeaseTimeline of(Duration ttl) {
    return new LeaseTimeline(ttl);
  }

  /**
   * How long before a hold's end it no longer counts as held: a tenth of {@code ttl}, at least 50
   * ms.
   *
   * @param ttl how long one renewal holds
   * @return the margin
   */
  public static Duration margin(Duration ttl) {
    Duration tenth = ttl.dividedBy(10);
    return tenth.compareTo(Duration.ofMillis(50)) < 0 ? Duration.ofMillis(50) : tenth;
  }

  /**
   * Records a renewal the server confirmed (a take that set the hold counts as one).
   *
   * @param sentNanos {@link System#nanoTime()} before the command was sent
   * @param confirmedNanos {@link System#nanoTime()} when its success was known
   */
  public void renewed(long sentNanos, long confirmedNanos) {
    renewed(sentNanos, confirmedNanos, ttlNanos);
  }

  /**
   * Records a renewal the server confirmed that held for {@code hold} instead of the timeline's own
   * (a Pub/Sub pull leases for the subscription's deadline, which may be shorter).
   *
   * @param sentNanos {@link System#nanoTime()} before the command was sent
   * @param confirmedNanos {@link System#nanoTime()} when its success was known
   * @param hold how long this renewal holds
   */
  public void renewed(long sentNanos, long confirmedNanos, Duration hold) {
    renewed(sentNanos, confirmedNanos, hold.toNanos());
  }

  /**
   * Records a renewal the server confirmed, as {@link #renewed(long, long)}, and says whether it is
   * the first to find that the hold since {@code sinceNanos} may have broken before it (it was not
   * {@link #heldThroughout held throughout} until {@code confirmedNanos}): a broker logs that once,
   * since the server may have handed its message to another consumer in between. Later renewals say
   * false: a break is never mended.
   *
   * @param sinceNanos {@link System#nanoTime()} before the command that took the message was sent
   * @param sentNanos {@link System#nanoTime()} before the renewal was sent
   * @param confirmedNanos {@link System#nanoTime()} when its success was known
   * @return true the first time a renewal came after a possible break
   */
  public synchronized boolean renewedAfterABreak(
      long sinceNanos, long sentNanos, long confirmedNanos) {
    boolean unbroken = heldThroughout(sinceNanos, confirmedNanos);
    renewed(sentNanos, confirmedNanos, ttlNanos);
    if (unbroken || breakReported) {
      return false;
    }
    breakReported = true;
    return true;
  }

  private synchronized void renewed(long sentNanos, long confirmedNanos, long holdNanos) {
    long end = sentNanos + holdNanos;
    Stretch current = stretch;
    if (current != null && confirmedNanos - current.heldUntil() < 0) {
      if (end - current.heldUntil() > 0) {
        stretch = new Stretch(current.start(), end);
      }
      return;
    }
    stretch = new Stretch(sentNanos, end); // a gap may have let the server hand messages on
  }

  /**
   * Whether the hold has lasted without a break from a command sent at {@code sinceNanos} until
   * {@code nowNanos}, with the margin to spare.
   *
   * @param sinceNanos {@link System#nanoTime()} before the command that took the message (or the
   *     renewal right before it) was sent
   * @param nowNanos {@link System#nanoTime()} now
   * @return true when surely held; false when a gap may have let the server hand the message on
   */
  public boolean heldThroughout(long sinceNanos, long nowNanos) {
    Stretch current = stretch;
    return current != null
        && sinceNanos - current.start() >= 0
        && current.heldUntil() - marginNanos - nowNanos > 0;
  }
}
