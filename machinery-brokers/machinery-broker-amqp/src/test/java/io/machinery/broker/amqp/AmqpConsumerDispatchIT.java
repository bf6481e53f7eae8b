package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * How a delivery reaches the worker: on RabbitMQ's connection thread when a slot is free (no thread
 * hand-off in between), and in order, through a waiting thread, when none is.
 */
class AmqpConsumerDispatchIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  @RegisterExtension static final AmqpTestResources rabbit = new AmqpTestResources();

  private Config config;
  private RabbitAdmin admin;
  private AmqpBroker broker;

  @BeforeEach
  void setUp() throws Exception {
    config = rabbit.queue("amqp_dispatch_it_");
    admin = rabbit.admin();
    broker = rabbit.broker(config);
  }

  private void publish(long n) {
    Signature s = Signature.create("add", Arg.of(n));
    Signature routed = s.toBuilder().routingKey(broker.routingKeyFor(s)).build();
    broker.publish(routed, WireCodec.encode(routed));
  }

  private static long arg(Delivery d) {
    return ((Number) WireCodec.decodeSignature(d.body()).args().get(0).typedValue()).longValue();
  }

  @Test
  void aDeliveryThatFindsAFreeSlotIsHandedOverOnTheConnectionsOwnThread() throws Exception {
    Slots handler = new Slots(new RecordingHandler(2), 2);
    Consumption consumption = broker.startConsuming("it", "", handler);
    publish(1);
    publish(2);
    await().atMost(PATIENCE).until(() -> handler.threads.size() == 2);
    assertThat(handler.threads)
        .as("the thread that called handle(): RabbitMQ's reader, no dispatch thread in between")
        .allSatisfy(t -> assertThat(t).startsWith("AMQP Connection"));
    consumption.close();
  }

  /**
   * A handler that reports more capacity than it has slots (as a worker consuming several queues
   * does): the deliveries beyond its slots wait, are handed over in their order as slots free up,
   * and go back to the queue when fetching stops.
   */
  @Test
  void deliveriesThatFindNoSlotWaitInOrderAndGoBackWhenFetchingStops() throws Exception {
    RecordingHandler slots = new RecordingHandler(1);
    Slots handler = new Slots(slots, 4);
    for (long i = 1; i <= 4; i++) {
      publish(i);
    }
    Consumption consumption = broker.startConsuming("it", "", handler);
    Delivery first = slots.next(20);
    assertThat(first).isNotNull();
    assertThat(arg(first)).isEqualTo(1);
    await()
        .during(Duration.ofMillis(200))
        .atMost(PATIENCE)
        .until(() -> admin.messageCount(config.defaultQueue()) == 0 && slots.handedOver() == 1);
    slots.ack(first);
    Delivery second = slots.next(20);
    assertThat(second).isNotNull();
    assertThat(arg(second)).as("the oldest waiting delivery comes next").isEqualTo(2);
    consumption.stopFetching(Duration.ofSeconds(5));
    await()
        .atMost(PATIENCE)
        .until(() -> admin.messageCount(config.defaultQueue()) == 2); // 3 and 4, never started
    slots.ack(second);
    assertThat(slots.handedOver()).isEqualTo(2);
    consumption.close();
  }

  /** Delegates to a {@link RecordingHandler}, reports {@code capacity}, notes handle()'s thread. */
  private static final class Slots implements DeliveryHandler {
    private final RecordingHandler slots;
    private final int capacity;
    final List<String> threads = new CopyOnWriteArrayList<>();

    Slots(RecordingHandler slots, int capacity) {
      this.slots = slots;
      this.capacity = capacity;
    }

    @Override
    public int reserve(int max) throws InterruptedException {
      return slots.reserve(max);
    }

    @Override
    public int reserve(int max, Duration timeout) throws InterruptedException {
      return slots.reserve(max, timeout);
    }

    @Override
    public int capacity() {
      return capacity;
    }

    @Override
    public void release(int count) {
      slots.release(count);
    }

    @Override
    public void handle(Delivery delivery) {
      threads.add(Thread.currentThread().getName());
      slots.handle(delivery);
    }

    @Override
    public void handleNow(Delivery delivery) {
      slots.handleNow(delivery);
    }

    @Override
    public void brokerError(Throwable error) {
      slots.brokerError(error);
    }
  }
}
