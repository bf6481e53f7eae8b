package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.machinery.Signature;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the Redis broker does in Redis: Go's keys and commands, processing lists, leases, the
 * reaper, dead letters.
 */
class RedisBrokerBehaviourIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final Duration LEASE = Duration.ofSeconds(1);

  @RegisterExtension final RedisTestQueue testQueue = new RedisTestQueue("redis_it");

  private String queue;
  private String delayedKey;
  private Config config;
  private RedisSession redis;

  @BeforeEach
  void setUp() {
    queue = testQueue.name();
    delayedKey = testQueue.delayedKey();
    config = config(TestEndpoints.redisUrl());
    redis = testQueue.redis();
  }

  private Config config(String url) {
    return testQueue
        .config(
            io.machinery.config.RedisConfig.DEFAULT.withDelayedTasksPollPeriod(
                Duration.ofMillis(100)))
        .broker(url)
        .defaultQueue(queue) // a test may name another
        .build();
  }

  private RedisBroker broker() {
    RedisBroker broker = RedisBroker.builder(config).leaseTimeout(LEASE).build();
    testQueue.closeLater(broker);
    return broker;
  }

  private Consumption consume(RedisBroker broker, RecordingHandler handler) {
    Consumption consumer = broker.startConsuming("it", "", handler);
    testQueue.closeLater(consumer);
    return consumer;
  }

  private byte[] task(String name) {
    return WireCodec.encode(Signature.builder(name).routingKey(queue).build());
  }

  private static Delivery take(RecordingHandler handler) throws InterruptedException {
    Delivery delivery = handler.next(PATIENCE.toSeconds());
    assertThat(delivery).as("a delivery").isNotNull();
    return delivery;
  }

  private static long nanos(Instant instant) {
    return instant.getEpochSecond() * 1_000_000_000L + instant.getNano();
  }

  private List<byte[]> list(String key) {
    return redis.await(redis.commands().lrange(key, 0, -1));
  }

  /**
   * The processing list of the one consumer registered for the queue (an empty list is no key in
   * Redis).
   */
  private String processingKey() {
    Set<byte[]> members = redis.await(redis.commands().smembers("{" + queue + "}:consumers"));
    assertThat(members).hasSize(1);
    return "{"
        + queue
        + "}:processing:"
        + new String(members.iterator().next(), StandardCharsets.UTF_8);
  }

  @Test
  void publishingIsGosRpushOrZaddWithANanosecondScore() {
    RedisBroker broker = broker();
    Signature now = Signature.builder("add").routingKey(queue).build();
    broker.publish(now, WireCodec.encode(now));
    assertThat(list(queue)).containsExactly(WireCodec.encode(now));

    Instant eta = Instant.now().plus(Duration.ofHours(1));
    Signature later = Signature.builder("add").routingKey(queue).eta(eta).build();
    byte[] laterBytes = WireCodec.encode(later);
    broker.publish(later, laterBytes);
    Double score = redis.await(redis.commands().zscore(delayedKey, laterBytes));
    assertThat(score).isCloseTo((double) nanos(eta), org.assertj.core.data.Offset.offset(1_000.0));
    assertThat(broker.delayedTasks()).extracting(Signature::uuid).containsExactly(later.uuid());
  }

  @Test
  void aMessageGoPushedIsDeliveredByteForByte() throws Exception {
    Path captured = Path.of("../../interop/go/captured/redis-msg-add.json");
    org.junit.jupiter.api.Assertions.assertTrue(
        Files.exists(captured),
        "interop/go/captured is part of the repository; this checkout is incomplete");
    byte[] go = Files.readAllBytes(captured);
    redis.await(redis.commands().rpush(queue, go));
    RecordingHandler handler = new RecordingHandler(1);
    consume(broker(), handler);
    Delivery delivery = take(handler);
    assertThat(delivery.body()).isEqualTo(go);
    assertThat(delivery.queue()).isEqualTo(queue);
    handler.ack(delivery);
    await().atMost(PATIENCE).until(() -> list(processingKey()).isEmpty());
  }

  @Test
  void aDueDelayedTaskMovesToItsQueueExactlyOnceWithManyPromoters() throws Exception {
    byte[] due =
        WireCodec.encode(
            Signature.builder("add").routingKey(queue).eta(Instant.now().minusSeconds(1)).build());
    byte[] noRoute =
        WireCodec.encode(Signature.builder("add").eta(Instant.now().minusSeconds(1)).build());
    byte[] junk = "not a task".getBytes(StandardCharsets.UTF_8);
    RecordingHandler handler = new RecordingHandler(10);
    for (int i = 0; i < 3; i++) {
      consume(broker(), handler); // three brokers, three promoters on one delayed-task set
    }
    redis.await(redis.commands().zadd(delayedKey, (double) nanos(Instant.now()), due));
    redis.await(redis.commands().zadd(delayedKey, (double) nanos(Instant.now()), noRoute));
    redis.await(redis.commands().zadd(delayedKey, (double) nanos(Instant.now()), junk));
    List<byte[]> bodies = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Delivery d = take(handler);
      bodies.add(d.body());
      handler.ack(d);
    }
    assertThat(bodies).containsExactlyInAnyOrder(due, noRoute, junk);
    await().during(Duration.ofMillis(500)).atMost(PATIENCE).until(() -> handler.handedOver() == 3);
    assertThat(redis.await(redis.commands().zcard(delayedKey))).isZero();
  }

  @Test
  void aRequeueWithADelayGoesToTheDelayedSetAndLeavesTheProcessingList() throws Exception {
    RedisBroker broker = broker();
    byte[] message = task("unknown_here");
    redis.await(redis.commands().rpush(queue, message));
    RecordingHandler handler = new RecordingHandler(1);
    consume(broker, handler);
    Delivery delivery = take(handler);
    Instant before = Instant.now();
    handler.requeue(delivery, Duration.ofHours(1));
    await()
        .atMost(PATIENCE)
        .until(() -> redis.await(redis.commands().zscore(delayedKey, message)) != null);
    double score = redis.await(redis.commands().zscore(delayedKey, message));
    assertThat(score)
        .isBetween(
            (double) nanos(before.plus(Duration.ofHours(1))) - 1e9,
            (double) nanos(Instant.now().plus(Duration.ofHours(1))) + 1e9);
    assertThat(list(processingKey())).isEmpty();
    assertThat(list(queue)).isEmpty();
  }

  @Test
  void aDeadLetterKeepsTheRawMessageTheReasonAndWhereItCameFrom() throws Exception {
    RedisBroker broker = broker();
    byte[] text = "{\"UUID\": 42, not json".getBytes(StandardCharsets.UTF_8);
    byte[] binary = {(byte) 0xff, 0, 1, (byte) 0xc3};
    redis.await(redis.commands().rpush(queue, text, binary));
    RecordingHandler handler = new RecordingHandler(2);
    consume(broker, handler);
    handler.deadLetter(take(handler), "not JSON: \"quoted\"");
    handler.deadLetter(take(handler), "binary");
    await().atMost(PATIENCE).until(() -> broker.deadLetters(queue).size() == 2);
    List<DeadLetter> letters = broker.deadLetters(queue);
    assertThat(letters.get(0).message()).isEqualTo(text);
    assertThat(letters.get(0).reason()).isEqualTo("not JSON: \"quoted\"");
    assertThat(letters.get(0).queue()).isEqualTo(queue);
    assertThat(letters.get(0).consumer()).startsWith("it-");
    assertThat(letters.get(0).at())
        .isBetween(Instant.now().minusSeconds(60), Instant.now().plusSeconds(1));
    assertThat(letters.get(1).message()).isEqualTo(binary);
    JsonNode first = new ObjectMapper().readTree(list("{" + queue + "}:dead_letters").get(0));
    assertThat(first.get("message").asText()).isEqualTo("{\"UUID\": 42, not json");
    assertThat(first.get("reason").asText()).isEqualTo("not JSON: \"quoted\"");
    JsonNode second = new ObjectMapper().readTree(list("{" + queue + "}:dead_letters").get(1));
    assertThat(second.has("message")).isFalse();
    assertThat(second.get("message_base64").asText()).isEqualTo("/wABww==");
    assertThat(list(processingKey())).isEmpty();
  }

  @Test
  void takenTasksWaitInTheConsumersProcessingListUnderALeaseUntilAcknowledged() throws Exception {
    RedisBroker broker = broker();
    redis.await(redis.commands().rpush(queue, task("a"), task("b"), task("c")));
    RecordingHandler handler = new RecordingHandler(3);
    consume(broker, handler);
    List<Delivery> deliveries = List.of(take(handler), take(handler), take(handler));
    String processing = processingKey();
    String consumerId =
        processing.substring(processing.lastIndexOf("processing:") + "processing:".length());
    assertThat(list(processing)).hasSize(3);
    assertThat(redis.await(redis.commands().pttl("{" + queue + "}:lease:" + consumerId)))
        .isBetween(1L, LEASE.toMillis());
    Set<byte[]> members = redis.await(redis.commands().smembers("{" + queue + "}:consumers"));
    assertThat(members).extracting(m -> new String(m, StandardCharsets.UTF_8)).contains(consumerId);
    deliveries.forEach(handler::ack);
    await().atMost(PATIENCE).until(() -> list(processing).isEmpty());
  }

  @Test
  void theReaperReturnsTheTasksOfAConsumerWithoutLeaseToTheHeadInOrder() {
    byte[] a = task("a");
    byte[] b = task("b");
    byte[] c = task("c");
    redis.await(redis.commands().rpush(queue, c));
    redis.await(redis.commands().rpush("{" + queue + "}:processing:ghost", a, b));
    redis.await(
        redis
            .commands()
            .sadd("{" + queue + "}:consumers", "ghost".getBytes(StandardCharsets.UTF_8)));
    consume(broker(), new RecordingHandler(0)); // never takes anything, but reaps
    await().atMost(PATIENCE).until(() -> list(queue).size() == 3);
    assertThat(list(queue)).containsExactly(a, b, c);
    Set<byte[]> members = redis.await(redis.commands().smembers("{" + queue + "}:consumers"));
    assertThat(members)
        .extracting(m -> new String(m, StandardCharsets.UTF_8))
        .doesNotContain("ghost");
  }

  @Test
  void aLiveConsumersTasksAreNeverReaped() throws Exception {
    redis.await(redis.commands().rpush(queue, task("a")));
    RecordingHandler holder = new RecordingHandler(1);
    consume(broker(), holder);
    Delivery held = take(holder);
    RecordingHandler other = new RecordingHandler(1);
    consume(broker(), other);
    await().during(LEASE.multipliedBy(3)).atMost(PATIENCE).until(() -> other.handedOver() == 0);
    holder.ack(held);
  }

  @Test
  void stoppingAConsumerThatWaitsOnAnEmptyQueueIsQuick() {
    config =
        config.toBuilder()
            .redis(config.redis().withNormalTasksPollPeriod(Duration.ofSeconds(10)))
            .build();
    RecordingHandler handler = new RecordingHandler(1);
    Consumption consumer = consume(broker(), handler);
    await()
        .pollDelay(Duration.ofMillis(300))
        .atMost(PATIENCE)
        .until(() -> true); // let it block in BLMOVE
    long start = System.nanoTime();
    consumer.stopFetching(Duration.ofSeconds(10));
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
  }

  @Test
  void aQueueWithAnyNameStaysInOneSlotOnTheCluster() throws Exception {
    for (String name : List.of("{it_" + queue + "}tasks", queue + "}odd")) {
      queue = name;
      config = config(TestEndpoints.redisClusterUrl());
      try (RedisBroker broker = RedisBroker.builder(config).leaseTimeout(LEASE).build();
          RedisSession cluster = RedisSession.open(TestEndpoints.redisClusterUrl(), config)) {
        Signature sent = Signature.builder("add").routingKey(name).build();
        broker.publish(sent, WireCodec.encode(sent));
        RecordingHandler handler = new RecordingHandler(1);
        Consumption consumer = broker.startConsuming("it", "", handler);
        Delivery delivery = take(handler);
        assertThat(WireCodec.decodeSignature(delivery.body()).uuid()).isEqualTo(sent.uuid());
        handler.deadLetter(delivery, "checking the dead-letter script's slot");
        await().atMost(PATIENCE).until(() -> broker.deadLetters(name).size() == 1);
        consumer.close();
        cluster.await(
            cluster
                .commands()
                .del(
                    name,
                    io.machinery.client.redis.RedisKeys.tagged(name, "dead_letters"),
                    io.machinery.client.redis.RedisKeys.tagged(name, "consumers")));
      }
    }
  }
}
