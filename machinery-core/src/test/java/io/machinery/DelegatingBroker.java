package io.machinery;

import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeliveryHandler;
import java.util.List;

/**
 * A memory broker seen through the methods every broker has, and no more: no inspector, no control
 * plane, no write order shared with a backend. Its {@link #close()} leaves the memory broker open
 * (the test that made it closes it). Tests use it as a broker that lacks what the memory broker
 * offers, or extend it to change one behaviour (a read that hangs, a publish that looks at the MDC,
 * a connection shared with the backend).
 */
class DelegatingBroker implements Broker {
  final MemoryBroker delegate;

  DelegatingBroker(MemoryBroker delegate) {
    this.delegate = delegate;
  }

  @Override
  public void publish(Signature signature, byte[] message) {
    delegate.publish(signature, message);
  }

  @Override
  public String routingKeyFor(Signature signature) {
    return delegate.routingKeyFor(signature);
  }

  @Override
  public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
    return delegate.startConsuming(tag, queue, handler);
  }

  @Override
  public List<Signature> pendingTasks(String queue) {
    return delegate.pendingTasks(queue);
  }

  @Override
  public List<Signature> delayedTasks() {
    return delegate.delayedTasks();
  }

  @Override
  public void close() {}
}
