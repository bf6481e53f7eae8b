package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link DeliveryHandler#handle}'s rule, on the worker's side: when the hand-over throws, the
 * worker has neither kept nor freed the delivery's slot (the broker frees it), and the delivery
 * still counts as settled. It did not: a worker with no thread for a delivery freed its slot and
 * then threw when the requeue failed with an {@link Error}, so the broker freed it again and the
 * worker ran two tasks on one slot; after an abrupt quit, the same failure left the delivery in
 * progress for ever. The broker here is a stand-in that fetches nothing: the test hands over
 * deliveries the way every broker must.
 */
class WorkerHandOverTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final Config CONFIG = Config.DEFAULT;

  /** A broker whose consumer only keeps the worker's handler, for the test to hand over with. */
  private static final class HandOverBroker extends DelegatingBroker {
    volatile @Nullable DeliveryHandler handler;
    final AtomicInteger consumersStarted = new AtomicInteger();

    /** Thrown by the next consumer's close, when set. */
    final AtomicReference<@Nullable RuntimeException> closeFailure = new AtomicReference<>();

    HandOverBroker(MemoryBroker delegate) {
      super(delegate);
    }

    @Override
    public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
      this.handler = handler;
      consumersStarted.incrementAndGet();
      return new Consumption() {
        @Override
        public void stopFetching(Duration timeout) {}

        @Override
        public void close() {
          RuntimeException failure = closeFailure.getAndSet(null);
          if (failure != null) {
            throw failure;
          }
        }
      };
    }

    /**
     * Reserves a slot and hands {@code delivery} over as brokers must: a throw means not handed
     * over, so the slot goes back here. Returns what was thrown, or null.
     */
    @Nullable Throwable handOver(Delivery delivery) throws InterruptedException {
      return handOver(awaitHandler(), delivery);
    }

    /** As {@link #handOver(Delivery)}, to the consumer of {@code h}. */
    static @Nullable Throwable handOver(DeliveryHandler h, Delivery delivery)
        throws InterruptedException {
      assertThat(h.reserve(1)).isEqualTo(1);
      try {
        h.handle(delivery);
        return null;
      } catch (Throwable t) {
        h.release(1);
        return t;
      }
    }

    DeliveryHandler awaitHandler() {
      await().atMost(TIMEOUT).until(() -> handler != null);
      return handler;
    }
  }

  /** A message whose requeue throws {@code requeueError}, when given one; records requeues. */
  private static final class Message implements Delivery {
    final @Nullable Error requeueError;
    final List<Duration> requeues = new CopyOnWriteArrayList<>();

    Message(@Nullable Error requeueError) {
      this.requeueError = requeueError;
    }

    @Override
    public byte[] body() {
      return "{}".getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String queue() {
      return CONFIG.defaultQueue();
    }

    @Override
    public void ack() {}

    @Override
    public void requeue(Duration delay) {
      requeues.add(delay);
      if (requeueError != null) {
        throw requeueError;
      }
    }

    @Override
    public void deadLetter(String reason) {}
  }

  private final MemoryBroker memory = MemoryBroker.create(CONFIG, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(CONFIG, Clock.systemUTC());
  private final HandOverBroker broker = new HandOverBroker(memory);
  private final Server server =
      Server.builder().config(CONFIG).broker(broker).backend(backend).build();

  @AfterEach
  void tearDown() {
    server.close();
    memory.close();
    backend.close();
  }

  /** The worker's free slots, counted by reserving them all (then given back). */
  private static int freeSlots(DeliveryHandler handler) throws InterruptedException {
    int free = handler.reserve(Integer.MAX_VALUE, Duration.ZERO);
    handler.release(free);
    return free;
  }

  /**
   * The deliveries the handler counts as in progress (what closes a retired consumer once its last
   * delivery has settled); private to the worker, so read by reflection.
   */
  private static int inProgress(DeliveryHandler handler) throws ReflectiveOperationException {
    Field field = handler.getClass().getDeclaredField("inProgress");
    field.setAccessible(true);
    return ((AtomicInteger) field.get(handler)).get();
  }

  private Worker launchedWorker(Worker.Builder builder) {
    Worker worker = builder.concurrency(1).build();
    worker.launchAsync();
    broker.awaitHandler();
    return worker;
  }

  @Test
  void aDeliveryWithNoThreadWhoseRequeueThrowsAnErrorLeavesItsSlotToTheBroker() throws Exception {
    OutOfMemoryError requeueFailed = new OutOfMemoryError("injected: requeue");
    launchedWorker(
        server
            .workerBuilder("no-thread")
            .deliveryThreads(
                task -> {
                  throw new OutOfMemoryError("injected: unable to create a thread");
                }));
    Message message = new Message(requeueFailed);

    assertThat(broker.handOver(message)).isSameAs(requeueFailed);

    DeliveryHandler handler = broker.awaitHandler();
    assertThat(freeSlots(handler)).as("free slots of a worker of concurrency 1").isEqualTo(1);
    assertThat(inProgress(handler)).as("deliveries in progress").isZero();
  }

  @Test
  void aDeliveryWithNoThreadGoesBackToTheBrokerAndFreesItsSlot() throws Exception {
    launchedWorker(
        server
            .workerBuilder("no-thread")
            .requeueBackoff(new Backoff(Duration.ofMillis(250), Duration.ofSeconds(1)))
            .deliveryThreads(
                task -> {
                  throw new OutOfMemoryError("injected: unable to create a thread");
                }));
    Message message = new Message(null);

    assertThat(broker.handOver(message)).as("thrown by the hand-over").isNull();

    DeliveryHandler handler = broker.awaitHandler();
    assertThat(message.requeues).containsExactly(Duration.ofMillis(250));
    assertThat(freeSlots(handler)).as("free slots of a worker of concurrency 1").isEqualTo(1);
    assertThat(inProgress(handler)).as("deliveries in progress").isZero();
  }

  @Test
  void aDeliveryAfterAnAbruptQuitWhoseRequeueThrowsAnErrorIsSettledAndLeavesItsSlotToTheBroker()
      throws Exception {
    OutOfMemoryError requeueFailed = new OutOfMemoryError("injected: requeue");
    Worker worker = launchedWorker(server.workerBuilder("abrupt"));
    worker.quitAbruptly();
    Message message = new Message(requeueFailed);

    assertThat(broker.handOver(message)).isSameAs(requeueFailed);

    DeliveryHandler handler = broker.awaitHandler();
    assertThat(message.requeues).as("given back, not run").containsExactly(Duration.ZERO);
    assertThat(freeSlots(handler)).as("free slots of a worker of concurrency 1").isEqualTo(1);
    assertThat(inProgress(handler)).as("deliveries in progress").isZero();
  }

  @Test
  void aDeliveryRunNowAfterAnAbruptQuitWhoseRequeueThrowsAnErrorIsSettled() throws Exception {
    OutOfMemoryError requeueFailed = new OutOfMemoryError("injected: requeue");
    Worker worker = launchedWorker(server.workerBuilder("abrupt"));
    worker.quitAbruptly();
    DeliveryHandler handler = broker.awaitHandler();
    Message message = new Message(requeueFailed);

    Throwable thrown = null;
    try {
      handler.handleNow(message);
    } catch (Throwable t) {
      thrown = t;
    }

    assertThat(thrown).isSameAs(requeueFailed);
    assertThat(inProgress(handler)).as("deliveries in progress").isZero();
  }

  /**
   * The last delivery of a retired consumer settles, and closing that consumer throws. The delivery
   * had gone back to its broker and its slot was freed, yet the close's throw left the hand-over:
   * the broker took the message back a second time and freed the slot again (a worker of
   * concurrency 1 then had two free slots). Now the close failure is logged and the hand-over
   * returns: settled once, freed once.
   */
  @Test
  void aRetiredConsumerWhoseCloseThrowsAfterItsLastDeliverySettledLeavesItSettledOnce()
      throws Exception {
    CountDownLatch inThreadFactory = new CountDownLatch(1);
    CountDownLatch consumerRetired = new CountDownLatch(1);
    launchedWorker(
        server
            .workerBuilder("retired")
            .requeueBackoff(new Backoff(Duration.ofMillis(250), Duration.ofSeconds(1)))
            .deliveryThreads(
                task -> {
                  inThreadFactory.countDown();
                  awaitUninterruptibly(consumerRetired);
                  throw new OutOfMemoryError("injected: unable to create a thread");
                }));
    DeliveryHandler first = broker.awaitHandler();
    IllegalStateException closeFailed = new IllegalStateException("injected: close");
    broker.closeFailure.set(closeFailed);
    Message message = new Message(null);
    CompletableFuture<@Nullable Throwable> handedOver =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return HandOverBroker.handOver(first, message);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return e;
              }
            });
    assertThat(inThreadFactory.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();

    // the consumer ends with the delivery in progress: retired, closed once that has settled
    first.consumptionEnded(new IllegalStateException("injected: the consumer ended"));
    await().atMost(TIMEOUT).until(() -> broker.consumersStarted.get() == 2);
    consumerRetired.countDown();

    assertThat(handedOver.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
        .as("thrown by the hand-over")
        .isNull();
    assertThat(broker.closeFailure.get()).as("the retired consumer's close was tried").isNull();
    assertThat(message.requeues).as("given back once").containsExactly(Duration.ofMillis(250));
    assertThat(freeSlots(first)).as("free slots of a worker of concurrency 1").isEqualTo(1);
    assertThat(inProgress(first)).as("deliveries in progress").isZero();
  }

  /**
   * A consumer whose close throws while the worker stops. The stop ended half-way: {@code quit()}
   * threw, the worker's future never completed, and every later stop (the server's close) waited on
   * it for ever. Now the close failure is logged and the stop completes.
   */
  @Test
  void aConsumerWhoseCloseThrowsLetsTheWorkerStop() {
    Worker worker = launchedWorker(server.workerBuilder("close-fails"));
    broker.closeFailure.set(new IllegalStateException("injected: close"));
    try {
      assertThatCode(worker::quit).doesNotThrowAnyException();
    } finally {
      worker.quitAbruptly(); // on the old code, so that the server's close does not wait for ever
    }

    assertThat(broker.closeFailure.get()).as("the consumer's close was tried").isNull();
    assertThat(worker.launchAsync()).as("the worker's future").isCompleted();
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    boolean interrupted = false;
    while (true) {
      try {
        if (!latch.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new AssertionError("the test never let the thread factory go on");
        }
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
