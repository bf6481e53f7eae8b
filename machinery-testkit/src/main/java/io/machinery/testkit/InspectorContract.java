package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link Inspector} passes. Subclass it with one factory method, as {@link
 * BrokerContract}:
 *
 * <pre>{@code
 * class MemoryInspectorTest extends InspectorContract {
 *   protected Broker createBroker(Config config) { return MemoryBroker.create(config, Clock.systemUTC()); }
 * }
 * }</pre>
 *
 * <p>Each test runs on its own default queue ({@code insp_<random>}); the broker is closed after
 * it.
 */
public abstract class InspectorContract {
  protected static final Duration PATIENCE = Duration.ofSeconds(20);

  protected Config config;
  protected Broker broker;
  protected Inspector inspector;
  protected String queue;
  private final List<Consumption> consumers = new ArrayList<>();

  /**
   * Builds the broker under test for {@code config} (whose default queue is unique to the test).
   */
  protected abstract Broker createBroker(Config config);

  /**
   * Whether the inspector lists pending tasks. One that cannot (SQS: reading a message hides it
   * from workers and counts a receive) is held to refusing clearly with {@link
   * UnsupportedOperationException}, after checking its arguments.
   */
  protected boolean listsPending() {
    return true;
  }

  /**
   * Whether the inspector lists delayed tasks; one that cannot (SQS, Pub/Sub) is held to refusing
   * clearly.
   */
  protected boolean listsDelayed() {
    return true;
  }

  /**
   * Whether the inspector reads queue sizes ({@link Inspector#queue}, {@link Inspector#queues}).
   * One that cannot (Pub/Sub: its API has no message counts) is held to refusing clearly; the tests
   * then count through the listings.
   */
  protected boolean countsSizes() {
    return true;
  }

  private long pendingNow() {
    return countsSizes()
        ? inspector.queue(queue).pending()
        : inspector.pending(queue, 0, 1000).size();
  }

  private long deadLetteredNow() {
    return countsSizes()
        ? inspector.queue(queue).deadLettered()
        : inspector.deadLetters(queue, 0, 1000).size();
  }

  /** The configuration tests start from; override to point at a server. */
  protected Config baseConfig() {
    return Config.DEFAULT;
  }

  @BeforeEach
  void createInspectorUnderTest() {
    config = BrokerContract.uniqueQueue(baseConfig(), "insp_");
    queue = config.defaultQueue();
    broker = createBroker(config);
    inspector =
        broker.inspector().orElseThrow(() -> new AssertionError(broker + " has no inspector"));
  }

  @AfterEach
  void closeBrokerUnderTest() {
    consumers.forEach(Consumption::close);
    broker.close();
  }

  private Signature publish(int value, @org.jspecify.annotations.Nullable Instant eta) {
    Signature.Builder builder =
        Signature.builder("add").args(Arg.of((long) value)).headers(java.util.Map.of());
    Signature task = (eta == null ? builder : builder.eta(eta)).build();
    Signature routed = task.toBuilder().routingKey(broker.routingKeyFor(task)).build();
    broker.publish(routed, WireCodec.encode(routed));
    return routed;
  }

