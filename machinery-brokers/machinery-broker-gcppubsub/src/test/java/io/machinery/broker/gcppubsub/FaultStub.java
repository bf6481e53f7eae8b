package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.gax.rpc.ApiCallContext;
import com.google.api.gax.rpc.UnaryCallable;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.protobuf.Empty;
import com.google.pubsub.v1.ModifyAckDeadlineRequest;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A real subscriber stub (talking to the emulator) with injected faults: the first lease extension
 * (a ModifyAckDeadline with a deadline above zero) throws an {@link Error}, the third a {@link
 * RuntimeException}; with a subscription named, its first pull throws an {@link Error}. Everything
 * else goes through unchanged.
 */
final class FaultStub extends ForwardingSubscriberStub {
  private final AtomicInteger extensions = new AtomicInteger();
  private final AtomicInteger faultedPulls = new AtomicInteger();
  private final @Nullable String failFirstPullOf;

  FaultStub(SubscriberStub real) {
    this(real, null);
  }

  /**
   * @param failFirstPullOf the short name of the subscription whose first pull throws, if any
   */
  FaultStub(SubscriberStub real, @Nullable String failFirstPullOf) {
    super(real);
    this.failFirstPullOf = failFirstPullOf;
  }

  /** How many pulls of the named subscription were attempted, the failed one included. */
  int faultedPulls() {
    return faultedPulls.get();
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
    UnaryCallable<PullRequest, PullResponse> delegate = real.pullCallable();
    if (failFirstPullOf == null) {
      return delegate;
    }
    return new UnaryCallable<>() {
      @Override
      public ApiFuture<PullResponse> futureCall(PullRequest request, ApiCallContext context) {
        if (request.getSubscription().endsWith("/" + failFirstPullOf)
            && faultedPulls.incrementAndGet() == 1) {
          throw new AssertionError("injected: pull 1 fails with an Error");
        }
        return delegate.futureCall(request, context);
      }
    };
  }
}
