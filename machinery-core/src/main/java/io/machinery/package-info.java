/**
 * The user API: Go Machinery's vocabulary in Java. Start at {@link io.machinery.Server}: build one
 * (by default with an in-JVM broker and backend), register tasks ({@link
 * io.machinery.TaskFunction}), send a {@link io.machinery.Signature} or a {@link
 * io.machinery.Group}, {@link io.machinery.Chord} or {@link io.machinery.Chain}, read results
 * through {@link io.machinery.AsyncResult}, and run tasks with a {@link io.machinery.Worker} from
 * {@link io.machinery.Server#newWorker}. Values ({@code Signature}, {@code Arg}, {@code TaskState},
 * {@code TaskResult}) are immutable; every exception is a {@link io.machinery.MachineryException}
 * or a JDK exception for a bad argument. Delivery is at-least-once: tasks must be idempotent (see
 * {@link io.machinery.Server#registerTask}). Brokers, backends and locks come from their own
 * modules through {@code io.machinery.spi}; configuration is {@code io.machinery.config}.
 */
@NullMarked
package io.machinery;

import org.jspecify.annotations.NullMarked;