  private List<String> publish(int count) {
    List<String> uuids = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      uuids.add(publish(i, null).uuid());
    }
    return uuids;
  }

  private static List<String> uuids(List<Signature> tasks) {
    return tasks.stream().map(Signature::uuid).toList();
  }

  @Test
  void aQueueNeverUsedIsEmpty() {
    assertThat(inspector.countsQueues()).isEqualTo(countsSizes());
    if (countsSizes()) {
      QueueStats stats = inspector.queue(queue);
      assertThat(stats.queue()).isEqualTo(queue);
      assertThat(List.of(stats.pending(), stats.delayed(), stats.deadLettered())).containsOnly(0L);
      assertThat(stats.oldestAge()).isEmpty();
      assertThat(inspector.pendingCount(queue)).isZero();
    } else {
      assertThatThrownBy(() -> inspector.queue(queue))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> inspector.queues())
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> inspector.pendingCount(queue))
          .isInstanceOf(UnsupportedOperationException.class);
    }
    if (listsPending()) {
      assertThat(inspector.pending(queue, 0, 10)).isEmpty();
    } else {
      assertThatThrownBy(() -> inspector.pending(queue, 0, 10))
          .isInstanceOf(UnsupportedOperationException.class);
    }
    if (listsDelayed()) {
      assertThat(inspector.delayed(queue, 0, 10)).isEmpty();
    } else {
      assertThatThrownBy(() -> inspector.delayed(queue, 0, 10))
          .isInstanceOf(UnsupportedOperationException.class);
    }
    assertThat(inspector.deadLetters(queue, 0, 10)).isEmpty();
  }

  @Test
  void waitingTasksAreCountedAndListedOldestFirstInPages() {
    List<String> sent = publish(5);

    await().atMost(PATIENCE).until(() -> pendingNow() == 5);
    if (countsSizes()) {
      assertThat(inspector.queue("").queue()).as("empty means the default queue").isEqualTo(queue);
      assertThat(inspector.pendingCount(queue)).isEqualTo(5);
      assertThat(inspector.pendingCount("")).as("empty means the default queue").isEqualTo(5);
      inspector.queue(queue).oldestAge().ifPresent(age -> assertThat(age.isNegative()).isFalse());
      assertThat(inspector.queues()).extracting(QueueStats::queue).contains(queue);
    }
    if (listsPending()) {
      assertThat(uuids(inspector.pending(queue, 0, 2))).isEqualTo(sent.subList(0, 2));
      assertThat(uuids(inspector.pending(queue, 2, 10))).isEqualTo(sent.subList(2, 5));
      assertThat(inspector.pending(queue, 5, 10)).isEmpty();
      assertThat(uuids(inspector.pending("", 0, 10)))
          .as("empty means the default queue")
          .isEqualTo(sent);
    } else {
      assertThatThrownBy(() -> inspector.pending(queue, 0, 10))
          .isInstanceOf(UnsupportedOperationException.class);
    }
  }

  @Test
  void delayedTasksAreCountedAndListedSoonestFirst() {
    Instant now = Instant.now();
    String later = publish(1, now.plus(Duration.ofHours(2))).uuid();
    String sooner = publish(2, now.plus(Duration.ofHours(1))).uuid();

    if (countsSizes()) {
      await().atMost(PATIENCE).until(() -> inspector.queue(queue).delayed() == 2);
      assertThat(inspector.queue(queue).pending()).isZero();
    }
    if (listsDelayed()) {
      await().atMost(PATIENCE).until(() -> inspector.delayed(queue, 0, 10).size() == 2);
      assertThat(uuids(inspector.delayed(queue, 0, 10))).containsExactly(sooner, later);
      assertThat(uuids(inspector.delayed(queue, 1, 10))).containsExactly(later);
    } else {
      assertThatThrownBy(() -> inspector.delayed(queue, 0, 10))
          .isInstanceOf(UnsupportedOperationException.class);
    }
    if (listsPending()) {
      assertThat(inspector.pending(queue, 0, 10)).as("delayed tasks are not pending").isEmpty();
    }
  }

  @Test
  void purgeRemovesTheWaitingTasksButNotTheDelayedOnes() {
    publish(3);
    publish(9, Instant.now().plus(Duration.ofHours(1)));
    // sizes may lag (RabbitMQ's delay-queue counts are the management plugin's statistics, sampled
    // every 5 s)
    await()
        .atMost(PATIENCE)
        .until(
            () -> pendingNow() == 3 && (!countsSizes() || inspector.queue(queue).delayed() == 1));

    assertThat(inspector.purge(queue)).isEqualTo(3);

    assertThat(pendingNow()).isZero();
    if (countsSizes()) {
      assertThat(inspector.queue(queue).delayed()).isEqualTo(1);
    }
  }

  @Test
  void deadLettersAreListedWithTheirReasonsThenRequeuedOneByOneOrDeletedAll() throws Exception {
    List<String> sent = publish(3);
    RecordingHandler handler = new RecordingHandler(10);
    Consumption consumer = broker.startConsuming("insp-kit", queue, handler);
    consumers.add(consumer);
    for (int i = 0; i < 3; i++) {
      Delivery delivery = handler.next(PATIENCE.toSeconds());
      if (delivery == null) {
        throw new AssertionError("no delivery within " + PATIENCE);
      }
      handler.deadLetter(delivery, "reason " + WireCodec.decodeSignature(delivery.body()).uuid());
    }
    consumer.stopFetching(Duration.ofSeconds(5));
    await().atMost(PATIENCE).until(() -> deadLetteredNow() == 3);

    List<DeadLetterEntry> letters = inspector.deadLetters(queue, 0, 10);
    assertThat(letters)
        .hasSize(3)
        .allSatisfy(
            letter -> {
              assertThat(letter.queue()).isEqualTo(queue);
              assertThat(letter.reason())
                  .isEqualTo("reason " + letter.signature().orElseThrow().uuid());
            });
    assertThat(letters)
        .extracting(l -> l.signature().orElseThrow().uuid())
        .containsExactlyInAnyOrderElementsOf(sent);
    assertThat(inspector.deadLetters(queue, 1, 1)).hasSize(1);

    DeadLetterEntry first = letters.get(0);
    assertThat(inspector.requeueDeadLetters(queue, e -> e.id().equals(first.id()))).isEqualTo(1);
    assertThat(inspector.requeueDeadLetters(queue, e -> e.id().equals(first.id())))
        .as("requeued once")
        .isZero();
    await().atMost(PATIENCE).until(() -> pendingNow() == 1);
    if (listsPending()) {
      assertThat(uuids(inspector.pending(queue, 0, 10)))
          .containsExactly(first.signature().orElseThrow().uuid());
    }
    assertThat(deadLetteredNow()).isEqualTo(2);

    assertThat(inspector.deleteDeadLetters(queue, e -> true)).isEqualTo(2);
    assertThat(deadLetteredNow()).isZero();
    assertThat(inspector.deadLetters(queue, 0, 10)).isEmpty();
  }

  @Test
  void badPagesAreRefused() {
    assertThatThrownBy(() -> inspector.pending(queue, -1, 10))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> inspector.pending(queue, 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> inspector.deadLetters(queue, 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
