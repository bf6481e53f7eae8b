/**
 * Periodic tasks: Go Machinery's {@code RegisterPeriodicTask/Group/Chain/Chord}, reached through
 * {@link io.machinery.Server#registerPeriodicTask} and friends. {@link
 * io.machinery.periodic.PeriodicScheduler} holds the entries and fires them; {@link
 * io.machinery.periodic.PeriodicConfig} sets the program name of the lock keys, the time zone, the
 * missed-fire policy and whether a background thread runs.
 */
@NullMarked
package io.machinery.periodic;

import org.jspecify.annotations.NullMarked;
