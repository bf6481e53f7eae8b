package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.gax.core.BackgroundResource;
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
import org.jspecify.annotations.Nullable;

/**
 * A subscriber stub that forwards every call the broker makes to a real one (talking to the
 * emulator): the base of the tests' stubs that inject faults into some calls, hold their answers or
 * count them. Such a stub overrides {@link #pull}, {@link #acknowledge} or {@link
 * #modifyAckDeadline} and calls the super method to send a request on.
 */
abstract class ForwardingSubscriberStub extends SubscriberStub
    implements ForwardingBackgroundResource {
  protected final SubscriberStub real;

  ForwardingSubscriberStub(SubscriberStub real) {
    this.real = real;
  }

  /**
   * Whether {@code subscriptionName} (a request's full name) names the subscription {@code
   * subscription} (its short name).
   */
  static boolean isOf(String subscriptionName, String subscription) {
    return subscriptionName.endsWith("/subscriptions/" + subscription);
  }

  /** Whether {@code subscriptionName} is the default delay subscription's. */
  static boolean isDelaySubscription(String subscriptionName) {
    return isOf(subscriptionName, GcpPubSubBroker.DEFAULT_DELAY_TOPIC);
  }

  /** One pull of the broker's: sent to the real stub unless a subclass says otherwise. */
  ApiFuture<PullResponse> pull(PullRequest request, @Nullable ApiCallContext context) {
    return real.pullCallable().futureCall(request, context);
  }

  /** One Acknowledge of the broker's: sent to the real stub unless a subclass says otherwise. */
  ApiFuture<Empty> acknowledge(AcknowledgeRequest request, @Nullable ApiCallContext context) {
    return real.acknowledgeCallable().futureCall(request, context);
  }

  /**
   * One ModifyAckDeadline of the broker's (a lease extension above zero, a nack at zero): sent to
   * the real stub unless a subclass says otherwise.
   */
  ApiFuture<Empty> modifyAckDeadline(
      ModifyAckDeadlineRequest request, @Nullable ApiCallContext context) {
    return real.modifyAckDeadlineCallable().futureCall(request, context);
  }

  @Override
  public final UnaryCallable<PullRequest, PullResponse> pullCallable() {
    return InterceptedCall.callable(this::pull);
  }

  @Override
  public final UnaryCallable<AcknowledgeRequest, Empty> acknowledgeCallable() {
    return InterceptedCall.callable(this::acknowledge);
  }

  @Override
  public final UnaryCallable<ModifyAckDeadlineRequest, Empty> modifyAckDeadlineCallable() {
    return InterceptedCall.callable(this::modifyAckDeadline);
  }

  @Override
  public BackgroundResource forwardedTo() {
    return real;
  }

  @Override
  public void close() {
    real.close();
  }

  @Override
  public UnaryCallable<GetSubscriptionRequest, Subscription> getSubscriptionCallable() {
    return real.getSubscriptionCallable();
  }

  @Override
  public UnaryCallable<Subscription, Subscription> createSubscriptionCallable() {
    return real.createSubscriptionCallable();
  }
}
