package io.machinery.spi;

/**
 * A named lock that expires by itself: Go's {@code locks/iface.Lock}, used to fire each periodic
 * task once per tick across servers. Thread-safe. Whoever builds a lock closes it.
 */
public interface Lock extends AutoCloseable {

  /**
   * Takes the lock {@code key} until the Unix time {@code expiresAtUnixNanos}, if no one holds it
   * now.
   *
   * @param key the lock's name
   * @param expiresAtUnixNanos when the lock lapses by itself, in Unix nanoseconds
   * @return whether this call took the lock
   * @throws io.machinery.MachineryException when the lock store cannot be reached
   */
  boolean tryLock(String key, long expiresAtUnixNanos);

  /**
   * Takes the lock as {@link #tryLock} does, retrying as the implementation is configured to (Go's
   * {@code LockWithRetries}).
   *
   * @param key the lock's name
   * @param expiresAtUnixNanos when the lock lapses by itself, in Unix nanoseconds
   * @return whether a try took the lock; false when none did and one at least found it held
   * @throws io.machinery.MachineryException when the lock store could not be reached on any try
   */
  boolean tryLockWithRetries(String key, long expiresAtUnixNanos);

  /** Releases the lock's connections; idempotent. */
  @Override
  void close();
}
