package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a run records once its broker's hold on the message broke ({@link Delivery#stillHeld()}
 * false): nothing when another run already stored SUCCESS, FAILURE or RETRY; its own outcome when
 * none did. The hold is broken by a fake ({@code Breakable}): no server lets a test break it at a
 * chosen moment inside one process; each broker's {@code PausedWorkerKit} breaks it for real
 * (SIGSTOP).
 */
class BrokenHoldTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final AtomicBoolean held = new AtomicBoolean(true);
  private final AtomicBoolean redelivered = new AtomicBoolean();
  private final CountDownLatch handOver = new CountDownLatch(1);
  private volatile boolean gated;
  private final List<String> settlements = new CopyOnWriteArrayList<>();
  private final List<TaskOutcome> outcomes = new CopyOnWriteArrayList<>();
  private final AtomicReference<Signature> running = new AtomicReference<>();
  private MemoryBroker memory;
  private MemoryBackend backend;
  private FaultyBackend serversBackend;
  private Server server;

  @BeforeEach
  void setUp() {
    memory = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    backend = MemoryBackend.create();
    serversBackend = new FaultyBackend(backend); // fails nothing: counts the runs ended
    DelegatingBroker breaking =
        new DelegatingBroker(memory) {
          @Override
          public Consumption startConsuming(String tag, String queue, DeliveryHandler handler) {
            return memory.startConsuming(
                tag, queue, WrappingHandler.handler(handler, Breakable::new));
          }
        };
    server =
        Server.builder()
            .broker(breaking)
            .backend(serversBackend)
            .listener(
                new TaskListener() {
                  @Override
                  public void finished(TaskOutcome outcome) {
                    outcomes.add(outcome);
                  }
                })
            .build();
    server.workerBuilder("w").concurrency(1).build().launchAsync();
  }

  @AfterEach
  void tearDown() {
    server.close();
    backend.close();
    memory.close();
  }

  @Test
  void aRunWhoseHoldBrokeRecordsNothingOnceAnotherRunStoredSuccess() {
    server.registerTask(
        "late",
        TaskFunction.of(
            () -> {
              held.set(false); // paused past its lease: the broker handed the message on
              backend.setStateSuccess(running.get(), List.of(TaskResult.of(7L))); // the copy's
              throw new IllegalStateException("fails after the pause");
            }));
    Signature late = send(Signature.builder("late").retryCount(2).build());

    TaskOutcome outcome = awaitOutcome();
    assertThat(outcome.state()).isEqualTo(State.RETRY);
    assertThat(outcome.recorded()).as("recorded").isFalse();
    assertThat(backend.getState(late.uuid()).orElseThrow().results())
        .containsExactly(TaskResult.of(7L));
    assertThat(settlements).as("settled nothing: the copy's settlement counts").isEmpty();
    assertThat(memory.delayedTasks()).as("no retry published").isEmpty();
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(serversBackend.calls(FaultyBackend.Op.RUN_ENDED))
                    .as("the run without a final state is ended in the backend")
                    .isEqualTo(1));
  }

  @Test
  void aRunWhoseHoldBrokeKeepsAnotherRunsFailure() {
    server.registerTask(
        "late",
        TaskFunction.of(
            () -> {
              held.set(false);
              backend.setStateFailure(running.get(), "the copy failed");
              return 5L;
            }));
    Signature late = send(Signature.create("late"));

    TaskOutcome outcome = awaitOutcome();
    assertThat(outcome.state()).isEqualTo(State.SUCCESS);
    assertThat(outcome.recorded()).as("recorded").isFalse();
    TaskState stored = backend.getState(late.uuid()).orElseThrow();
    assertThat(stored.state()).isEqualTo(State.FAILURE);
    assertThat(stored.error()).isEqualTo("the copy failed");
    assertThat(settlements).isEmpty();
  }

  /**
   * A task that runs longer than its hold every time (past Pub/Sub's MaxExtension, RabbitMQ's
   * consumer_timeout) must still end: the first run to finish records its outcome.
   */
  @Test
  void aRunWhoseHoldBrokeRecordsItsOutcomeWhenNoOtherRunFinished() {
    server.registerTask(
        "long",
        TaskFunction.of(
            () -> {
              held.set(false);
              return 5L;
            }));
    Signature longTask = send(Signature.create("long"));

    TaskOutcome outcome = awaitOutcome();
    assertThat(outcome.state()).isEqualTo(State.SUCCESS);
    assertThat(outcome.recorded()).as("recorded").isTrue();
    assertThat(server.asyncResult(longTask.uuid()).get(TIMEOUT)).containsExactly(5L);
    assertThat(settlements).containsExactly("ack");
  }

  /**
   * A message that comes back to a worker after its earlier run stored SUCCESS (the worker died
   * before the callbacks) carries on from that SUCCESS; its hold breaking meanwhile is no sign that
   * another copy did the rest, since the SUCCESS found is the one it carries on from. Before, it
   * took that SUCCESS for another copy's and dropped the callback, and as its broker still held the
   * message no copy ever sent it (found by SqsDynamoDbDagKillIT: DAG joins never sent).
   */
  @Test
  void aRunCarryingOnFromAStoredSuccessSendsItsCallbackThoughItsHoldBroke() {
    List<Long> ran = new CopyOnWriteArrayList<>();
    server.registerTask("done", TaskFunction.of(() -> ran.add(1L)));
    server.registerTask("next", TaskFunction.of(Long.class, result -> ran.add(result)));
    gated = true;
    held.set(false);
    redelivered.set(true);
    Signature done =
        send(Signature.builder("done").onSuccess(List.of(Signature.create("next"))).build());
    backend.setStateSuccess(done, List.of(TaskResult.of(7L))); // the earlier run's
    handOver.countDown();

    await()
        .atMost(TIMEOUT)
        .untilAsserted(
            () ->
                assertThat(ran).as("the callback ran with the stored result").containsExactly(7L));
    assertThat(settlements).as("the message").contains("ack");
  }

  private Signature send(Signature signature) {
    running.set(signature);
    server.sendTask(signature);
    return signature;
  }

  private TaskOutcome awaitOutcome() {
    await().atMost(TIMEOUT).until(() -> !outcomes.isEmpty());
    await().atMost(TIMEOUT).until(() -> !held.get()); // the function ran
    return outcomes.get(0);
  }

  /** Held as long as {@link #held} says; notes how it was settled. */
  private final class Breakable extends ForwardingDelivery {
    Breakable(Delivery delivery) {
      super(delivery);
      if (gated) { // the test stores what the run must find first
        try {
          handOver.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    @Override
    public boolean stillHeld() {
      return held.get();
    }

    @Override
    public boolean redelivered() {
      return redelivered.get() || super.redelivered();
    }

    @Override
    public void ack() {
      settlements.add("ack");
      super.ack();
    }

    @Override
    public void requeue(Duration delay) {
      settlements.add("requeue");
      super.requeue(delay);
    }

    @Override
    public void requeue(Duration delay, byte[] replacement) {
      settlements.add("requeue");
      super.requeue(delay, replacement);
    }

    @Override
    public void deadLetter(String reason) {
      settlements.add("dead-letter");
      super.deadLetter(reason);
    }
  }
}
