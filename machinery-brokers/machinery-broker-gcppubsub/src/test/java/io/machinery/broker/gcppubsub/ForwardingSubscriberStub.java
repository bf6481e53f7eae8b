package io.machinery.broker.gcppubsub;

import com.google.api.gax.core.BackgroundResource;
import com.google.api.gax.rpc.UnaryCallable;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.protobuf.Empty;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.GetSubscriptionRequest;
import com.google.pubsub.v1.ModifyAckDeadlineRequest;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.PullResponse;
import com.google.pubsub.v1.Subscription;

/**
 * A subscriber stub that forwards every call the broker makes to a real one (talking to the
 * emulator): the base of the tests' stubs that inject faults into some of them.
 */
abstract class ForwardingSubscriberStub extends SubscriberStub
    implements ForwardingBackgroundResource {
  protected final SubscriberStub real;

  ForwardingSubscriberStub(SubscriberStub real) {
    this.real = real;
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
  public UnaryCallable<PullRequest, PullResponse> pullCallable() {
    return real.pullCallable();
  }

  @Override
  public UnaryCallable<AcknowledgeRequest, Empty> acknowledgeCallable() {
    return real.acknowledgeCallable();
  }

  @Override
  public UnaryCallable<ModifyAckDeadlineRequest, Empty> modifyAckDeadlineCallable() {
    return real.modifyAckDeadlineCallable();
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
