package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.AsyncResult;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.wire.WireCodec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a send costs on the socket (Redis broker + Redis backend on one connection): a send's
 * PENDING {@code SET} and its {@code RPUSH} leave in one write ({@link RedisSession#batch()}), so
 * Redis reads them with one read. On a Redis of its own, so its read counts are this test's.
 */
class RedisSendWritesIT {
  private static final int SENDS = 200;

  @TempDir Path directory;
  private OwnRedisServer server;
  private Config config;
  private String url;
  private RedisSession redis;

  @BeforeEach
  void setUp() throws Exception {
    server = OwnRedisServer.startPlain(directory);
    url = server.url();
    config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue("writes")
            .resultsExpireIn(600)
            .build();
    redis = RedisSession.open(url, config);
  }

  @AfterEach
  void tearDown() {
    redis.close();
    server.close();
  }

  @Test
  void aSendIsOneReadForRedis() {
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server sender = Server.builder().config(config).broker(broker).backend(backend).build()) {
      List<AsyncResult> sent = new ArrayList<>();
      sent.add(sender.sendTask(Signature.create("noop"))); // connected, scripts loaded
      long readsBefore = reads();
      for (int i = 0; i < SENDS; i++) {
        sent.add(sender.sendTask(Signature.create("noop")));
      }
      // SENDS reads, and this session's INFO: two writes per send would read up to twice as often
      assertThat(reads() - readsBefore).isLessThanOrEqualTo(SENDS + 1);
      List<byte[]> queued = redis.await(redis.commands().lrange("writes", 0, -1));
      assertThat(queued).hasSize(SENDS + 1);
      for (int i : new int[] {0, SENDS / 2, SENDS}) {
        String uuid = sent.get(i).signature().uuid();
        assertThat(WireCodec.decodeSignature(queued.get(i)).uuid()).isEqualTo(uuid);
        assertThat(backend.getState(uuid).orElseThrow().state()).isEqualTo(State.PENDING);
      }
    }
  }

  @Test
  void aBatchIsHeldUntilClosedAndLeavesInOrder() {
    CompletableFuture<String> set;
    CompletableFuture<Long> push;
    try (RedisSession.Batch batch = redis.batch()) {
      set = redis.commands().set("k", "v".getBytes()).toCompletableFuture();
      push = redis.commands().rpush("l", "m".getBytes()).toCompletableFuture();
      // held: another connection sees neither, a round trip later
      try (RedisSession other = RedisSession.open(url, config)) {
        assertThat(other.await(other.commands().exists("k", "l"))).isZero();
      }
      assertThat(set).isNotDone();
    }
    assertThat(push.join()).isEqualTo(1L);
    assertThat(set.join()).isEqualTo("OK");
  }

  @Test
  void waitingInsideABatchSendsWhatItHoldsFirst() {
    try (RedisSession.Batch batch = redis.batch()) {
      redis.commands().set("k", "v".getBytes());
      // would stall until the command timeout if the batch kept the SET and the GET behind it
      assertThat(redis.await(redis.commands().get("k"))).isEqualTo("v".getBytes());
      batch.close();
      batch.close(); // idempotent
    }
  }

  @Test
  void aBatchOnAClosedSessionFailsItsCommands() {
    RedisSession closing = RedisSession.open(url, config);
    CompletableFuture<String> set;
    try (RedisSession.Batch batch = closing.batch()) {
      set = closing.commands().set("k", "v".getBytes()).toCompletableFuture();
      closing.close();
    }
    assertThatThrownBy(() -> closing.await(set)).isInstanceOf(MachineryException.class);
    assertThat(redis.await(redis.commands().exists("k"))).isZero();
  }

  @Test
  void aListOfSendsIsOneReadForRedis() {
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server sender = Server.builder().config(config).broker(broker).backend(backend).build()) {
      sender.sendTask(Signature.create("noop"));
      long readsBefore = reads();
      List<AsyncResult> last = List.of();
      for (int i = 0; i < SENDS / 4; i++) {
        last =
            sender.sendTasks(
                List.of(Signature.create("noop"), Signature.create("noop"), Signature.create("a")));
      }
      // three SETs and one RPUSH of three messages per call, in one write
      assertThat(reads() - readsBefore).isLessThanOrEqualTo(SENDS / 4 + 1);
      List<byte[]> queued = redis.await(redis.commands().lrange("writes", -3, -1));
      for (int i = 0; i < 3; i++) {
        String uuid = last.get(i).signature().uuid();
        assertThat(WireCodec.decodeSignature(queued.get(i)).uuid()).isEqualTo(uuid);
        assertThat(backend.getState(uuid).orElseThrow().state()).isEqualTo(State.PENDING);
      }
    }
  }

  /** Redis's count of reads from client sockets. */
  private long reads() {
    String stats = redis.await(redis.commands().info("stats"));
    Matcher m = Pattern.compile("total_reads_processed:(\\d+)").matcher(stats);
    assertThat(m.find()).as("total_reads_processed in INFO stats").isTrue();
    return Long.parseLong(m.group(1));
  }
}
