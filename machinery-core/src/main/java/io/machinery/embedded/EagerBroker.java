package io.machinery.embedded;

import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go's eager broker, for tests: {@link #publish} runs the task synchronously, in the caller's
 * thread, on the launched worker (so {@code sendTask} returns after the task finished); ETAs are
 * ignored. A worker must be launched before anything is sent. An unknown task cannot be requeued
 * here and is dropped with a warning. Thread-safe.
 */
public final class EagerBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(EagerBroker.class);

  private final Config config;
  private volatile @Nullable DeliveryHandler
      handler; // null until a worker consumes, and after it stops
  private final List<String> deadLetters = new CopyOnWriteArrayList<>();

  private EagerBroker(Config config) {
    this.config = config;
  }

  public static EagerBroker create() {
    return new EagerBroker(Config.DEFAULT);
  }

  public static EagerBroker create(Config config) {
    return new EagerBroker(config);
  }

  @Override
  public String routingKeyFor(Signature signature) {
    return config.defaultQueue();
  }

  @Override
  public void publish(Signature signature, byte[] message) {
    DeliveryHandler h = handler;
    if (h == null) {
      throw new MachineryException(
          "the eager broker runs tasks on a launched worker; launch one before sending");
    }
    String queue = signature.routingKey();
    h.handleNow(
        new Delivery() {
          @Override
          public byte[] body() {
            return message;
          }

          @Override
          public String queue() {
            return queue;
          }

          /** Each eager delivery is the message's only one. */
          @Override
          public int deliveryCount() {
            return 1;
          }

          @Override
          public void ack() {}

          @Override
          public void requeue(Duration delay) {
            log.warn(
                "Eager broker: dropping task {} {}: it cannot be requeued here",
                signature.name(),
                signature.uuid());
          }

          @Override
          public void deadLetter(String reason) {
            deadLetters.add(reason);
          }
        });
  }

  @Override
  public Consumption startConsuming(
      String consumerTag, String queue, DeliveryHandler deliveryHandler) {
    this.handler = deliveryHandler;
    return new Consumption() {
      @Override
      public void stopFetching(Duration timeout) {
        handler = null;
      }

      @Override
      public void close() {
        handler = null;
      }
    };
  }

  @Override
  public List<Signature> pendingTasks(String queue) {
    return List.of();
  }

  @Override
  public List<Signature> delayedTasks() {
    return List.of();
  }

  /** Reasons of messages that were dead-lettered. */
  public List<String> deadLetters() {
    return List.copyOf(deadLetters);
  }

  @Override
  public void close() {
    handler = null;
  }
}
