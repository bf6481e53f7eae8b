package io.machinery.periodic;

import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * A snapshot of one registered periodic entry, as listed by {@link PeriodicScheduler#entries()}.
 * Immutable; it does not follow later changes.
 */
public final class PeriodicEntry {
  /** What an entry sends each run. */
  public enum Kind {
    TASK,
    GROUP,
    CHAIN,
    CHORD,
    DAG,
    SAGA
  }

  private final String name;
  private final String spec;
  private final Kind kind;
  private final String lockKey;
  private final @Nullable Instant nextFireTime;
  private final @Nullable Instant lastFireTime;

  PeriodicEntry(
      String name,
      String spec,
      Kind kind,
      String lockKey,
      @Nullable Instant nextFireTime,
      @Nullable Instant lastFireTime) {
    this.name = name;
    this.spec = spec;
    this.kind = kind;
    this.lockKey = lockKey;
    this.nextFireTime = nextFireTime;
    this.lastFireTime = lastFireTime;
  }

  /** The name it was registered under; unique within one scheduler. */
  public String name() {
    return name;
  }

  /** The spec exactly as registered, time-zone prefix included. */
  public String spec() {
    return spec;
  }

  public Kind kind() {
    return kind;
  }

  /**
   * The lock taken before each run: {@code machinery_lock_<programName><name><spec>}, as Go names
   * it.
   */
  public String lockKey() {
    return lockKey;
  }

  /** When it fires next, or null if its spec has no further fire time within five years. */
  public @Nullable Instant nextFireTime() {
    return nextFireTime;
  }

  /**
   * The scheduled time of the last run this scheduler handled (fired, skipped or lost to another
   * server).
   */
  public @Nullable Instant lastFireTime() {
    return lastFireTime;
  }

  @Override
  public String toString() {
    return "PeriodicEntry{" + name + " " + kind + " \"" + spec + "\" next=" + nextFireTime + "}";
  }
}
