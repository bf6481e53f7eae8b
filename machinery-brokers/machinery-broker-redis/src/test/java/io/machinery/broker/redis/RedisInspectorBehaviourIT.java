package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Arg;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.client.redis.RedisKeys;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.spi.Consumption;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.spi.QueueStats;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the {@link RedisInspector} does beyond the inspector contract: where the age of a queue
 * comes from, how Go's shared {@code delayed_tasks} set is split by queue, concurrent requeues,
 * dead letters it cannot requeue, and the registry of consumed queues.
 */
class RedisInspectorBehaviourIT {
  private final String url = TestEndpoints.redisUrl();
  private final String queue = "insp_b_" + UUID.randomUUID().toString().substring(0, 8);
  private final String other = queue + "_other";
  private final Config config = Config.builder().broker(url).defaultQueue(queue).build();
  private final ManualClock clock = ManualClock.at(Instant.now());
  private final RedisSession redis = RedisSession.open(url, config);
  private final RedisBroker broker = RedisBroker.builder(config).clock(clock).build();
  private final Inspector inspector = broker.inspector().orElseThrow();

  @AfterEach
  void tearDown() {
    for (String q : List.of(queue, other)) {
      List<String> keys = new ArrayList<>(redis.await(redis.commands().keys("{" + q + "}:*")));
      keys.add(q);
      redis.await(redis.commands().del(keys.toArray(new String[0])));
      redis.await(
          redis
              .commands()
              .srem(
                  RedisKeys.tagged("machinery:control", "queues"),
                  q.getBytes(StandardCharsets.UTF_8)));
    }
    byte[][] delayed =
        broker.delayedTasks().stream()
            .filter(t -> t.routingKey().startsWith(queue))
            .map(WireCodec::encode)
            .toArray(byte[][]::new);
    if (delayed.length > 0) {
      redis.await(redis.commands().zrem(config.redis().delayedTasksKey(), delayed));
    }
    broker.close();
    redis.close();
  }

  private Signature publish(String routingKey, Instant eta) {
    Signature task =
        Signature.builder("add")
            .routingKey(routingKey)
            .eta(eta == null ? null : eta.atOffset(ZoneOffset.UTC))
            .build();
    broker.publish(task, WireCodec.encode(task));
    return task;
  }

  @Test
  void theAgeOfAQueueGrowsWhileItsHeadStaysAndRestartsWhenTheHeadMoves() {
    publish(queue, null);
    publish(queue, null);

    assertThat(inspector.queue(queue).oldestAge()).as("first seen now").contains(Duration.ZERO);
    clock.advance(Duration.ofMinutes(5));
    assertThat(inspector.queue(queue).oldestAge()).contains(Duration.ofMinutes(5));

    redis.await(redis.commands().lpop(queue)); // a worker takes the head
    assertThat(inspector.queue(queue).oldestAge()).as("a new head").contains(Duration.ZERO);
    clock.advance(Duration.ofSeconds(7));
    assertThat(inspector.queue(queue).oldestAge()).contains(Duration.ofSeconds(7));

    redis.await(redis.commands().lpop(queue));
    assertThat(inspector.queue(queue).oldestAge()).as("nothing waits").isEmpty();
  }

  @Test
  void aHeadWithAPastEtaIsAsOldAsItsEta() {
    Instant due =
        clock
            .instant()
            .minus(Duration.ofMinutes(10))
            .truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    publish(queue, due); // a due ETA goes straight to the queue, as a promoted task does

    assertThat(inspector.queue(queue).oldestAge()).contains(Duration.ofMinutes(10));
  }

  @Test
  void delayedTasksAreCountedAndListedPerQueueFromTheSharedSet() {
    Instant later = clock.instant().plus(Duration.ofHours(1));
    String mine = publish(queue, later).uuid();
    String theirs1 = publish(other, later.plusSeconds(1)).uuid();
    String theirs2 = publish(other, later.plusSeconds(2)).uuid();

    assertThat(inspector.queue(queue).delayed()).isEqualTo(1);
    assertThat(inspector.queue(other).delayed()).isEqualTo(2);
    assertThat(inspector.delayed(queue, 0, 10)).extracting(Signature::uuid).containsExactly(mine);
    assertThat(inspector.delayed(other, 0, 10))
        .extracting(Signature::uuid)
        .containsExactly(theirs1, theirs2);
    assertThat(inspector.delayed(other, 1, 1)).extracting(Signature::uuid).containsExactly(theirs2);
  }

  @Test
  void aDelayedSetOfSeveralSlicesIsCountedAndPagedWhole() {
    Instant later = clock.instant().plus(Duration.ofHours(1));
    int theirs = RedisInspector.DELAYED_SLICE + 500;
    List<io.lettuce.core.ScoredValue<byte[]>> members = new ArrayList<>();
    for (int i = 0; i < theirs; i++) {
      Signature task = Signature.builder("add").routingKey(other).build();
      members.add(
          io.lettuce.core.ScoredValue.just(
              RedisBroker.nanos(later.plusMillis(i)), WireCodec.encode(task)));
    }
    redis.await(
        redis
            .commands()
            .zadd(
                config.redis().delayedTasksKey(),
                members.toArray(new io.lettuce.core.ScoredValue[0])));
    List<String> mine = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      mine.add(
          publish(queue, later.plus(Duration.ofMinutes(10 + i)))
              .uuid()); // after all of theirs: the last slice
    }

