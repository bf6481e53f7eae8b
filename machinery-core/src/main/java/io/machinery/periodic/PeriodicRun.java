package io.machinery.periodic;

import io.machinery.Signature;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What became of one due run of a periodic entry, as returned by {@link
 * PeriodicScheduler#runDue()}. Immutable.
 */
public final class PeriodicRun {
  /** How a run ended. Every outcome but {@link #SENT} is also logged with its reason. */
  public enum Outcome {
    /** This scheduler took the lock and sent the task or workflow. */
    SENT,
    /** Another scheduler holds the lock for this tick: it fired this run (DEBUG). */
    LOCKED_ELSEWHERE,
    /** The run was missed and the policy is {@link MissedFirePolicy#SKIP} (WARN). */
    SKIPPED_MISSED,
    /** Taking the lock or sending failed (WARN, with the error). */
    FAILED
  }

  private final String name;
  private final Instant scheduledAt;
  private final Outcome outcome;
  private final List<Signature> signatures;
  private final @Nullable Throwable error;

  PeriodicRun(
      String name,
      Instant scheduledAt,
      Outcome outcome,
      List<Signature> signatures,
      @Nullable Throwable error) {
    this.name = name;
    this.scheduledAt = scheduledAt;
    this.outcome = outcome;
    this.signatures = List.copyOf(signatures);
    this.error = error;
  }

  /** The entry's name. */
  public String name() {
    return name;
  }

  /** The tick this run was for (earlier than now when it was late). */
  public Instant scheduledAt() {
    return scheduledAt;
  }

  public Outcome outcome() {
    return outcome;
  }

  /**
   * The signatures this run sent, with their fresh UUIDs: the task; the group members; the chain's
   * tasks in order; the chord's members followed by its callback. Empty unless {@link
   * Outcome#SENT}.
   */
  public List<Signature> signatures() {
    return signatures;
  }

  /** Why a {@link Outcome#FAILED} run failed. */
  public @Nullable Throwable error() {
    return error;
  }

  @Override
  public String toString() {
    return "PeriodicRun{"
        + name
        + " at "
        + scheduledAt
        + " "
        + outcome
        + (error == null ? "" : " " + error)
        + "}";
  }
}
