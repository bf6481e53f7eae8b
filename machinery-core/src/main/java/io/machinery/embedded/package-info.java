/**
 * Brokers, backends and a lock that live inside the JVM, for development and tests: {@link
 * io.machinery.embedded.MemoryBroker} and {@link io.machinery.embedded.MemoryBackend} (what a
 * {@link io.machinery.Server} uses when given none; they honour an injected clock for ETAs and
 * retries), Go's eager pair {@link io.machinery.embedded.EagerBroker} and {@link
 * io.machinery.embedded.EagerBackend} (a task runs synchronously in the sender's thread), {@link
 * io.machinery.embedded.EagerLock}, and {@link io.machinery.embedded.NullBackend}, which stores
 * nothing. None of them is shared between processes.
 */
@NullMarked
package io.machinery.embedded;

import org.jspecify.annotations.NullMarked;