    assertThat(inspector.queue(queue).delayed()).isEqualTo(3);
    assertThat(inspector.queue(other).delayed()).isEqualTo(theirs);
    assertThat(inspector.delayed(queue, 0, 10))
        .extracting(Signature::uuid)
        .containsExactlyElementsOf(mine);
    assertThat(inspector.delayed(queue, 1, 1))
        .extracting(Signature::uuid)
        .containsExactly(mine.get(1));
    assertThat(inspector.delayed(other, RedisInspector.DELAYED_SLICE - 1, 3)).hasSize(3);
  }

  @Test
  void twoOperatorsRequeueingEverythingAtOnceRequeueEachLetterOnce() throws Exception {
    int letters = 300; // more than one repair page
    List<String> uuids = new ArrayList<>();
    for (int i = 0; i < letters; i++) {
      Signature task = Signature.builder("add").routingKey(queue).build();
      uuids.add(task.uuid());
      byte[] envelope =
          new DeadLetter(queue, "failed " + i, "c", clock.instant(), WireCodec.encode(task))
              .toJson();
      redis.await(redis.commands().rpush(new QueueKeys(queue).deadLetters(), envelope));
    }
    try (RedisBroker second = RedisBroker.create(config)) {
      Inspector other = second.inspector().orElseThrow();
      CountDownLatch start = new CountDownLatch(1);
      CompletableFuture<Integer> a =
          CompletableFuture.supplyAsync(
              () -> {
                await(start);
                return inspector.requeueDeadLetters(queue, e -> true);
              });
      CompletableFuture<Integer> b =
          CompletableFuture.supplyAsync(
              () -> {
                await(start);
                return other.requeueDeadLetters(queue, e -> true);
              });
      start.countDown();

      assertThat(a.get() + b.get()).isEqualTo(letters);
    }
    QueueStats stats = inspector.queue(queue);
    assertThat(stats.pending()).isEqualTo(letters);
    assertThat(stats.deadLettered()).isZero();
    assertThat(inspector.pending(queue, 0, letters))
        .extracting(Signature::uuid)
        .containsExactlyInAnyOrderElementsOf(uuids);
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aLetterThatKeptOnlyAPreviewIsListedButNeverRequeued() {
    byte[] huge =
        WireCodec.encode(
            Signature.builder("add").routingKey(queue).args(Arg.of("x".repeat(3000))).build());
    byte[] preview = DeadLetter.of(queue, "too big", "c", clock.instant(), huge, 2048).toJson();
    Signature fine = Signature.builder("add").routingKey(queue).build();
    byte[] whole =
        new DeadLetter(queue, "failed", "c", clock.instant(), WireCodec.encode(fine)).toJson();
    redis.await(redis.commands().rpush(new QueueKeys(queue).deadLetters(), preview, whole));

    List<DeadLetterEntry> listed = inspector.deadLetters(queue, 0, 10);
    assertThat(listed).extracting(DeadLetterEntry::reason).containsExactly("too big", "failed");
    assertThat(listed.get(0).signature()).as("a preview is not a task").isEmpty();
    assertThat(listed).extracting(DeadLetterEntry::id).doesNotHaveDuplicates();

    assertThat(inspector.requeueDeadLetters(queue, e -> true)).isEqualTo(1);
    assertThat(inspector.pending(queue, 0, 10))
        .extracting(Signature::uuid)
        .containsExactly(fine.uuid());
    assertThat(inspector.deadLetters(queue, 0, 10))
        .extracting(DeadLetterEntry::reason)
        .containsExactly("too big");
    assertThat(inspector.deleteDeadLetters(queue, e -> e.reason().equals("too big"))).isEqualTo(1);
    assertThat(inspector.queue(queue).deadLettered()).isZero();
  }

  @Test
  void theInspectorOfAClosedBrokerSaysSo() {
    RedisBroker closed = RedisBroker.create(config);
    Inspector closedInspector = closed.inspector().orElseThrow();
    closed.close();

    assertThatThrownBy(() -> closedInspector.queue(queue))
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(closedInspector::queues)
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void aQueueThisBrokerConsumedIsListedBesideTheDefaultQueue() {
    publish(other, null);
    assertThat(inspector.queues())
        .extracting(QueueStats::queue)
        .contains(queue)
        .doesNotContain(other);

    Consumption consumer = broker.startConsuming("insp-b", other, new RecordingHandler(0));
    try {
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  inspector.queues().stream()
                      .anyMatch(s -> s.queue().equals(other) && s.pending() == 1));
    } finally {
      consumer.close();
    }
  }
}
