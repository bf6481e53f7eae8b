package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.core.ApiFutures;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * At most a fixed number of publish requests in flight: a place in the window is taken before a
 * request starts and given back when Pub/Sub answers it (or when it fails to start).
 *
 * <p>Design notes. The delay pump publishes in bursts: the due messages of a pull, old delayed
 * messages it refreshes, and held messages that fall due together. It batches them (up to 1,000
 * messages a request), but a burst spread over many topics, or arriving faster than requests are
 * answered, still makes many requests; without a bound they would all start at once (when each took
 * a thread of its own, one thread each). The requests are asynchronous, so a burst needs no thread
 * per request: whoever starts them waits only while the window is full, and the rest of the burst
 * queues behind it. Thread-safe.
 */
final class PublishWindow {
  /**
   * Publish requests in flight per delay pump: as many as gRPC sends side by side on one connection
   * by default (HTTP/2's usual limit of concurrent streams), so a full window still takes about one
   * round trip per {@value} requests.
   */
  static final int MAX_IN_FLIGHT = 100;

  private final int size;
  private final Semaphore places;

  PublishWindow(int size) {
    if (size < 1) {
      throw new IllegalArgumentException("a publish window needs at least one place, was " + size);
    }
    this.size = size;
    this.places = new Semaphore(size);
  }

  /** Waits for a place in the window, then {@link #launch launches} {@code publish} in it. */
  <T> ApiFuture<T> start(Supplier<ApiFuture<T>> publish) throws InterruptedException {
    acquire();
    return launch(publish);
  }

  /**
   * Takes a place, waiting while the window is full; it is given back by {@link #launch} or {@link
   * #release}.
   */
  void acquire() throws InterruptedException {
    places.acquire();
  }

  /** Gives back a place taken with {@link #acquire} that no publish will use. */
  void release() {
    places.release();
  }

  /**
   * Starts {@code publish} in a place already taken with {@link #acquire}, and gives the place back
   * when it completes. A start that throws gives it back at once and is returned as a failed
   * future.
   */
  <T> ApiFuture<T> launch(Supplier<ApiFuture<T>> publish) {
    ApiFuture<T> started;
    try {
      started = publish.get();
    } catch (RuntimeException e) {
      places.release();
      return ApiFutures.immediateFailedFuture(e);
    } catch (Error e) {
      places.release();
      throw e;
    }
    started.addListener(places::release, Runnable::run);
    return started;
  }

  /**
   * Waits up to {@code timeout} until no publish is in flight.
   *
   * @return whether none was left
   */
  boolean awaitIdle(Duration timeout) throws InterruptedException {
    if (!places.tryAcquire(size, timeout.toNanos(), TimeUnit.NANOSECONDS)) {
      return false;
    }
    places.release(size);
    return true;
  }
}
