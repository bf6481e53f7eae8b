package io.machinery.embedded;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Clock} that stands still until a test moves it: pass it to a {@code Server}, broker,
 * backend, lock or scheduler, then {@link #advance(Duration)} instead of sleeping for ETAs,
 * retries, leases and periodic runs. With the memory broker, {@link VirtualTime} moves it for you:
 * to each moment something falls due, running what is due there before it goes on.
 *
 * <p>Thread-safe: the instant is one atomic reference, so threads of the component under test read
 * what the test thread set. {@link #withZone(ZoneId)} returns a view of the same moving time in
 * another zone.
 *
 * <pre>{@code
 * ManualClock clock = ManualClock.at("2026-01-01T00:00:00Z");
 * clock.advance(Duration.ofSeconds(5));
 * }</pre>
 */
public final class ManualClock extends Clock {
  private final AtomicReference<Instant> now;
  private final ZoneId zone;

  private ManualClock(AtomicReference<Instant> now, ZoneId zone) {
    this.now = now;
    this.zone = zone;
  }

  /** A clock standing at {@code start}, in UTC. */
  public static ManualClock at(Instant start) {
    return new ManualClock(
        new AtomicReference<>(Objects.requireNonNull(start, "start")), ZoneOffset.UTC);
  }

  /** A clock standing at an ISO-8601 instant such as {@code 2026-01-01T00:00:00Z}, in UTC. */
  public static ManualClock at(String isoInstant) {
    return at(Instant.parse(isoInstant));
  }

  /** A clock standing at the current system time, in UTC. */
  public static ManualClock atNow() {
    return at(Instant.now());
  }

  /** Moves the clock to {@code instant} (backwards too: a test may model a clock step). */
  public void set(Instant instant) {
    now.set(Objects.requireNonNull(instant, "instant"));
  }

  /** {@link #set(Instant)} with an ISO-8601 instant. */
  public void set(String isoInstant) {
    set(Instant.parse(isoInstant));
  }

  /**
   * Moves the clock by {@code duration}, atomically with respect to other moves.
   *
   * @return the new instant
   */
  public Instant advance(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    return now.updateAndGet(t -> t.plus(duration));
  }

  @Override
  public Instant instant() {
    return now.get();
  }

  @Override
  public ZoneId getZone() {
    return zone;
  }

  /** The same moving time seen from {@code other}. */
  @Override
  public Clock withZone(ZoneId other) {
    return other.equals(zone) ? this : new ManualClock(now, other);
  }

  /** Equal to another view of the same moving time in the same zone. */
  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof ManualClock other && other.now == now && other.zone.equals(zone);
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(now) * 31 + zone.hashCode();
  }

  @Override
  public String toString() {
    return "ManualClock[" + now.get() + ", " + zone + "]";
  }
}
