package io.machinery.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The memory broker's delivery counting, replacement requeues and injected clock. */
class MemoryBrokerTest {
  private final ManualClock clock = ManualClock.at(Instant.parse("2026-01-01T00:00:00Z"));
  private final MemoryBroker broker = MemoryBroker.create(Config.DEFAULT, clock);
  private final LinkedBlockingQueue<Delivery> received = new LinkedBlockingQueue<>();

  @AfterEach
  void close() {
    broker.close();
  }

  private Consumption consume() {
    return consume("t", received::add);
  }

  /** A consumer of the default queue with one slot, handing each delivery to {@code deliveries}. */
  private Consumption consume(String tag, java.util.function.Consumer<Delivery> deliveries) {
    return broker.startConsuming(
        tag,
        "",
        new DeliveryHandler() {
          @Override
          public int reserve(int max) {
            return 1;
          }

          @Override
          public void release(int slots) {}

          @Override
          public void handle(Delivery delivery) {
            deliveries.accept(delivery);
          }

          @Override
          public void handleNow(Delivery delivery) {
            deliveries.accept(delivery);
          }

          @Override
          public void brokerError(Throwable error) {}
        });
  }

  /** A consumer that acks every delivery and records its tag for it. */
  private void consumeAs(String tag, LinkedBlockingQueue<String> takers) {
    consume(
        tag,
        delivery -> {
          delivery.ack();
          takers.add(tag);
        });
  }

