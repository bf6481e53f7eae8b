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
import io.machinery.testkit.ThrowingHandler;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.ArrayList;
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

  /**
   * A handler that throws on a delivery handed over on RabbitMQ's connection thread ({@link
   * DeliveryHandler#handle}'s rule: it did not take it): the message goes back to the queue at once
   * (nack, requeue) with the one that arrived after it, its slot goes back, the consumption ends
   * (the subscription cancelled, the end reported, so the worker starts a new consumer, which gets
   * both), and the delivery handed over before stays on its open channel. Before, the throw reached
   * the client library, which closed the channel: the first delivery's message went back too (its
   * task would run twice), the slot stayed taken, and nothing subscribed again nor told the worker.
   */
  @Test
  void aDeliveryTheHandlerThrowsOnOnTheConnectionsThreadGoesBackAtOnceWithItsSlot()
      throws Exception {
    RecordingHandler slots = new RecordingHandler(3);
    aDeliveryTheHandlerThrowsOnGoesBackAtOnceWithItsSlot(slots, new ThrowingHandler(slots, 3, 2));
  }

  /**
   * As {@link #aDeliveryTheHandlerThrowsOnOnTheConnectionsThreadGoesBackAtOnceWithItsSlot}, for a
   * delivery handed over by the thread that waits for slots (a handler with fewer slots than its
   * capacity, as a worker consuming several queues has). Before, the throw ended that thread, the
   * message stayed unacknowledged, and the deliveries after it waited for a slot for ever.
   */
  @Test
  void aDeliveryTheHandlerThrowsOnAfterWaitingForASlotGoesBackAtOnceWithItsSlot() throws Exception {
    RecordingHandler slots = new RecordingHandler(1);
    ThrowingHandler handler = new ThrowingHandler(slots, 3, 2);
    aDeliveryTheHandlerThrowsOnGoesBackAtOnceWithItsSlot(slots, handler);
  }

  private void aDeliveryTheHandlerThrowsOnGoesBackAtOnceWithItsSlot(
      RecordingHandler slots, ThrowingHandler handler) throws Exception {
    for (long i = 1; i <= 3; i++) {
      publish(i);
    }
    int free = handler.freeSlots();
    Consumption consumption = broker.startConsuming("it", "", handler);
    Delivery first = slots.next(20);
    assertThat(first).as("the first delivery").isNotNull();
    assertThat(arg(first)).isEqualTo(1);
    if (free == 1) {
      // the others wait for the only slot: free it, so the waiting thread hands the second over
      await("the others waiting for a slot")
          .atMost(PATIENCE)
          .until(() -> admin.messageCount(config.defaultQueue()) == 0);
      slots.ack(first);
    }
    await("the thrown-on delivery and the one after it back in the queue, the subscription gone")
        .atMost(PATIENCE)
        .untilAsserted(() -> assertThat(admin.messageCount(config.defaultQueue())).isEqualTo(2));
    await("the consumption ended by the handler's throw")
        .atMost(PATIENCE)
        .until(() -> !slots.endings().isEmpty());
    assertThat(admin.with(ch -> ch.queueDeclarePassive(config.defaultQueue())).getConsumerCount())
        .as("subscriptions left on the queue")
        .isZero();
    assertThat(handler.slotsTaken())
        .as("slots the consumer still holds (reserved, neither used nor given back)")
        .isZero();
    Delivery thrownOn = handler.thrownOn();
    assertThat(thrownOn).as("the delivery the handler threw on").isNotNull();
    thrownOn.ack(); // a handler that took it after all: too late, it went back already
    if (free > 1) {
      assertThat(first.stillHeld()).as("the first delivery, on its channel still open").isTrue();
      assertThat(handler.freeSlots()).as("free slots, one held by the first").isEqualTo(free - 1);
      slots.ack(first);
    }
    assertThat(handler.freeSlots()).as("free slots").isEqualTo(free);

    RecordingHandler next = new RecordingHandler(2);
    Consumption replacement = broker.startConsuming("next", "", next); // as the worker starts one
    List<Long> received = new ArrayList<>();
    for (int i = 1; i <= 2; i++) {
      Delivery d = next.next(20);
      assertThat(d).as("delivery %d of 2 to the next consumer", i).isNotNull();
      received.add(arg(d));
      next.ack(d);
    }
    assertThat(received).as("the tasks not run").containsExactlyInAnyOrder(2L, 3L);
    replacement.close();
    consumption.close();
    await("every task acknowledged once")
        .atMost(PATIENCE)
        .until(() -> admin.messageCount(config.defaultQueue()) == 0);
    assertThat(slots.handedOver()).as("handed over to the first consumer").isEqualTo(1);
    assertThat(slots.brokerErrors()).as("broker errors").isEmpty();
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
