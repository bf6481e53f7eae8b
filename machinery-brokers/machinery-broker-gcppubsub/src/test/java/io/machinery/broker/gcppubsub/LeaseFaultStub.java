package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.gax.rpc.ApiCallContext;
import com.google.api.gax.rpc.UnaryCallable;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.protobuf.Empty;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.GetSubscriptionRequest;
import com.google.pubsub.v1.ModifyAckDeadlineRequest;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import com.google.pubsub.v1.Subscription;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real subscriber stub (talking to the emulator) with one injected fault: the first lease
 * extension (a ModifyAckDeadline with a deadline above zero) throws an {@link Error}, the third a
 * {@link RuntimeException}; everything else goes through unchanged.
 */
final class LeaseFaultStub extends SubscriberStub {
  private final SubscriberStub real;
  private final AtomicInteger extensions = new AtomicInteger();

  LeaseFaultStub(SubscriberStub real) {
    this.real = real;
  }

  /** How many lease extensions were attempted, failed ones included. */
  int extensions() {
    return extensions.get();
  }

  @Override
  public UnaryCallable<ModifyAckDeadlineRequest, Empty> modifyAckDeadlineCallable() {
    UnaryCallable<ModifyAckDeadlineRequest, Empty> delegate = real.modifyAckDeadlineCallable();
    return new UnaryCallable<>() {
      @Override
      public ApiFuture<Empty> futureCall(ModifyAckDeadlineRequest request, ApiCallContext context) {
        if (request.getAckDeadlineSeconds() > 0) {
          int n = extensions.incrementAndGet();
          if (n == 1) {
            throw new AssertionError("injected: lease extension 1 fails with an Error");
          }
          if (n == 3) {
            throw new IllegalStateException("injected: lease extension 3 fails");
          }
        }
        return delegate.futureCall(request, context);
      }
    };
  }

  @Override
  public UnaryCallable<PullRequest, PullResponse> pullCallable() {
    return real.pullCallable();
  }

  @Override
  public UnaryCallable<AcknowledgeRequest, Empty> acknowledgeCallable() {
    return real.acknowledgeCallable();
  }

  @Override
  public UnaryCallable<GetSubscriptionRequest, Subscription> getSubscriptionCallable() {
    return real.getSubscriptionCallable();
  }

  @Override
  public UnaryCallable<Subscription, Subscription> createSubscriptionCallable() {
    return real.createSubscriptionCallable();
  }

  @Override
  public void close() {
    real.close();
  }

  @Override
  public void shutdown() {
    real.shutdown();
  }

  @Override
  public boolean isShutdown() {
    return real.isShutdown();
  }

  @Override
  public boolean isTerminated() {
    return real.isTerminated();
  }

  @Override
  public void shutdownNow() {
    real.shutdownNow();
  }

  @Override
  public boolean awaitTermination(long duration, TimeUnit unit) throws InterruptedException {
    return real.awaitTermination(duration, unit);
  }
}
