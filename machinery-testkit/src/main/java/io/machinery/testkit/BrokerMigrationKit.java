package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.MigratingBroker;
import io.machinery.RetryTaskLaterException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.TaskListener;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a {@link MigratingBroker} between two real brokers must do, beyond {@link BrokerContract}
 * (which a subclass also runs on it): tasks left in the old broker run, sends and retries go to the
 * new one, and a task from the old broker that is dead-lettered stays there (listed and deleted
 * through the pair by its {@code old-} id).
 *
 * <p>Each test has a server still on the old broker alone (a process not yet moved) and a server on
 * the migrating broker, sharing one result backend, as in a cluster halfway through its move.
 */
public abstract class BrokerMigrationKit {
  protected static final Duration PATIENCE = Duration.ofSeconds(30);

  protected Config config;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Broker oldAlone;
  private MigratingBroker migrating;
  private Backend backend;
  private Server notYetMoved;
  private Server moved;
  private final AtomicInteger flakyRuns = new AtomicInteger();
  private final AtomicInteger retriesSent = new AtomicInteger();

  /** The configuration tests start from (its default queue is made unique per test). */
  protected abstract Config baseConfig();

  /** A broker of the kind the cluster moves away from, for {@code config}'s queue. */
  protected abstract Broker createOldBroker(Config config);

  /** A broker of the kind the cluster moves to, for {@code config}'s queue. */
  protected abstract Broker createNewBroker(Config config);

  /** The result backend both servers share. */
  protected abstract Backend createBackend(Config config);

