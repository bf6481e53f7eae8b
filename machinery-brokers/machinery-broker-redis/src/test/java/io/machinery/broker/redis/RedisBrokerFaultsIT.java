package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.DeliveryHandler;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The broker's answers to the reliability review's findings, each shown against a real Redis:
 * heartbeats under CPU-bound virtual threads (F5), promotion that never drops a task and never
 * parses big ones (F8, F9), bounded fetches and dead letters (F10), re-registration after a
 * blocking move (F13), delivery counts and requeue with a replacement (the SPI).
 */
class RedisBrokerFaultsIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  @RegisterExtension final RedisTestQueue testQueue = new RedisTestQueue("faults_it");

  private String queue;
  private String delayedKey;
  private Config config;
  private RedisSession redis;

  @BeforeEach
  void setUp() {
    queue = testQueue.name();
    delayedKey = testQueue.delayedKey();
    config =
        testQueue
            .config(RedisConfig.DEFAULT.withDelayedTasksPollPeriod(Duration.ofMillis(100)))
            .maxMessageBytes(64 * 1024)
            .build();
    redis = testQueue.redis();
  }

  private RedisBroker broker(Duration lease) {
    RedisBroker broker = RedisBroker.builder(config).leaseTimeout(lease).build();
    testQueue.closeLater(broker);
    return broker;
  }

  private Consumption consume(RedisBroker broker, RecordingHandler handler) {
    Consumption consumer = broker.startConsuming("faults", "", handler);
    testQueue.closeLater(consumer);
    return consumer;
  }

  private byte[] task(String name, String routingKey) {
    return WireCodec.encode(Signature.builder(name).routingKey(routingKey).build());
  }

  private static Delivery take(RecordingHandler handler) throws InterruptedException {
    Delivery delivery = handler.next(PATIENCE.toSeconds());
    assertThat(delivery).as("a delivery").isNotNull();
    return delivery;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private String consumerId() {
    return new String(
        redis.await(redis.commands().smembers("{" + queue + "}:consumers")).iterator().next(),
        StandardCharsets.UTF_8);
  }

  // ------------------------------------------------------------------------------------------------ F5, F14

  @Test
  void heartbeatsKeepTheLeaseWhileCpuBoundVirtualThreadsHoldEveryCarrier() throws Exception {
    Duration lease = Duration.ofMillis(1500);
    RedisBroker broker = broker(lease);
    consume(broker, new RecordingHandler(1));
    String leaseKey = "{" + queue + "}:lease:" + consumerId();
    int spinners = Runtime.getRuntime().availableProcessors() * 2; // more than the carrier threads
    AtomicBoolean spin = new AtomicBoolean(true);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < spinners; i++) {
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    long x = 0;
                    while (spin.get()) {
                      x += System.nanoTime() & 1; // never blocks, never yields its carrier
                    }
                    if (x == 42) {
                      System.out.print("");
                    }
                  }));
    }
    long worstAgeMillis = 0;
    boolean expired = false;
    long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    try {
      while (System.nanoTime() - end < 0) { // a platform thread samples the lease's remaining time
        long ttl = redis.await(redis.commands().pttl(leaseKey));
        if (ttl < 0) {
          expired = true;
          worstAgeMillis = Math.max(worstAgeMillis, lease.toMillis());
        } else {
          worstAgeMillis = Math.max(worstAgeMillis, lease.toMillis() - ttl);
        }
        java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(20).toNanos());
      }
    } finally {
      spin.set(false);
      for (Thread t : threads) {
        t.join();
      }
    }
    System.out.printf(
        "[RedisBrokerFaultsIT] %d CPU-bound virtual threads for 5 s: longest time since a heartbeat"
            + " %d ms (lease %d ms, heartbeat every %d ms), lease expired: %s%n",
        spinners, worstAgeMillis, lease.toMillis(), lease.dividedBy(3).toMillis(), expired);
    assertThat(expired).as("the lease expired while the worker was alive").isFalse();
    assertThat(worstAgeMillis).isLessThan(lease.toMillis() - 200);
  }

  /**
   * A clock that throws an {@link OutOfMemoryError} for the maintenance threads' first few
   * readings.
   */
  private static final class FailingClock extends java.time.Clock {
    final AtomicInteger failures = new AtomicInteger(3);

    @Override
    public java.time.ZoneId getZone() {
      return java.time.ZoneOffset.UTC;
    }

    @Override
    public java.time.Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      if (Thread.currentThread().getName().startsWith("machinery-redis-maintenance")
          && failures.getAndDecrement() > 0) {
        throw new OutOfMemoryError("simulated: Java heap space");
      }
      return Instant.now();
    }
  }

  @Test
  void theMaintenanceSurvivesAnErrorReportsItAndKeepsPromotingAndHeartbeating() throws Exception {
    FailingClock clock = new FailingClock();
    Duration lease = Duration.ofMillis(1500);
    RedisBroker broker = RedisBroker.builder(config).clock(clock).leaseTimeout(lease).build();
    testQueue.closeLater(broker);
    RecordingHandler handler = new RecordingHandler(1);
    consume(broker, handler);
    await().atMost(PATIENCE).until(() -> clock.failures.get() < 0); // every failure happened
    assertThat(handler.brokerErrors()).anyMatch(e -> e instanceof OutOfMemoryError);
    byte[] later = task("later", queue);
    redis.await(
        redis.commands().zadd(delayedKey, 1.0, later)); // long due: promoted on the next tick
    assertThat(take(handler).body()).isEqualTo(later);
    await()
        .during(lease.plusMillis(500))
        .atMost(lease.multipliedBy(3))
        .until(
            () ->
                redis.await(redis.commands().exists("{" + queue + "}:lease:" + consumerId())) == 1);
  }

  /**
   * Hands each delivery to {@code handler} unless {@code failure} gives an error to throw instead,
   * as a handler with a bug would; records when the consumer reported errors.
   */
  private static final class FailingHandOver implements DeliveryHandler {
    private final RecordingHandler handler;
    private final Supplier<@Nullable Throwable> failure;
    final List<Long> errorsAt = new CopyOnWriteArrayList<>();

    FailingHandOver(RecordingHandler handler, Supplier<@Nullable Throwable> failure) {
      this.handler = handler;
      this.failure = failure;
    }

    @Override
    public int reserve(int max) throws InterruptedException {
      return handler.reserve(max);
    }

    @Override
    public void release(int slots) {
      handler.release(slots);
    }

    @Override
    public void handle(Delivery delivery) {
      Throwable e = failure.get();
      if (e instanceof RuntimeException r) {
        throw r;
      }
      if (e instanceof Error error) {
        throw error;
      }
      handler.handle(delivery);
    }

    @Override
    public void handleNow(Delivery delivery) {
      handler.handleNow(delivery);
    }

    @Override
    public void brokerError(Throwable error) {
      errorsAt.add(System.nanoTime());
      handler.brokerError(error);
    }
  }

  @Test
  void theFetchLoopSurvivesAnErrorWhileHandingOverAndTheMessageComesAgain() throws Exception {
    RedisBroker broker = broker(Duration.ofSeconds(5));
    AtomicBoolean failed = new AtomicBoolean();
    RecordingHandler handler = new RecordingHandler(1);
    testQueue.closeLater(
        broker.startConsuming(
            "faults",
            "",
            new FailingHandOver(
                handler,
                () ->
                    failed.compareAndSet(false, true)
                        ? new StackOverflowError("simulated")
                        : null)));
    byte[] message = task("t", queue);
    redis.await(redis.commands().rpush(queue, message));
    assertThat(take(handler).body()).isEqualTo(message);
    assertThat(handler.brokerErrors()).anyMatch(e -> e instanceof StackOverflowError);
  }

  @Test
  void aFetchLoopFailingAtEveryTurnWaitsLongerEachTimeUntilItHandsAMessageOver() throws Exception {
    RedisBroker broker = broker(Duration.ofSeconds(5));
    RecordingHandler handler = new RecordingHandler(1);
    AtomicInteger failuresLeft = new AtomicInteger(3);
    FailingHandOver failing =
        new FailingHandOver(
            handler,
            () ->
                failuresLeft.getAndDecrement() > 0
                    ? new IllegalStateException("simulated: a bug met at every turn")
                    : null);
    List<Long> errorsAt = failing.errorsAt;
    testQueue.closeLater(broker.startConsuming("faults", "", failing));
    redis.await(redis.commands().rpush(queue, task("t", queue)));
    Delivery first = take(handler);
    assertThat(errorsAt).hasSize(3);
    assertThat(errorsAt.get(1) - errorsAt.get(0))
        .as("restarted 1 s after the first failure")
        .isGreaterThanOrEqualTo(Duration.ofSeconds(1).toNanos());
    assertThat(errorsAt.get(2) - errorsAt.get(1))
        .as("restarted 2 s after the second failure in a row")
        .isGreaterThanOrEqualTo(Duration.ofSeconds(2).toNanos());
    handler.ack(first);

    failuresLeft.set(1);
    redis.await(redis.commands().rpush(queue, task("t", queue)));
    take(handler);
    long deliveredAt = System.nanoTime();
    assertThat(errorsAt).hasSize(4);
    assertThat(deliveredAt - errorsAt.get(3))
        .as("a message was handed over since: 1 s again, not the 8 s of a fourth failure in a row")
        .isLessThan(Duration.ofSeconds(4).toNanos());
  }

  // ------------------------------------------------------------------------------------------------- F8, F9

  @Test
  void aDueTaskWhoseRoutingKeyNamesAStringIsDeadLetteredAndTheOthersArePromoted() throws Exception {
    // the review's probe: a -> q1, b -> a string key, c -> q1; before, b vanished from every list
    String q1 = queue + "_q1";
    String stringKey = queue + "_string";
    redis.await(redis.commands().set(stringKey, bytes("another application's value")));
    byte[] a = task("a", q1);
    byte[] b = task("b", stringKey);
    byte[] c = task("c", q1);
    redis.await(redis.commands().zadd(delayedKey, 1.0, a));
    redis.await(redis.commands().zadd(delayedKey, 2.0, b));
    redis.await(redis.commands().zadd(delayedKey, 3.0, c));
    RedisBroker broker = broker(Duration.ofSeconds(5));
    consume(broker, new RecordingHandler(1));
    await().atMost(PATIENCE).until(() -> redis.await(redis.commands().zcard(delayedKey)) == 0);
    assertThat(redis.await(redis.commands().lrange(q1, 0, -1))).containsExactly(a, c);
    List<DeadLetter> letters = broker.deadLetters(queue);
    assertThat(letters).hasSize(1);
    assertThat(letters.get(0).message()).isEqualTo(b);
    assertThat(letters.get(0).queue()).isEqualTo(stringKey);
    assertThat(letters.get(0).reason()).contains("string");
    assertThat(redis.await(redis.commands().get(stringKey)))
        .isEqualTo(bytes("another application's value"));
  }

  @Test
  void onAClusterPromotionPushesBeforeItForgetsAndDeadLettersWhatCannotBePushed() throws Exception {
    String url = TestEndpoints.redisClusterUrl();
    Config clustered =
        Config.builder()
            .broker(url)
            .defaultQueue(queue)
            .redis(config.redis().withClusterEnabled(true))
            .build();
    String claimed = io.machinery.client.redis.RedisKeys.tagged(delayedKey, "claimed");
    try (RedisSession cluster = RedisSession.open(url, clustered)) {
      String q1 = queue + "_q1";
      String stringKey = queue + "_string";
      try {
        cluster.await(cluster.commands().set(stringKey, bytes("another application's value")));
        byte[] a = task("a", q1);
        byte[] b = task("b", stringKey);
        byte[] c = task("c", q1);
        byte[] stale = task("stale", q1);
        cluster.await(cluster.commands().zadd(delayedKey, 1.0, a));
        cluster.await(cluster.commands().zadd(delayedKey, 2.0, b));
        cluster.await(cluster.commands().zadd(delayedKey, 3.0, c));
        // a promoter that claimed this one died before pushing it: its claim's deadline has passed
        cluster.await(cluster.commands().zadd(claimed, 1.0, stale));
        RedisBroker broker =
            RedisBroker.builder(clustered).leaseTimeout(Duration.ofSeconds(5)).build();
        testQueue.closeLater(broker);
        consume(broker, new RecordingHandler(1));
        await()
            .atMost(PATIENCE)
            .until(
                () ->
                    cluster.await(cluster.commands().zcard(delayedKey)) == 0
                        && cluster.await(cluster.commands().zcard(claimed)) == 0
                        && cluster.await(cluster.commands().llen(q1)) == 3);
        assertThat(cluster.await(cluster.commands().lrange(q1, 0, -1)))
            .containsExactlyInAnyOrder(a, c, stale);
        List<DeadLetter> letters = broker.deadLetters(queue);
        assertThat(letters).hasSize(1);
        assertThat(letters.get(0).message()).isEqualTo(b);
        assertThat(letters.get(0).reason()).contains("not a list");
      } finally {
        cluster.await(cluster.commands().del(q1));
        cluster.await(cluster.commands().del(stringKey));
        cluster.await(cluster.commands().del(delayedKey));
        cluster.await(cluster.commands().del(claimed));
        cluster.await(cluster.commands().del("{" + queue + "}:dead_letters"));
        cluster.await(cluster.commands().del("{" + queue + "}:consumers"));
      }
    }
  }

  @Test
  void promotionFindsTheRoutingKeyWithoutParsingAndMovesABoundedNumberOfBytesPerRun() {
    String target = queue + "_big";
    byte[] big =
        WireCodec.encode(
            Signature.builder("big")
                .routingKey(target)
                .args(List.of(io.machinery.Arg.of("string", "y".repeat(1 << 20))))
                .build());
    int count = 20;
    for (int i = 0; i < count; i++) {
      byte[] member = Arrays.copyOf(big, big.length);
      member[member.length - 3] = (byte) ('a' + i); // distinct members, same size and layout
      redis.await(redis.commands().zadd(delayedKey, (double) i, member));
    }
    // another field order (not Go's): found by the cjson fallback
    byte[] reordered =
        bytes("{\"Name\":\"r\",\"RoutingKey\":\"" + target + "\",\"UUID\":\"task_r\"}");
    redis.await(redis.commands().zadd(delayedKey, (double) count, reordered));
    List<String> runs = new ArrayList<>();
    long totalMillis = 0;
    int moved = 0;
    while (moved < count + 1) {
      long start = System.nanoTime();
      List<Long> result =
          redis.await(
              BrokerScripts.PROMOTE.<List<Long>>run(
                  redis.commands(),
                  new String[] {delayedKey, "{" + queue + "}:dead_letters"},
                  bytes(Long.toString(Long.MAX_VALUE / 2)),
                  bytes("200"),
                  bytes(queue),
                  bytes(Long.toString(RedisBroker.PROMOTE_BYTES)),
                  bytes(Instant.now().toString()),
                  bytes("100")));
      long millis = (System.nanoTime() - start) / 1_000_000;
      totalMillis += millis;
      runs.add(result.get(0) + " messages/" + (result.get(1) >> 10) + " KiB in " + millis + " ms");
      assertThat(result.get(1))
          .as("bytes per run")
          .isLessThanOrEqualTo(RedisBroker.PROMOTE_BYTES + big.length);
      moved += result.get(0).intValue();
    }
    System.out.printf(
        "[RedisBrokerFaultsIT] promoting %d due messages of %d KiB: %s; %d ms in all%n",
        count, big.length >> 10, runs, totalMillis);
    assertThat(redis.await(redis.commands().llen(target))).isEqualTo(count + 1L);
    assertThat(runs).hasSizeGreaterThan(count / 5);
  }

  @Test
  void inGosLayoutTheRoutingKeyIsReadWithoutParsingTheRestOfTheMessage() {
    String target = queue + "_q";
    // valid up to the RoutingKey, then not JSON at all: cjson would fail and send it to the default
    // queue
    byte[] goLayout =
        bytes("{\"UUID\":\"task_1\",\"Name\":\"n\",\"RoutingKey\":\"" + target + "\",\"ETA\":nul");
    redis.await(redis.commands().zadd(delayedKey, 1.0, goLayout));
    List<Long> result =
        redis.await(
            BrokerScripts.PROMOTE.<List<Long>>run(
                redis.commands(),
                new String[] {delayedKey, "{" + queue + "}:dead_letters"},
                bytes("100"),
                bytes("200"),
                bytes(queue),
                bytes("1000000"),
                bytes(Instant.now().toString()),
                bytes("100")));
    assertThat(result.get(0)).isEqualTo(1L);
    assertThat(redis.await(redis.commands().lrange(target, 0, -1))).containsExactly(goLayout);
    assertThat(redis.await(redis.commands().llen(queue))).isZero();
  }

  // -------------------------------------------------------------------------------------------------- F10

  @Test
  void aFetchTakesNoMoreThanItsByteBudgetAndAnOverLongMessageNeverLeavesRedis() throws Exception {
    byte[] over = bytes("\"" + "z".repeat(100_000) + "\""); // over maxMessageBytes (64 KiB)
    List<byte[]> large = new ArrayList<>();
    redis.await(redis.commands().rpush(queue, over));
    for (int i = 0; i < 10; i++) {
      byte[] m = task("t" + i + "x".repeat(30_000), queue);
      large.add(m);
      redis.await(redis.commands().rpush(queue, m));
    }
    java.util.function.Supplier<List<byte[]>> fetch =
        () ->
            redis.await(
                BrokerScripts.FETCH.<List<byte[]>>run(
                    redis.commands(),
                    java.util.stream.Stream.concat(
                            java.util.stream.Stream.of(
                                queue,
                                "{" + queue + "}:processing:probe",
                                "{" + queue + "}:lease:probe",
                                "{" + queue + "}:consumers",
                                "{" + queue + "}:dead_letters",
                                "{" + queue + "}:redeliveries"),
                            java.util.stream.Stream.concat(
                                java.util.stream.Stream.of(new QueueKeys(queue).upperBands()),
                                java.util.stream.Stream.of(
                                    new QueueKeys(queue).fairRing(),
                                    new QueueKeys(queue).fairDirect())))
                        .toArray(String[]::new),
                    bytes("100"),
                    bytes("probe"),
                    bytes("60000"),
                    bytes("65536"),
                    bytes("65536"),
                    bytes(Instant.now().toString()),
                    bytes("100"),
                    bytes("0"),
                    bytes("0"),
                    bytes(""),
                    bytes("0")));
    List<byte[]> first =
        fetch.get(); // the over-long one alone spends the budget: dead-lettered, nothing taken
    assertThat(first).hasSize(4);
    assertThat(new String(first.get(1), StandardCharsets.UTF_8))
        .as("a bound ended the fetch")
        .isEqualTo("1");
    List<byte[]> reply = fetch.get();
    assertThat(new String(reply.get(1), StandardCharsets.UTF_8))
        .as("a bound ended the fetch")
        .isEqualTo("1");
    List<byte[]> taken = reply.subList(4, reply.size());
    long takenBytes = taken.stream().mapToLong(m -> m.length).sum();
    System.out.printf(
        "[RedisBrokerFaultsIT] one fetch of up to 100 messages with a 64 KiB budget took %d messages"
            + " (%d bytes); the %d-byte message went to the dead letters%n",
        taken.size(), takenBytes, over.length);
    assertThat(taken).hasSize(3).containsExactly(large.get(0), large.get(1), large.get(2));
    assertThat(takenBytes).isLessThan(65_536 + large.get(0).length);
    RedisBroker broker = broker(Duration.ofSeconds(5));
    List<DeadLetter> letters = broker.deadLetters(queue);
    assertThat(letters).hasSize(1);
    DeadLetter letter = letters.get(0);
    assertThat(letter.truncated()).isTrue();
    assertThat(letter.size()).isEqualTo(over.length);
    assertThat(letter.sha1()).isEqualTo(DeadLetter.sha1Hex(over));
    assertThat(letter.message()).isEqualTo(Arrays.copyOf(over, DeadLetter.PREVIEW_BYTES));
    assertThat(letter.reason()).contains("exceeds the limit");
  }

  @Test
  void aQueueFullOfOverLongMessagesIsDrainedOverSeveralFetchesAndTheTaskBehindThemArrives()
      throws Exception {
    byte[] over = bytes("\"" + "z".repeat(100_000) + "\"");
    for (int i = 0; i < 30; i++) {
      byte[] m = over.clone();
      m[1] = (byte) ('a' + i);
      redis.await(redis.commands().rpush(queue, m));
    }
    byte[] good = task("behind", queue);
    redis.await(redis.commands().rpush(queue, good));
    RedisBroker broker =
        RedisBroker.builder(config).fetchByteBudget(256 * 1024).build(); // 3 over-long per fetch
    testQueue.closeLater(broker);
    RecordingHandler handler = new RecordingHandler(10);
    consume(broker, handler);
    assertThat(take(handler).body()).isEqualTo(good);
    assertThat(broker.deadLetters(queue)).hasSize(30).allMatch(DeadLetter::truncated);
    assertThat(handler.handedOver()).isEqualTo(1);
  }

  @Test
  void deadLetterListsKeepOnlyTheNewestEnvelopes() throws Exception {
    RedisBroker broker = RedisBroker.builder(config).deadLetterLimit(3).build();
    testQueue.closeLater(broker);
    RecordingHandler handler = new RecordingHandler(10);
    consume(broker, handler);
    for (int i = 0; i < 5; i++) {
      redis.await(redis.commands().rpush(queue, bytes("junk " + i)));
    }
    // newest by the order of dead-lettering, which is the order deliveries were taken here (in CI
    // the list once held junk 3, junk 4 and junk 1: junk 1's dead-letter script had met a Redis
    // that did not know it yet and was applied last, after its EVAL; RedisScript now sends EVAL
    // until the script is known, and RedisSessionIT checks the call order)
    List<String> deadLettered = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Delivery delivery = take(handler);
      deadLettered.add(new String(delivery.body(), StandardCharsets.UTF_8));
      delivery.deadLetter("junk");
    }
    String last = deadLettered.get(4);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                redis.await(redis.commands().llen(queue)) == 0
                    && broker.deadLetters(queue).stream()
                        .anyMatch(d -> Arrays.equals(d.message(), bytes(last))));
    assertThat(broker.deadLetters(queue))
        .extracting(d -> new String(d.message(), StandardCharsets.UTF_8))
        .containsExactlyElementsOf(deadLettered.subList(2, 5));
  }

  // ----------------------------------------------------------------------------------------------
  // F13, SPI

  @Test
  void aConsumerReapedWhilePausedRegistersAgainWhenItsBlockingMoveTakesAMessage() throws Exception {
    RedisBroker broker =
        broker(Duration.ofSeconds(60)); // heartbeats every 20 s: they do not interfere
    RecordingHandler handler = new RecordingHandler(1);
    consume(broker, handler);
    String id = consumerId();
    // what a reaper does to a consumer it believes dead (the consumer waits in BLMOVE on the empty
    // queue)
    redis.await(redis.commands().del("{" + queue + "}:lease:" + id));
    redis.await(redis.commands().srem("{" + queue + "}:consumers", bytes(id)));
    redis.await(redis.commands().rpush(queue, task("t", queue)));
    take(handler);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                redis.await(redis.commands().sismember("{" + queue + "}:consumers", bytes(id)))
                    && redis.await(redis.commands().exists("{" + queue + "}:lease:" + id)) == 1);
  }

  @Test
  void aConsumerReapedWhileWaitingOnAnEmptyQueueRegistersAgainBeforeItWaitsAgain()
      throws Exception {
    RedisBroker broker =
        broker(Duration.ofSeconds(60)); // heartbeats every 20 s: they do not interfere
    consume(broker, new RecordingHandler(1));
    String id = consumerId();
    redis.await(redis.commands().del("{" + queue + "}:lease:" + id));
    redis.await(redis.commands().srem("{" + queue + "}:consumers", bytes(id)));
    // no message comes: the next blocking wait (a poll period later) must be preceded by a
    // re-registration
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                redis.await(redis.commands().sismember("{" + queue + "}:consumers", bytes(id)))
                    && redis.await(redis.commands().exists("{" + queue + "}:lease:" + id)) == 1);
  }

  @Test
  void aMessageReturnedByTheReaperCountsItsDeliveries() throws Exception {
    byte[] message = task("poison", queue);
    for (int round = 1; round <= 2; round++) { // a consumer died holding it, twice
      redis.await(redis.commands().rpush("{" + queue + "}:processing:ghost" + round, message));
      redis.await(redis.commands().sadd("{" + queue + "}:consumers", bytes("ghost" + round)));
    }
    redis.await(redis.commands().rpush(queue, task("fresh", queue)));
    RedisBroker broker = broker(Duration.ofMillis(600));
    RecordingHandler handler = new RecordingHandler(10);
    consume(broker, handler);
    List<Delivery> got = new ArrayList<>();
    while (got.size() < 3) {
      got.add(take(handler));
    }
    List<Integer> counts = new ArrayList<>();
    for (Delivery d : got) {
      counts.add(Arrays.equals(d.body(), message) ? d.deliveryCount() : -d.deliveryCount());
    }
    // the two copies of the same bytes were reaped twice in all: the counter is per content
    assertThat(counts).contains(-1);
    assertThat(counts.stream().filter(c -> c > 0).mapToInt(Integer::intValue).max().orElse(0))
        .isGreaterThanOrEqualTo(2);
    assertThat(got.stream().filter(d -> Arrays.equals(d.body(), message)))
        .allMatch(Delivery::redelivered);
  }

  @Test
  void aRequeueWithAReplacementPutsTheReplacementBackAndRemovesTheOriginal() throws Exception {
    RedisBroker broker = broker(Duration.ofSeconds(5));
    RecordingHandler handler = new RecordingHandler(2);
    consume(broker, handler);
    byte[] now = task("now", queue);
    byte[] later = task("later", queue);
    redis.await(redis.commands().rpush(queue, now, later));
    Delivery first = take(handler);
    Delivery second = take(handler);
    String processing = "{" + queue + "}:processing:" + consumerId();
    byte[] nowReplacement = bytes("{\"replacement\":1}");
    byte[] laterReplacement = bytes("{\"replacement\":2}");
    first.requeue(Duration.ofHours(1), laterReplacement);
    second.requeue(Duration.ZERO, nowReplacement);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                redis.await(redis.commands().llen(processing)) <= 1
                    && redis.await(redis.commands().zcard(delayedKey)) == 1);
    assertThat(redis.await(redis.commands().zrange(delayedKey, 0, -1)))
        .containsExactly(laterReplacement);
    assertThat(redis.await(redis.commands().lrange(processing, 0, -1))).doesNotContain(now, later);
  }

  // ------------------------------------------------------------------------------------------
  // shared wiring

  @Test
  void aBrokerAndABackendShareOneSessionThatTheirOwnerCloses() throws Exception {
    Config both =
        Config.builder()
            .broker(TestEndpoints.redisUrl())
            .resultBackend(TestEndpoints.redisUrl())
            .defaultQueue(queue)
            .redis(config.redis())
            .build();
    try (io.machinery.backend.redis.RedisBackend backend =
            io.machinery.backend.redis.RedisBackend.builder(both).session(redis).build();
        RedisBroker broker = RedisBroker.builder(both).session(redis).build();
        io.machinery.Server server =
            io.machinery.Server.builder().config(both).broker(broker).backend(backend).build()) {
      server.registerTask(
          "add", io.machinery.TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      io.machinery.Worker worker = server.newWorker("shared", 2);
      worker.launchAsync();
      Object sum =
          server
              .sendTask(Signature.create("add", io.machinery.Arg.of(2L), io.machinery.Arg.of(3L)))
              .get(PATIENCE)
              .get(0);
      assertThat(sum).isEqualTo(5L);
      worker.quit();
    }
    assertThat(redis.isConnected())
        .as("the session belongs to the test, not to the broker or the backend")
        .isTrue();
    assertThat(redis.await(redis.commands().ping())).isEqualTo("PONG");
  }
}
