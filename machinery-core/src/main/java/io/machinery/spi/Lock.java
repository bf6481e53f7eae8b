package io.machinery.spi;

/**
 * A named lock that expires by itself: Go's {@code locks/iface.Lock}, used to fire each periodic task once
 * per tick across servers. Thread-safe. Whoever builds a lock closes it.
 */
public interface Lock extends AutoCloseable {

  /**
   * Takes the lock {@code key} until the Unix time {@code expiresAtUnixNanos}, if no one holds it now.
   *
   * @return whether this call took the lock
   */
  boolean tryLock(String key, long expiresAtUnixNanos);

  /** {@link #tryLock} with the implementation's retries (Go's {@code LockWithRetries}). */
  boolean tryLockWithRetries(String key, long expiresAtUnixNanos);

  @Override
  void close();
}