  /**
   * Consumers waiting on one queue take its messages in turn, however long the gaps between them (a
   * task requeued with a back-off comes back after 100 ms or more, and AcceptanceSuite counts on it
   * reaching the other worker within two deliveries). The gaps between the messages alternate
   * between 250 and 150 ms, around the 200 ms timed wait this broker once had: its timeouts put a
   * consumer back at the end of the line.
   */
  @Test
  void waitingConsumersTakeMessagesInTurn() throws Exception {
    String queue = Config.DEFAULT.defaultQueue();
    LinkedBlockingQueue<String> takers = new LinkedBlockingQueue<>();
    consumeAs("a", takers);
    consumeAs("b", takers);
    java.util.List<String> order = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      await()
          .pollDelay(Duration.ofMillis(i % 2 == 0 ? 250 : 150)) // the gaps, see above
          .atMost(Duration.ofSeconds(10))
          .until(() -> broker.waitingConsumers(queue) == 2);
      broker.pushRaw(queue, ("m" + i).getBytes(StandardCharsets.UTF_8));
      String taker = takers.poll(10, TimeUnit.SECONDS);
      assertThat(taker).as("the consumer of m" + i).isNotNull();
      order.add(taker);
    }
    for (int i = 1; i < order.size(); i++) {
      assertThat(order.get(i)).as("taker of m%d after %s", i, order).isNotEqualTo(order.get(i - 1));
    }
  }

  private Delivery next() throws InterruptedException {
    Delivery delivery = received.poll(10, TimeUnit.SECONDS);
    assertThat(delivery).as("a delivery").isNotNull();
    return delivery;
  }

  @Test
  void aMessageWhoseConsumerDiedComesBackCountedAndARequeueKeepsTheCount() throws Exception {
    broker.pushRaw(Config.DEFAULT.defaultQueue(), "m".getBytes(StandardCharsets.UTF_8));
    Consumption first = consume();
    Delivery once = next();
    assertThat(once.deliveryCount()).isEqualTo(1);
    assertThat(once.redelivered()).isFalse();
    first.close(); // unsettled: back to the head of the queue
    consume();
    Delivery twice = next();
    assertThat(twice.deliveryCount()).isEqualTo(2);
    assertThat(twice.redelivered()).isTrue();
    twice.requeue(Duration.ZERO);
    assertThat(next().deliveryCount()).isEqualTo(3);
    assertThat(broker.requeueCount()).isEqualTo(1);
  }

  @Test
  void aReplacementIsDeliveredInsteadOfTheOriginalAsANewMessage() throws Exception {
    broker.pushRaw(Config.DEFAULT.defaultQueue(), "old".getBytes(StandardCharsets.UTF_8));
    consume();
    Delivery first = next();
    first.requeue(Duration.ZERO, "new".getBytes(StandardCharsets.UTF_8));
    first.requeue(
        Duration.ZERO, "twice".getBytes(StandardCharsets.UTF_8)); // settled already: ignored
    Delivery second = next();
    assertThat(new String(second.body(), StandardCharsets.UTF_8)).isEqualTo("new");
    assertThat(second.deliveryCount()).isEqualTo(1);
    assertThat(received.poll(200, TimeUnit.MILLISECONDS)).isNull();
  }

  @Test
  void aDelayedRequeueWaitsForTheInjectedClock() throws Exception {
    Signature task =
        Signature.builder("t").uuid(TASK_1).routingKey(Config.DEFAULT.defaultQueue()).build();
    broker.publish(task, WireCodec.encode(task));
    consume();
    next()
        .requeue(Duration.ofHours(1), WireCodec.encode(task.toBuilder().header("k", "v").build()));
    assertThat(broker.delayedTasks()).extracting(Signature::uuid).containsExactly(TASK_1);
    assertThat(received.poll(1500, TimeUnit.MILLISECONDS))
        .as("nothing before the clock moves")
        .isNull();
    clock.advance(Duration.ofHours(1));
    Delivery back = next();
    assertThat(WireCodec.decodeSignature(back.body()).headers()).containsEntry("k", "v");
    await().until(() -> broker.delayedTasks().isEmpty());
  }

  @Test
  void listingSkipsAMessageTooDeeplyNestedToDecode() {
    String nested = "[".repeat(10_000) + "]".repeat(10_000);
    broker.pushRaw(
        Config.DEFAULT.defaultQueue(),
        ("{\"UUID\":\"d\",\"Name\":\"t\",\"Args\":[{\"Type\":\"[]int64\",\"Value\":"
                + nested
                + "}]}")
            .getBytes(StandardCharsets.UTF_8));
    Signature good =
        Signature.builder("t").uuid(TASK_OK).routingKey(Config.DEFAULT.defaultQueue()).build();
    broker.publish(good, WireCodec.encode(good));
    assertThat(broker.pendingTasks("")).extracting(Signature::uuid).containsExactly(TASK_OK);
  }

  // Go-shaped ids: listings decode with the default (strict) id rules.
  private static final String TASK_1 = "task_6f1c2a52-3b8e-4c1d-9a55-0e7f2b9d4c01";
  private static final String TASK_OK = "task_0b7e3d1a-8c4f-4e2b-a6d9-5f1c7e2a9b03";

  /**
   * {@link DeliveryHandler#handle}'s rule on the memory broker: a handler that throws did not take
   * the delivery, so the broker takes it back (counted as delivered) with the rest of its batch, in
   * order, gives back every slot of the batch, and ends the consumption. Before, the throw killed
   * the fetch thread: the slots stayed taken, the rest of the batch was lost, and the worker was
   * never told that nothing fetched any more.
   */
  @Test
  void aHandlerThatThrowsGetsTheBatchAndItsSlotsBackAndTheConsumptionEnds() throws Exception {
    String queue = Config.DEFAULT.defaultQueue();
    for (String body : new String[] {"m0", "m1", "m2"}) {
      broker.pushRaw(queue, body.getBytes(StandardCharsets.UTF_8));
    }
    java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(2);
    OutOfMemoryError refusal = new OutOfMemoryError("injected: no thread");
    java.util.concurrent.CompletableFuture<Throwable> ended =
        new java.util.concurrent.CompletableFuture<>();
    broker.startConsuming(
        "refusing",
        "",
        new DeliveryHandler() {
          @Override
          public int reserve(int max) throws InterruptedException {
            slots.acquire();
            int reserved = 1;
            while (reserved < max && slots.tryAcquire()) {
              reserved++;
            }
            return reserved;
          }

          @Override
          public int capacity() {
            return 2;
          }

          @Override
          public void release(int count) {
            slots.release(count);
          }

          @Override
          public void handle(Delivery delivery) {
            throw refusal; // keeps and frees no slot
          }

          @Override
          public void handleNow(Delivery delivery) {
            throw new UnsupportedOperationException();
          }

          @Override
          public void brokerError(Throwable error) {}

          @Override
          public void consumptionEnded(Throwable cause) {
            ended.complete(cause);
          }
        });

    assertThat(ended.get(10, TimeUnit.SECONDS)).isSameAs(refusal);
    assertThat(slots.availablePermits()).as("the handler's free slots").isEqualTo(2);
    consume();
    Delivery m0 = next();
    assertThat(new String(m0.body(), StandardCharsets.UTF_8)).isEqualTo("m0");
    assertThat(m0.deliveryCount()).as("m0 was handed out once before").isEqualTo(2);
    m0.ack();
    Delivery m1 = next();
    assertThat(new String(m1.body(), StandardCharsets.UTF_8)).isEqualTo("m1");
    assertThat(m1.deliveryCount()).as("m1 was never handed out").isEqualTo(1);
    m1.ack();
    assertThat(new String(next().body(), StandardCharsets.UTF_8)).isEqualTo("m2");
  }
}
