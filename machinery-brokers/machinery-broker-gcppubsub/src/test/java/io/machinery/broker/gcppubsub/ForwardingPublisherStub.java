package io.machinery.broker.gcppubsub;

import com.google.api.gax.core.BackgroundResource;
import com.google.api.gax.rpc.UnaryCallable;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.pubsub.v1.GetTopicRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PublishResponse;
import com.google.pubsub.v1.Topic;

/**
 * A publisher stub that forwards every call the broker makes to a real one (talking to the
 * emulator): the base of the tests' stubs that slow some publishes down.
 */
abstract class ForwardingPublisherStub extends PublisherStub
    implements ForwardingBackgroundResource {
  protected final PublisherStub real;

  ForwardingPublisherStub(PublisherStub real) {
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
  public UnaryCallable<PublishRequest, PublishResponse> publishCallable() {
    return real.publishCallable();
  }

  @Override
  public UnaryCallable<GetTopicRequest, Topic> getTopicCallable() {
    return real.getTopicCallable();
  }

  @Override
  public UnaryCallable<Topic, Topic> createTopicCallable() {
    return real.createTopicCallable();
  }
}
