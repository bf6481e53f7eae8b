package io.machinery.broker.redis;

import static io.machinery.broker.redis.RedisBroker.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Chains longer than Redis's cjson decodes (1,000 levels, about 500 tasks; Go and the core admit
 * 4,999) through the broker's scripts on the real Redis: a 600-task chain keeps its fairness lane
 * in the fetch's sort window and when its consumer lets it go, and a delayed one whose RoutingKey
 * Go's encoder escapes (an {@code &}, so the scripts' pattern cannot read it) is promoted to, and
 * listed under, its own queue, not the default one.
 */
class RedisLongChainIT {
  private static final int LINKS = 600;

  /** The longest chain of tasks with arguments Go's decoder admits (10,000 levels). */
  private static final int GO_LONGEST_CHAIN = 4_999;

  @RegisterExtension final RedisTestQueue testQueue = new RedisTestQueue("long_chain_it");

  private String queue;
  private String delayedKey;
  private Config config;
  private RedisSession redis;

  @BeforeEach
  void setUp() {
    queue = testQueue.name();
    delayedKey = testQueue.delayedKey();
    config = testQueue.config().build();
    redis = testQueue.redis();
  }

  private <T extends AutoCloseable> T closing(T closeable) {
    return testQueue.closeLater(closeable);
  }

  /** A chain of {@code links} "step" tasks, the first with {@code first}'s settings. */
  private static Signature chain(int links, Signature.Builder first) {
    Signature next = null;
    for (int i = links - 1; i > 0; i--) {
      Signature.Builder link = Signature.builder("step").args(Arg.of((long) i));
      next = (next == null ? link : link.onSuccess(next)).build();
    }
    return first.args(Arg.of(0L)).onSuccess(next).build();
  }

  private static Signature keyedChain(String key) {
    return chain(LINKS, Signature.builder("step").fairnessKey(key));
  }

  private long length(String key) {
    return redis.await(redis.commands().llen(key));
  }

  /**
   * A Go producer pushes keyed tasks to the plain list; the fetch's sort window moves the long
   * chain to its lane too (it stayed in the plain list: cjson refused to decode it).
   */
  @Test
  void theSortWindowMovesALongKeyedChainToItsLane() {
    theSortWindowMovesAKeyedChainToItsLane(LINKS);
  }

  /** The same for the longest chain Go's decoder admits, beyond what cjson could be set to. */
  @Test
  void theSortWindowMovesTheLongestKeyedChainToItsLane() {
    theSortWindowMovesAKeyedChainToItsLane(GO_LONGEST_CHAIN);
  }

  private void theSortWindowMovesAKeyedChainToItsLane(int links) {
    byte[] shortTask =
        WireCodec.encode(Signature.builder("step").fairnessKey("b").args(Arg.of(1L)).build());
    byte[] longChain = WireCodec.encode(chain(links, Signature.builder("step").fairnessKey("a")));
    redis.await(redis.commands().rpush(queue, shortTask, longChain));
    QueueKeys keys = new QueueKeys(queue);

    // one message: sorted into lanes b then a, the ring's head (b) gives it
    List<byte[]> reply = fetchOne(keys);

    assertThat(texts(reply.subList(4, reply.size()))).containsExactly(text(shortTask));
    assertThat(texts(redis.await(redis.commands().lrange(keys.fairLane("a"), 0, -1))))
        .containsExactly(text(longChain));
    assertThat(length(queue)).isZero();
    assertThat(texts(redis.await(redis.commands().lrange(keys.fairRing(), 0, -1))))
        .containsExactly("a");
  }

  /**
   * A hostile message too deep for cjson, its Headers behind more than the fallback's 100,000
   * steps: the fallback gives up (the message stays in the plain list, for a worker to dead-letter)
   * rather than keep Redis busy for as long as the message is long.
   */
  @Test
  void theSortWindowGivesUpOnAHostileMessageBeyondItsBound() {
    String deep = "[".repeat(1_001) + "]".repeat(1_001);
    String hostile =
        "{\"a\":"
            + deep
            + ",\"b\":["
            + "[],".repeat(150_000)
            + "[]],\"Headers\":{\"machinery_fairness_key\":\"h\"}}";
    redis.await(redis.commands().rpush(queue, bytes(hostile)));
    QueueKeys keys = new QueueKeys(queue);

    List<byte[]> reply = fetchOne(keys);

    assertThat(texts(reply.subList(4, reply.size()))).containsExactly(hostile);
    assertThat(length(keys.fairLane("h"))).isZero();
    assertThat(length(keys.fairRing())).isZero();
  }

  private static String text(byte[] message) {
    return new String(message, StandardCharsets.UTF_8);
  }

  private static List<String> texts(List<byte[]> messages) {
    return messages.stream().map(RedisLongChainIT::text).toList();
  }

