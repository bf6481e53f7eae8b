package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.gax.rpc.ApiCallContext;
import com.google.api.gax.rpc.UnaryCallable;
import org.jspecify.annotations.Nullable;

/**
 * One of a test stub's calls, answered by a method of the stub: {@link ForwardingPublisherStub} and
 * {@link ForwardingSubscriberStub} hand the broker {@link #callable}s of their methods, so a test
 * stub that holds, slows, fails or counts requests overrides a method instead of wrapping the real
 * stub's callable in an anonymous class of its own.
 */
@FunctionalInterface
interface InterceptedCall<RequestT, ResponseT> {
  /** Answers {@code request}; {@code context} is null when the broker gave none. */
  ApiFuture<ResponseT> futureCall(RequestT request, @Nullable ApiCallContext context);

  /** The callable the broker calls: each of its requests goes to {@code call}. */
  static <RequestT, ResponseT> UnaryCallable<RequestT, ResponseT> callable(
      InterceptedCall<RequestT, ResponseT> call) {
    return new UnaryCallable<>() {
      @Override
      public ApiFuture<ResponseT> futureCall(RequestT request, @Nullable ApiCallContext context) {
        return call.futureCall(request, context);
      }
    };
  }
}
