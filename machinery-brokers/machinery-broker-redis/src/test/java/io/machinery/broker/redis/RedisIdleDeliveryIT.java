package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A message that reaches a consumer waiting on an empty queue (the blocking move): handed over
 * without reading its delivery count when no message of the queue was ever reaped, and with the
 * count read when one was. On a Redis of its own, so its command counts are this test's.
 */
class RedisIdleDeliveryIT {
  private static final String QUEUE = "idle_delivery";
  @TempDir Path directory;
  private OwnRedisServer server;
  private RedisSession redis;
  private RedisBroker broker;
  private Consumption consumer;

  @BeforeEach
  void setUp() throws Exception {
    server = OwnRedisServer.startPlain(directory);
    Config config = Config.builder().broker(server.url()).defaultQueue(QUEUE).build();
    redis = RedisSession.open(server.url(), config);
    broker = RedisBroker.create(config);
  }

  @AfterEach
  void tearDown() {
    if (consumer != null) {
      consumer.close();
    }
    broker.close();
    redis.close();
    server.close();
  }

  private RecordingHandler consumeAndWaitUntilBlocking() {
    RecordingHandler handler = new RecordingHandler(1);
    consumer = broker.startConsuming("it", "", handler);
    await().atMost(Duration.ofSeconds(20)).until(() -> calls("blmove") > 0);
    return handler;
  }

  private byte[] push(String name) {
    byte[] message = WireCodec.encode(Signature.builder(name).routingKey(QUEUE).build());
    redis.await(redis.commands().rpush(QUEUE, message));
    return message;
  }

  @Test
  void whereNothingWasEverReapedAMessageIsHandedOverWithoutReadingItsCount() throws Exception {
    RecordingHandler handler = consumeAndWaitUntilBlocking();
    byte[] message = push("first");
    Delivery delivery = handler.next(20);
    assertThat(delivery).isNotNull();
    assertThat(delivery.body()).isEqualTo(message);
    assertThat(delivery.deliveryCount()).isEqualTo(1);
    assertThat(calls("hget")).as("the count was not read (CLAIMED reads it)").isZero();
    handler.ack(delivery);
  }

  @Test
  void whereAMessageWasReapedTheCountIsReadBeforeHandingOver() throws Exception {
    byte[] message = WireCodec.encode(Signature.builder("again").routingKey(QUEUE).build());
    // a reaper returned this message once before (it counts by the message's SHA-1)
    redis.await(
        redis
            .commands()
            .hset(
                "{" + QUEUE + "}:redeliveries",
                DeadLetter.sha1Hex(message),
                "1".getBytes(StandardCharsets.US_ASCII)));
    RecordingHandler handler = consumeAndWaitUntilBlocking();
    redis.await(redis.commands().rpush(QUEUE, message));
    Delivery delivery = handler.next(20);
    assertThat(delivery).isNotNull();
    assertThat(delivery.deliveryCount()).isEqualTo(2);
    handler.ack(delivery);
  }

  private long calls(String command) {
    String stats = redis.await(redis.commands().info("commandstats"));
    Matcher m = Pattern.compile("cmdstat_" + command + ":calls=(\\d+)").matcher(stats);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }
}
