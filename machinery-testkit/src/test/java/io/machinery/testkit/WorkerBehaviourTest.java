package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Worker behaviour that needs to look inside the broker: dead letters, requeues, handlers,
 * shutdown.
 */
class WorkerBehaviourTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private MemoryBroker broker;
  private MemoryBackend backend;
  private Server server;

  @BeforeEach
  void setUp() {
    broker = MemoryBroker.create(config, Clock.systemUTC());
    backend = MemoryBackend.create(config, Clock.systemUTC());
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    new AcceptanceTasks().registerWith(server);
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    backend.close();
  }

  @Test
  void malformedMessagesLandInTheDeadLetterStoreWithTheirReasonAndNothingElseIsLost() {
    server.newWorker("w", 4).launchAsync();
    for (int i = 0; i < 100; i++) {
      broker.pushRaw(config.defaultQueue(), ("garbage " + i).getBytes(StandardCharsets.UTF_8));
    }
    List<Signature> good = new java.util.ArrayList<>();
    for (int i = 0; i < 100; i++) {
      good.add(server.sendTask(Signature.create("add", Arg.of((long) i), Arg.of(1L))).signature());
    }
    for (int i = 0; i < good.size(); i++) {
      assertThat(server.asyncResult(good.get(i).uuid()).get(TIMEOUT)).containsExactly(i + 1L);
    }
    await().atMost(TIMEOUT).until(() -> broker.deadLetters().size() == 100);
    assertThat(broker.deadLetters())
        .extracting(MemoryBroker.DeadLetter::reason)
        .anySatisfy(
            reason ->
                assertThat(reason)
                    .startsWith("Could not unmarshal 'garbage 0' into a task signature"))
        .allSatisfy(reason -> assertThat(reason).startsWith("Could not unmarshal 'garbage "));
  }

  @Test
  void anUnknownTaskIsRequeuedWithGrowingDelaysNotInAHotLoop() {
    List<Long> deliveredAt = new CopyOnWriteArrayList<>();
    io.machinery.spi.Broker counting =
        new CountingBroker(broker, () -> deliveredAt.add(System.nanoTime()));
    try (Server countingServer =
        Server.builder().config(config).broker(counting).backend(backend).build()) {
      countingServer.newWorker("w", 2).launchAsync();
      Signature unknown = countingServer.sendTask(Signature.create("nobody_knows_me")).signature();
      await().atMost(TIMEOUT).until(() -> deliveredAt.size() >= 4);
      // Delays of 100, 200 and 400 ms lie between the first four deliveries.
      assertThat(Duration.ofNanos(deliveredAt.get(3) - deliveredAt.get(0)))
          .isGreaterThanOrEqualTo(Duration.ofMillis(650));
      assertThat(countingServer.asyncResult(unknown.uuid()).state()).isEqualTo(State.PENDING);
      countingServer.registerTask("nobody_knows_me", TaskFunction.of(() -> "finally"));
      assertThat(countingServer.asyncResult(unknown.uuid()).get(TIMEOUT))
          .containsExactly("finally");
    }
  }

  /** Counts deliveries on their way from a broker to the worker. */
  private record CountingBroker(io.machinery.spi.Broker delegate, Runnable onDelivery)
      implements io.machinery.spi.Broker {
    @Override
    public void publish(Signature signature, byte[] message) {
      delegate.publish(signature, message);
    }

    @Override
    public String routingKeyFor(Signature signature) {
      return delegate.routingKeyFor(signature);
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

    @Override
    public io.machinery.spi.Consumption startConsuming(
        String tag, String queue, io.machinery.spi.DeliveryHandler handler) {
      return delegate.startConsuming(
          tag,
          queue,
          new io.machinery.spi.DeliveryHandler() {
            @Override
            public int reserve(int max) throws InterruptedException {
              return handler.reserve(max);
            }

            @Override
            public void release(int slots) {
              handler.release(slots);
            }

            @Override
            public void handle(io.machinery.spi.Delivery d) {
              onDelivery.run();
              handler.handle(d);
            }

            @Override
            public void handleNow(io.machinery.spi.Delivery d) {
              onDelivery.run();
              handler.handleNow(d);
            }

            @Override
            public void brokerError(Throwable error) {
              handler.brokerError(error);
            }
          });
    }
  }

  @Test
  void handlersRunAroundTheTaskAndTheErrorHandlerSeesFailures() {
    List<String> events = new CopyOnWriteArrayList<>();
    server
        .workerBuilder("w")
        .concurrency(1)
        .preTaskHandler(s -> events.add("pre " + s.name()))
        .postTaskHandler(s -> events.add("post " + s.name()))
        .errorHandler(e -> events.add("error " + e.getMessage()))
        .build()
        .launchAsync();
    server.sendTask(Signature.create("add", Arg.of(1L))).get(TIMEOUT);
    try {
      server.sendTask(Signature.create("panic")).get(TIMEOUT);
    } catch (RuntimeException expected) {
      // the failure itself is checked by the acceptance suite
    }
    await().atMost(TIMEOUT).until(() -> events.size() == 5);
    // Each task sees its own handlers in order. A post handler runs while its run settles, after
    // the slot has passed on, so "post add" may come after "pre panic" (see
    // Worker.Builder#postTaskHandler).
    assertThat(events).containsSubsequence("pre add", "post add");
    assertThat(events).containsSubsequence("pre add", "pre panic", "error oops", "post panic");
    assertThat(events)
        .containsExactlyInAnyOrder("pre add", "post add", "pre panic", "error oops", "post panic");
  }

  @Test
  void gracefulQuitWaitsForRunningTasksAndLeavesTheRestQueued() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    server.registerTask(
        "slow",
        TaskFunction.of(
            () -> {
              started.countDown();
              release.await();
              return "slow done";
            }));
    Worker worker = server.newWorker("w", 1);
    worker.launchAsync();
    Signature slow = server.sendTask(Signature.create("slow")).signature();
    Signature waiting = server.sendTask(Signature.create("add", Arg.of(1L))).signature();
    started.await();
    Thread quitter = Thread.ofVirtual().start(worker::quit);
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                quitter.getState() == Thread.State.WAITING
                    || quitter.getState() == Thread.State.TIMED_WAITING);
    release.countDown();
    quitter.join();
    assertThat(server.asyncResult(slow.uuid()).get(TIMEOUT)).containsExactly("slow done");
    assertThat(broker.pendingTasks("")).extracting(Signature::uuid).containsExactly(waiting.uuid());
  }

  @Test
  void aTaskStillRunningAfterTheGracefulTimeoutIsCancelledAndReturnedToTheQueue() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    server.registerTask(
        "stuck",
        TaskFunction.of(
            () -> {
              started.countDown();
              new CountDownLatch(1).await(); // until interrupted
              return null;
            }));
    Worker worker =
        server.workerBuilder("w").concurrency(1).gracefulTimeout(Duration.ofMillis(200)).build();
    worker.launchAsync();
    Signature stuck = server.sendTask(Signature.create("stuck")).signature();
    started.await();
    worker.quit();
    assertThat(broker.pendingTasks("")).extracting(Signature::uuid).containsExactly(stuck.uuid());
  }

  @Test
  void retriesCarryGosCountersInTheRepublishedMessage() {
    server.newWorker("w", 1).launchAsync();
    String key = "k-" + System.nanoTime();
    Signature flaky =
        Signature.builder("fail_n_times").args(Arg.of(key), Arg.of(1L)).retryCount(3).build();
    server.sendTask(flaky);
    await().atMost(TIMEOUT).until(() -> !broker.delayedTasks().isEmpty());
    Signature retry = broker.delayedTasks().get(0);
    assertThat(retry.uuid()).isEqualTo(flaky.uuid());
    assertThat(retry.retryCount()).isEqualTo(2);
    assertThat(retry.retryTimeout()).isEqualTo(1);
    assertThat(retry.eta()).isNotNull();
    assertThat(retry.headers()).containsEntry(Worker.ATTEMPT_HEADER, "2");
    assertThat(server.asyncResult(flaky.uuid()).get(TIMEOUT)).containsExactly("ok");
  }

  @Test
  void aResultThatGoCannotEncodeFailsTheTaskClearly() {
    server.registerTask("nan", TaskFunction.of(() -> Double.NaN));
    server.registerTask("object", TaskFunction.of(() -> new Object()));
    server.newWorker("w", 1).launchAsync();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> server.sendTask(Signature.create("nan")).get(TIMEOUT))
        .hasMessageContaining("unsupported value: NaN");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> server.sendTask(Signature.create("object")).get(TIMEOUT))
        .hasMessageContaining("has no Go Machinery type");
  }

  @Test
  void prePublishHandlerSeesEveryTaskAfterItsPendingState() {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (Server withHook =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .prePublishHandler(
                s -> seen.add(backend.getState(s.uuid()).orElseThrow().state() + " " + s.name()))
            .build()) {
      withHook.sendTask(Signature.create("add", Arg.of(1L)));
      assertThat(seen).containsExactly("PENDING add");
      assertThat(broker.pendingTasks("")).hasSize(1);
      assertThat(
              WireCodec.decodeSignature(WireCodec.encode(broker.pendingTasks("").get(0))).headers())
          .isEqualTo(Map.of());
    }
  }
}
