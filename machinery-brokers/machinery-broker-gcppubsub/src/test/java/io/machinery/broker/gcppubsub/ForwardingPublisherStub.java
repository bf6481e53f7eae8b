package io.machinery.broker.gcppubsub;

import com.google.api.core.ApiFuture;
import com.google.api.gax.core.BackgroundResource;
import com.google.api.gax.rpc.ApiCallContext;
import com.google.api.gax.rpc.UnaryCallable;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.pubsub.v1.GetTopicRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PublishResponse;
import com.google.pubsub.v1.Topic;
import org.jspecify.annotations.Nullable;

/**
 * A publisher stub that forwards every call the broker makes to a real one (talking to the
 * emulator): the base of the tests' stubs that hold, slow, fail or count publishes. Such a stub
 * overrides {@link #publish} and calls {@code super.publish} to send a request on.
 */
abstract class ForwardingPublisherStub extends PublisherStub
    implements ForwardingBackgroundResource {
  protected final PublisherStub real;

  ForwardingPublisherStub(PublisherStub real) {
    this.real = real;
  }

  /** Whether {@code request} publishes to the topic named {@code topic} (its short name). */
  static boolean isTo(PublishRequest request, String topic) {
    return request.getTopic().endsWith("/topics/" + topic);
  }

  /**
   * One publish request of the broker's: sent to the real stub unless a subclass says otherwise.
   */
  ApiFuture<PublishResponse> publish(PublishRequest request, @Nullable ApiCallContext context) {
    return real.publishCallable().futureCall(request, context);
  }

  @Override
  public final UnaryCallable<PublishRequest, PublishResponse> publishCallable() {
    return InterceptedCall.callable(this::publish);
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
  public UnaryCallable<GetTopicRequest, Topic> getTopicCallable() {
    return real.getTopicCallable();
  }

  @Override
  public UnaryCallable<Topic, Topic> createTopicCallable() {
    return real.createTopicCallable();
  }
}
