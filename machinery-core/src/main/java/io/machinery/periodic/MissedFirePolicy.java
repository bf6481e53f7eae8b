package io.machinery.periodic;

/**
 * What a {@link PeriodicScheduler} does with a run it reaches more than {@link
 * PeriodicConfig#missedFireThreshold()} after its time: after the scheduler thread was starved or
 * suspended (a paused VM, a laptop asleep), after the wall clock jumped forward, or when {@link
 * PeriodicScheduler#runDue()} was not called for a while. Either way a late entry fires at most
 * once, however many of its ticks went by, and its next run is the first tick after now.
 */
public enum MissedFirePolicy {
  /**
   * Fire once now (logged at INFO with the number of ticks missed). Go's behaviour, and the
   * default.
   */
  FIRE_ONCE,
  /** Do not fire; wait for the next tick (logged at WARN with the number of ticks missed). */
  SKIP
}
