package io.machinery;

import java.time.Duration;
import java.util.Objects;

/**
 * Why a worker handed a task back to its broker without running it, and for how long: the event
 * {@link TaskListener#deferred} carries.
 *
 * @param reason what held the task back
 * @param key the limit's or breaker's key (by default the task name); the task name for {@link
 *     Reason#UNREGISTERED}
 * @param delay how long until the broker offers the task again
 * @param times how many times this message was handed back for this reason, this time included
 *     (counted in its headers: {@code machinery_limited}, {@code machinery_breaker}, {@code
 *     machinery_unregistered})
 */
public record TaskDeferral(Reason reason, String key, Duration delay, int times) {
  /** What held a task back. */
  public enum Reason {
    /** Its {@link TaskLimit} (rate or concurrency cap) had no room. */
    LIMIT,
    /** Its {@link TaskBreaker} was open, or half-open with its trials taken: the task is parked. */
    BREAKER,
    /**
     * The task is not registered with this worker: requeued with back-off for a worker that has it.
     */
    UNREGISTERED
  }

  /** Checks that no component is null. */
  public TaskDeferral {
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(delay, "delay");
  }

  /**
   * Says it for people, as a task's history shows it: {@code "breaker call is open: handed back for
   * PT30S (time 3)"}.
   *
   * @return one line
   */
  public String describe() {
    String what =
        switch (reason) {
          case LIMIT -> "limit " + key + " has no room";
          case BREAKER -> "breaker " + key + " is open";
          case UNREGISTERED -> "task " + key + " is not registered on this worker";
        };
    return what + ": handed back for " + delay + " (time " + times + ")";
  }
}
