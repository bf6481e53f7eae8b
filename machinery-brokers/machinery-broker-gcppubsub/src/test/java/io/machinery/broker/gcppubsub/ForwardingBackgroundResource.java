package io.machinery.broker.gcppubsub;

import com.google.api.gax.core.BackgroundResource;
import java.util.concurrent.TimeUnit;

/**
 * The lifecycle half of a test stub that forwards to a real one. The generated {@code
 * PublisherStub} and {@code SubscriberStub} share no base class, only {@link BackgroundResource},
 * so the forwarding of shutdown, termination and waiting lives here, once, for both {@link
 * ForwardingPublisherStub} and {@link ForwardingSubscriberStub}. {@code close()} cannot: each stub
 * class declares it abstract itself, and a class's abstract method wins over an interface's
 * default, so each forwarding stub forwards it in one line.
 */
interface ForwardingBackgroundResource extends BackgroundResource {
  /** The real stub every lifecycle call goes to. */
  BackgroundResource forwardedTo();

  @Override
  default void shutdown() {
    forwardedTo().shutdown();
  }

  @Override
  default boolean isShutdown() {
    return forwardedTo().isShutdown();
  }

  @Override
  default boolean isTerminated() {
    return forwardedTo().isTerminated();
  }

  @Override
  default void shutdownNow() {
    forwardedTo().shutdownNow();
  }

  @Override
  default boolean awaitTermination(long duration, TimeUnit unit) throws InterruptedException {
    return forwardedTo().awaitTermination(duration, unit);
  }
}
