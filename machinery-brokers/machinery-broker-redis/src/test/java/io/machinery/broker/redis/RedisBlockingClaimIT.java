package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Delivery;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A message that wakes a consumer waiting on an empty queue (the blocking move) is claimed on the
 * move's own connection, by the script sent right behind the move ({@link
 * BrokerScripts#CLAIMED_TAIL}), so no second round trip ({@link BrokerScripts#CLAIMED}) stands
 * between the push and the hand-over; the claim still re-registers the consumer (F13) and reads the
 * delivery count. On a Redis of its own, watched with {@code MONITOR}, so every command seen is
 * this test's.
 */
class RedisBlockingClaimIT {
  private static final String QUEUE = "blocking_claim";
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  @TempDir Path directory;
  private OwnRedisServer server;
  private RedisSession redis;
  private RedisBroker broker;
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    server = OwnRedisServer.startPlain(directory);
    Config config = Config.builder().broker(server.url()).defaultQueue(QUEUE).build();
    redis = RedisSession.open(server.url(), config);
    broker = RedisBroker.create(config);
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    broker.close();
    redis.close();
    server.close();
  }

  @Test
  void theMoveAndItsClaimShareOneRoundTripAndTheConsumerIsRegisteredAgain() throws Exception {
    RecordingHandler handler = consumeAndWaitUntilBlocking();
    String blockingClient = blockedClientAddress();
    String id = consumerId();
    // what a reaper does to a consumer it believes dead while it waits (F13)
    redis.await(redis.commands().del("{" + QUEUE + "}:lease:" + id));
    redis.await(redis.commands().srem("{" + QUEUE + "}:consumers", bytes(id)));
    Monitor monitor = monitor();
    byte[] message = push("first");

    Delivery delivery = handler.next(PATIENCE.toSeconds());
    assertThat(delivery).isNotNull();
    assertThat(delivery.body()).isEqualTo(message);
    assertThat(delivery.deliveryCount()).isEqualTo(1);
    // registered and leased again by the claim, before the hand-over
    assertThat(redis.await(redis.commands().sismember("{" + QUEUE + "}:consumers", bytes(id))))
        .isTrue();
    assertThat(redis.await(redis.commands().exists("{" + QUEUE + "}:lease:" + id))).isOne();
    handler.ack(delivery);

    List<String> cycle = monitor.linesUntilNextBlockingMove();
    assertThat(cycle)
        .as("the claim, on the blocking move's connection")
        .anyMatch(
            l ->
                l.contains(
                    blockingClient + "] \"EVALSHA\" \"" + BrokerScripts.CLAIMED_TAIL.sha1()));
    assertThat(cycle)
        .as("no claim of its own after the move's reply")
        .noneMatch(l -> l.contains("\"EVALSHA\" \"" + BrokerScripts.CLAIMED.sha1()));
  }

  @Test
  void aMessageTheReaperReturnedIsClaimedWithItsCountInTheSameRoundTrip() throws Exception {
    byte[] message = WireCodec.encode(Signature.builder("again").routingKey(QUEUE).build());
    // a reaper returned this message twice before (it counts by the message's SHA-1)
    redis.await(
        redis
            .commands()
            .hset("{" + QUEUE + "}:redeliveries", DeadLetter.sha1Hex(message), bytes("2")));
    RecordingHandler handler = consumeAndWaitUntilBlocking();
    Monitor monitor = monitor();
    redis.await(redis.commands().rpush(QUEUE, message));

    Delivery delivery = handler.next(PATIENCE.toSeconds());
    assertThat(delivery).isNotNull();
    assertThat(delivery.deliveryCount()).isEqualTo(3);
    assertThat(delivery.redelivered()).isTrue();
    handler.ack(delivery);
    assertThat(monitor.linesUntilNextBlockingMove())
        .noneMatch(l -> l.contains("\"EVALSHA\" \"" + BrokerScripts.CLAIMED.sha1()));
  }

  @Test
  void aMessageWhoseClaimFailsIsHandedOverAllTheSame() throws Exception {
    // a key of the wrong type makes both claims (behind the move, then the round trip) fail
    redis.await(redis.commands().set("{" + QUEUE + "}:redeliveries", bytes("not a hash")));
    RecordingHandler handler = consumeAndWaitUntilBlocking();
    byte[] message = push("claim-fails");

    Delivery delivery = handler.next(PATIENCE.toSeconds());
    assertThat(delivery).isNotNull();
    assertThat(delivery.body()).isEqualTo(message);
    assertThat(delivery.deliveryCount()).isEqualTo(1);
    assertThat(handler.brokerErrors()).isEmpty();
    handler.ack(delivery);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                redis.await(redis.commands().llen("{" + QUEUE + "}:processing:" + consumerId()))
                    == 0);
  }

  private RecordingHandler consumeAndWaitUntilBlocking() {
    RecordingHandler handler = new RecordingHandler(1);
    closeables.add(broker.startConsuming("it", "", handler));
    await().atMost(PATIENCE).until(() -> blockedClient().isPresent());
    return handler;
  }

  private byte[] push(String name) {
    byte[] message = WireCodec.encode(Signature.builder(name).routingKey(QUEUE).build());
    redis.await(redis.commands().rpush(QUEUE, message));
    return message;
  }

  private String consumerId() {
    return new String(
        redis.await(redis.commands().smembers("{" + QUEUE + "}:consumers")).iterator().next(),
        StandardCharsets.UTF_8);
  }

  /** The {@code CLIENT LIST} line of the connection blocked in {@code BLMOVE}, if any. */
  private java.util.Optional<String> blockedClient() {
    return redis
        .await(redis.commands().clientList())
        .lines()
        .filter(
            l -> l.contains(" cmd=blmove ") && Pattern.compile(" flags=\\w*b").matcher(l).find())
        .findFirst();
  }

  private String blockedClientAddress() {
    Matcher m = Pattern.compile(" addr=(\\S+) ").matcher(blockedClient().orElseThrow());
    assertThat(m.find()).isTrue();
    return m.group(1);
  }

  private Monitor monitor() throws IOException {
    Monitor monitor = new Monitor(server.port());
    closeables.add(monitor);
    return monitor;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** The commands Redis runs, one line each, from a {@code MONITOR} connection of this test. */
  private static final class Monitor implements AutoCloseable {
    private final Socket socket;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    Monitor(int port) throws IOException {
      socket = new Socket("127.0.0.1", port);
      OutputStream out = socket.getOutputStream();
      out.write("MONITOR\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      assertThat(in.readLine()).isEqualTo("+OK");
      Thread.ofPlatform()
          .daemon()
          .start(
              () -> {
                try {
                  for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                  }
                } catch (IOException closed) {
                  // the test is over
                }
              });
    }

    /** The lines from now until the consumer's next {@code BLMOVE}, included. */
    List<String> linesUntilNextBlockingMove() throws InterruptedException {
      List<String> seen = new ArrayList<>();
      long deadline = System.nanoTime() + PATIENCE.toNanos();
      while (System.nanoTime() < deadline) {
        String line = lines.poll(100, TimeUnit.MILLISECONDS);
        if (line != null) {
          seen.add(line);
          if (line.contains("\"BLMOVE\"")) {
            return seen;
          }
        }
      }
      throw new AssertionError("no BLMOVE within " + PATIENCE + " after " + seen);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