  /** One run of the fetch script, as a consumer with fairness on sends it, for one message. */
  private List<byte[]> fetchOne(QueueKeys keys) {
    String[] fetchKeys =
        Stream.of(
                Stream.of(
                    queue,
                    keys.processing("probe"),
                    keys.lease("probe"),
                    keys.consumers(),
                    keys.deadLetters(),
                    keys.redeliveries()),
                Stream.of(keys.upperBands()),
                Stream.of(keys.fairRing(), keys.fairDirect(), keys.fairWeights(), keys.fairHead()))
            .flatMap(s -> s)
            .toArray(String[]::new);
    return redis.await(
        BrokerScripts.FETCH.<List<byte[]>>run(
            redis.commands(),
            fetchKeys,
            bytes("1"),
            bytes("probe"),
            bytes("60000"),
            bytes(Long.toString(RedisBroker.DEFAULT_FETCH_BYTE_BUDGET)),
            bytes(Integer.toString(config.maxMessageBytes())),
            bytes(Instant.now().toString()),
            bytes("100"),
            bytes("0"),
            bytes(Integer.toString(RedisBroker.PRIORITY_WINDOW)),
            bytes("f"),
            bytes("0")));
  }

  /**
   * At least once for the lanes, for a long chain: taken and not settled, it goes back to its lane
   * when its consumer closes (it went to the plain queue: cjson refused to decode it).
   */
  @Test
  void aLongKeyedChainTakenAndNotSettledComesBackToItsLane() throws Exception {
    RedisBroker broker = closing(RedisBroker.builder(config).fairness(true).build());
    Signature first = keyedChain("tenant");
    broker.publish(first, WireCodec.encode(first));
    Signature second = Signature.builder("step").fairnessKey("tenant").args(Arg.of(9L)).build();
    broker.publish(second, WireCodec.encode(second));
    QueueKeys keys = new QueueKeys(queue);
    RecordingHandler handler = new RecordingHandler(1);
    Consumption consumption = broker.startConsuming("probe", "", handler);
    Delivery taken = handler.next(10);
    assertThat(taken).isNotNull();

    consumption.close(); // unsettled: back to its lane

    assertThat(length(keys.fairLane("tenant"))).isEqualTo(2);
    assertThat(length(keys.fairRing())).isEqualTo(1);
    assertThat(length(queue)).isZero();
  }

  /** A chain whose RoutingKey Go's encoder escapes ({@code &} as {@code \u0026}). */
  private Signature escapedRoutingChain(String target) {
    return chain(LINKS, Signature.builder("step").routingKey(target));
  }

  @Test
  void aLongDelayedChainIsPromotedToTheQueueItsEscapedRoutingKeyNames() {
    String target = queue + "&reports";
    byte[] message = WireCodec.encode(escapedRoutingChain(target));
    assertThat(text(message))
        .as("the pattern cannot read it: the fallback must")
        .contains("\\u0026reports");
    redis.await(redis.commands().zadd(delayedKey, 1.0, message));

    List<Long> result =
        redis.await(
            BrokerScripts.PROMOTE.<List<Long>>run(
                redis.commands(),
                new String[] {delayedKey, new QueueKeys(queue).deadLetters()},
                bytes("100"),
                bytes("200"),
                bytes(queue),
                bytes("1000000"),
                bytes(Instant.now().toString()),
                bytes("100")));

    assertThat(result.get(0)).isEqualTo(1L);
    assertThat(texts(redis.await(redis.commands().lrange(target, 0, -1))))
        .containsExactly(text(message));
    assertThat(length(queue)).isZero();
    assertThat(length(new QueueKeys(queue).deadLetters())).isZero();
  }

  @Test
  void theInspectorListsALongDelayedChainUnderTheQueueItsEscapedRoutingKeyNames() {
    String target = queue + "&reports";
    Signature chain = escapedRoutingChain(target);
    redis.await(redis.commands().zadd(delayedKey, 1.0, WireCodec.encode(chain)));
    RedisBroker broker = closing(RedisBroker.create(config));
    io.machinery.spi.Inspector inspector = broker.inspector().orElseThrow();

    assertThat(inspector.delayed(target, 0, 10))
        .singleElement()
        .satisfies(s -> assertThat(s.uuid()).isEqualTo(chain.uuid()));
    assertThat(inspector.delayed(queue, 0, 10)).isEmpty();
  }

  /** Dead-lettered by its worker, a long chain is kept whole and read back as it was. */
  @Test
  void aLongChainDeadLetteredByItsWorkerIsKeptWhole() throws Exception {
    RedisBroker broker = closing(RedisBroker.builder(config).fairness(true).build());
    Signature first = keyedChain("tenant");
    byte[] message = WireCodec.encode(first);
    broker.publish(first, message);
    RecordingHandler handler = new RecordingHandler(1);
    closing(broker.startConsuming("probe", "", handler));
    Delivery taken = handler.next(10);
    assertThat(taken).isNotNull();

    handler.deadLetter(taken, "refused by the test");

    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .until(() -> length(new QueueKeys(queue).deadLetters()) == 1);
    assertThat(broker.inspector().orElseThrow().deadLetters(queue, 0, 10))
        .singleElement()
        .satisfies(e -> assertThat(e.message()).isEqualTo(message));
  }
}
