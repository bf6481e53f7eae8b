package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.machinery.Signature;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Fetching ahead of free slots ({@link RedisBroker.Builder#prefetch}): messages a busy consumer
 * fetched ahead go back to the queue for other workers when its tasks turn out long, and with
 * prefetch 0 a consumer takes no more than its free slots; the next fetch ahead is on its way while
 * the messages already ahead are handed over.
 */
class RedisPrefetchIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  @RegisterExtension final RedisTestQueue testQueue = new RedisTestQueue("redis_prefetch_it");

  private String queue;
  private Config config;
  private RedisSession redis;

  @BeforeEach
  void setUp() {
    queue = testQueue.name();
    config = testQueue.config().build();
    redis = testQueue.redis();
  }

  private RedisBroker broker(int prefetch) {
    return broker(RedisBroker.builder(config), prefetch);
  }

  private RedisBroker broker(RedisBroker.Builder builder, int prefetch) {
    RedisBroker broker = (prefetch < 0 ? builder : builder.prefetch(prefetch)).build();
    testQueue.closeLater(broker);
    return broker;
  }

  private void consume(RedisBroker broker, RecordingHandler handler) {
    Consumption consumer = broker.startConsuming("it", "", handler);
    testQueue.closeLater(consumer);
  }

  private byte[] push(String name) {
    byte[] message = WireCodec.encode(Signature.builder(name).routingKey(queue).build());
    redis.await(redis.commands().rpush(queue, message));
    return message;
  }

  private static Delivery take(RecordingHandler handler) throws InterruptedException {
    Delivery delivery = handler.next(PATIENCE.toSeconds());
    assertThat(delivery).as("a delivery").isNotNull();
    return delivery;
  }

  @Test
  void messagesFetchedAheadOfABusyConsumerGoBackForAnotherWorker() throws Exception {
    byte[] first = push("long");
    byte[] second = push("next");
    RecordingHandler busy = new RecordingHandler(1);
    consume(broker(-1), busy); // the default: fetches ahead
    Delivery running = take(busy); // its one slot stays busy: a long task
    assertThat(running.body()).isEqualTo(first);

    RecordingHandler idle = new RecordingHandler(1);
    consume(broker(0), idle);
    // the busy consumer fetched "next" ahead; its slot does not free up, so "next" goes back to the
    // queue and the idle consumer runs it while "long" still runs
    Delivery next = take(idle);
    assertThat(next.body()).isEqualTo(second);
    assertThat(busy.waiting()).isZero();
    idle.ack(next);
    busy.ack(running);
  }

  @Test
  void aConsumerWithEverySlotBusyHoldsTheNextMessagesInItsProcessingList() throws Exception {
    byte[] first = push("long");
    byte[] second = push("next");
    byte[] third = push("after");
    byte[] fourth = push("later");
    byte[] fifth = push("last but one");
    byte[] sixth = push("last");
    RecordingHandler busy = new RecordingHandler(1);
    // a hold no test outlasts, so that what was fetched ahead stays where it is
    consume(broker(RedisBroker.builder(config).prefetchHold(Duration.ofMinutes(5)), -1), busy);
    Delivery running = take(busy);
    assertThat(running.body()).isEqualTo(first);
    String processing = "{" + queue + "}:processing:";
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              List<String> lists =
                  new ArrayList<>(redis.await(redis.commands().keys(processing + "*")));
              assertThat(lists).hasSize(1);
              // the default prefetch, four per slot: one fetch of four for the one slot; the
              // next fetch waits until half of the three ahead are handed over
              assertThat(redis.await(redis.commands().lrange(lists.get(0), 0, -1)))
                  .containsExactly(first, second, third, fourth);
              assertThat(redis.await(redis.commands().lrange(queue, 0, -1)))
                  .containsExactly(fifth, sixth);
            });
    assertThat(busy.waiting()).isZero();
    busy.ack(running); // the slot frees up: the message fetched ahead is handed over
    assertThat(take(busy).body()).isEqualTo(second);
  }

  @Test
  void withoutPrefetchAConsumerTakesNoMoreThanItsFreeSlots() throws Exception {
    for (int i = 0; i < 5; i++) {
      push("t" + i);
    }
    RecordingHandler handler = new RecordingHandler(2);
    consume(broker(0), handler);
    Delivery first = take(handler);
    Delivery second = take(handler);
    await()
        .during(Duration.ofMillis(300))
        .atMost(PATIENCE)
        .until(() -> redis.await(redis.commands().llen(queue)) == 3);
    handler.ack(first);
    handler.ack(second);
  }

  @Test
  void messagesFetchedAheadAreHandedOverWhileTheNextFetchIsOnItsWay() throws Exception {
    List<byte[]> pushed = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      pushed.add(push("t" + i));
    }
    RecordingHandler handler = new RecordingHandler(1);
    // one slot, four fetched ahead: the first fetch takes t0-t3
    consume(broker(RedisBroker.builder(config).prefetchHold(Duration.ofMinutes(5)), 4), handler);
    Delivery first = take(handler);
    assertThat(first.body()).isEqualTo(pushed.get(0));
    await().atMost(PATIENCE).until(() -> redis.await(redis.commands().llen(queue)) == 4);
    // Redis holds every write from now on (reads go on), so the next fetch, a script that moves
    // messages, waits in Redis until the test lets it run
    client("PAUSE", "10000", "WRITE"); // at most 10 s, should the test fail
    try {
      handler.ack(first); // t1 is handed over, two are left ahead: the loop sends the next fetch
      Delivery second = take(handler);
      assertThat(second.body()).isEqualTo(pushed.get(1));
      handler.ack(second);
      // t2 comes while that fetch is still held in Redis: the loop did not wait for its reply
      Delivery third = take(handler);
      assertThat(third.body()).isEqualTo(pushed.get(2));
      assertThat(redis.await(redis.commands().llen(queue)))
          .as("the fetch has not run")
          .isEqualTo(4);
      handler.ack(third);
    } finally {
      client("UNPAUSE");
    }
    // once it runs it takes two more (four ahead at most), in order
    await().atMost(PATIENCE).until(() -> redis.await(redis.commands().llen(queue)) <= 2);
    assertThat(take(handler).body()).isEqualTo(pushed.get(3));
  }

  private void client(String... args) {
    CommandArgs<String, byte[]> arguments =
        new CommandArgs<>(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    for (String arg : args) {
      arguments.add(arg);
    }
    redis.await(
        redis
            .commands()
            .dispatch(
                CommandType.CLIENT,
                new StatusOutput<>(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE)),
                arguments));
  }
}