  @BeforeEach
  void startBothServers() {
    config = BrokerContract.uniqueQueue(baseConfig(), "migration_");
    backend = createBackend(config);
    oldAlone = createOldBroker(config);
    migrating = MigratingBroker.of(createOldBroker(config), createNewBroker(config));
    notYetMoved = Server.builder().config(config).broker(oldAlone).backend(backend).build();
    moved =
        Server.builder()
            .config(config)
            .broker(migrating)
            .backend(backend)
            .listener(
                new TaskListener() {
                  @Override
                  public void sent(Signature signature, @Nullable Throwable error) {
                    if (signature.name().equals("flaky") && error == null) {
                      retriesSent.incrementAndGet();
                    }
                  }
                })
            .build();
    for (Server server : List.of(notYetMoved, moved)) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, Long::sum));
      server.registerTask(
          "flaky",
          TaskFunction.of(
              Long.class,
              value -> {
                if (flakyRuns.incrementAndGet() == 1) {
                  throw new RetryTaskLaterException("not yet", Duration.ofHours(1));
                }
                return value;
              }));
    }
  }

  @AfterEach
  void closeEverything() throws Exception {
    moved.close();
    notYetMoved.close();
    for (AutoCloseable c : toClose) {
      c.close();
    }
    migrating.close();
    oldAlone.close();
    backend.close();
  }

  private static Signature add(long a, long b) {
    return Signature.create("add", Arg.of(a), Arg.of(b));
  }

  /** Tasks waiting in a broker's queue, as its inspector counts them, or as its listing shows. */
  private long waitingIn(Broker broker) {
    Inspector inspector =
        broker.inspector().orElseThrow(() -> new AssertionError(broker + " has no inspector"));
    return inspector.countsQueues()
        ? inspector.pendingCount(config.defaultQueue())
        : inspector.pending(config.defaultQueue(), 0, 1000).size();
  }

  private long delayedIn(Broker broker) {
    Inspector inspector = broker.inspector().orElseThrow();
    return inspector.countsQueues()
        ? inspector.queue(config.defaultQueue()).delayed()
        : inspector.delayed(config.defaultQueue(), 0, 1000).size();
  }

  @Test
  void tasksLeftInTheOldBrokerRunBesideTasksSentToTheNewOne() {
    List<AsyncResult> results = new ArrayList<>();
    for (long i = 0; i < 20; i++) {
      results.add(notYetMoved.sendTask(add(i, 1)));
    }
    Signature later = add(100, 1).toBuilder().eta(Instant.now().plusMillis(1500)).build();
    results.add(notYetMoved.sendTask(later));
    await().atMost(PATIENCE).until(() -> waitingIn(migrating.from()) == 20);

    for (long i = 0; i < 20; i++) {
      results.add(moved.sendTask(add(i, 1000)));
    }
    await().atMost(PATIENCE).until(() -> waitingIn(migrating.to()) == 20);
    assertThat(waitingIn(migrating.from())).as("sends go to the new broker only").isEqualTo(20);

    moved.newWorker("migrating", 1).launchAsync();
    for (long i = 20; i < 30; i++) {
      results.add(notYetMoved.sendTask(add(i, 1)));
    }
    for (AsyncResult result : results) {
      assertThat(result.get(PATIENCE)).hasSize(1);
    }
    await().atMost(PATIENCE).until(() -> waitingIn(migrating.from()) == 0);
    assertThat(waitingIn(migrating.to())).isZero();
  }

  /**
   * Whether the new broker shows its delayed tasks (counted or listed); Pub/Sub keeps them in a
   * topic it cannot list, so there the retry test checks only that the old broker holds nothing.
   */
  protected boolean newBrokerShowsDelayedTasks() {
    return true;
  }

  @Test
  void aRetryOfATaskFromTheOldBrokerMovesToTheNewOne() {
    AsyncResult result = notYetMoved.sendTask(Signature.create("flaky", Arg.of(7L)));
    moved.newWorker("migrating", 1).launchAsync();

    // its retry is a send by the moved server (which stores PENDING again, as Go's does)
    await().atMost(PATIENCE).until(() -> retriesSent.get() == 1);
    assertThat(flakyRuns).hasValue(1);
    assertThat(result.state()).isEqualTo(State.PENDING);
    assertThat(delayedIn(migrating.from())).as("nothing went back to the old broker").isZero();
    assertThat(waitingIn(migrating.from())).isZero();
    if (newBrokerShowsDelayedTasks()) {
      await().atMost(PATIENCE).until(() -> delayedIn(migrating.to()) == 1);
    }
  }

  @Test
  void aDeadLetterOfATaskFromTheOldBrokerStaysThereAndIsRepairedThere() throws Exception {
    Signature carrier = Signature.builder("raw").routingKey(config.defaultQueue()).build();
    migrating.from().publish(carrier, "this is not a task".getBytes(StandardCharsets.UTF_8));
    Signature fresh = add(1, 2).toBuilder().routingKey(config.defaultQueue()).build();
    migrating.publish(fresh, WireCodec.encode(fresh));

    RecordingHandler handler = new RecordingHandler(2);
    toClose.add(migrating.startConsuming("kit", "", handler));
    List<Delivery> both = List.of(take(handler), take(handler));
    for (Delivery delivery : both) {
      if (new String(delivery.body(), StandardCharsets.UTF_8).equals("this is not a task")) {
        handler.deadLetter(delivery, "not JSON");
      } else {
        handler.ack(delivery);
      }
    }

    Inspector inspector = migrating.inspector().orElseThrow();
    await()
        .atMost(PATIENCE)
        .until(() -> inspector.deadLetters(config.defaultQueue(), 0, 10).size() == 1);
    DeadLetterEntry letter = inspector.deadLetters(config.defaultQueue(), 0, 10).get(0);
    assertThat(letter.id()).as("the old broker's dead letter").startsWith("old-");
    assertThat(letter.reason()).isEqualTo("not JSON");
    assertThat(migrating.from().inspector().orElseThrow().deadLetters(config.defaultQueue(), 0, 10))
        .hasSize(1);
    assertThat(migrating.to().inspector().orElseThrow().deadLetters(config.defaultQueue(), 0, 10))
        .isEmpty();
    if (inspector.countsQueues()) {
      // each broker's sizes apart, from one read of each, and their sums
      await()
          .atMost(PATIENCE)
          .until(() -> deadLetteredIn(migrating.queueSizes().orElseThrow().old()) == 1);
      MigratingBroker.QueueSizes sizes = migrating.queueSizes().orElseThrow();
      assertThat(deadLetteredIn(sizes.fresh())).as("the new broker's").isZero();
      assertThat(deadLetteredIn(sizes.summed())).as("both brokers'").isEqualTo(1);
    }

    assertThat(inspector.deleteDeadLetters(config.defaultQueue(), e -> e.id().equals(letter.id())))
        .isEqualTo(1);
    assertThat(inspector.deadLetters(config.defaultQueue(), 0, 10)).isEmpty();
  }

  /** Dead letters of the test's queue among {@code queues}. */
  private long deadLetteredIn(List<QueueStats> queues) {
    return queues.stream()
        .filter(q -> q.queue().equals(config.defaultQueue()))
        .mapToLong(QueueStats::deadLettered)
        .sum();
  }

  private static Delivery take(RecordingHandler handler) throws InterruptedException {
    Delivery delivery = handler.next(PATIENCE.toSeconds());
    if (delivery == null) {
      throw new AssertionError("no delivery within " + PATIENCE);
    }
    return delivery;
  }
}
