package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Signature;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.spi.Consumption;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.RecordingHandler;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A Redis at its {@code maxmemory} (policy {@code noeviction}, the usual one for a queue) on a
 * redis-server of the test's own: a live consumer keeps its lease, so no reaper hands its running
 * task to another worker. Before, the heartbeat's {@code SET} was the script's first write, which a
 * full Redis refuses: every lease lapsed after its timeout and the reapers (whose {@code RPOP} a
 * full Redis allows) returned the running tasks to the queue, to run a second time.
 */
class RedisOutOfMemoryIT {
  private static final Duration LEASE = Duration.ofSeconds(1);
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final String QUEUE = "oom_tasks";

  /** The lease of a dead consumer: long enough to outlast filling Redis. */
  private static final Duration ORPHAN_LEASE = Duration.ofSeconds(5);

  @Test
  void theInspectorReadsAQueueWhileRedisIsOutOfMemory() throws Exception {
    Path dir = Files.createTempDirectory("redis-inspector-oom");
    int port = OwnRedisServer.freePort();
    List<String> args = FullRedis.args(port);
    Config config = config(port);
    try (OwnRedisServer server = OwnRedisServer.start(dir, port, args);
        RedisSession redis = RedisSession.open(server.url(), config);
        RedisBroker broker = broker(config)) {
      byte[] task = WireCodec.encode(Signature.builder("waiting").routingKey(QUEUE).build());
      redis.await(redis.commands().rpush(QUEUE, task, task));
      FullRedis.fillUntilRefused(redis);

      Inspector inspector = broker.inspector().orElseThrow();
      assertThat(inspector.queue(QUEUE).pending()).isEqualTo(2);
    }
  }

  @Test
  void aLiveConsumerKeepsItsLeaseAndItsTaskWhileRedisIsOutOfMemory() throws Exception {
    Path dir = Files.createTempDirectory("redis-broker-oom");
    int port = OwnRedisServer.freePort();
    List<String> args = FullRedis.args(port);
    Config config = config(port);
    try (OwnRedisServer server = OwnRedisServer.start(dir, port, args);
        RedisSession redis = RedisSession.open(server.url(), config);
        RedisBroker holderBroker = broker(config);
        RedisBroker otherBroker = broker(config)) {
      byte[] task = WireCodec.encode(Signature.builder("slow").routingKey(QUEUE).build());
      redis.await(redis.commands().rpush(QUEUE, task));
      RecordingHandler holder = new RecordingHandler(1);
      RecordingHandler other = new RecordingHandler(1);
      try (Consumption holding = holderBroker.startConsuming("holder", QUEUE, holder);
          Consumption reaping = otherBroker.startConsuming("other", QUEUE, other)) {
        Delivery held = holder.next(PATIENCE.toSeconds());
        assertThat(held).as("the holder's delivery").isNotNull();
        int fillers = FullRedis.fillUntilRefused(redis);

        await()
            .during(LEASE.multipliedBy(4))
            .atMost(PATIENCE)
            .until(() -> redis.await(redis.commands().llen(QUEUE)) == 0);
        assertThat(held.stillHeld()).as("the running task is still the holder's").isTrue();

        for (int i = 0; i < fillers; i++) {
          redis.await(redis.commands().del("filler:" + i));
        }
        holder.ack(held);
        await().during(LEASE.multipliedBy(2)).atMost(PATIENCE).until(() -> other.handedOver() == 0);
      }
    }
  }

  /**
   * An idle consumer takes what a reaper returns to its queue while Redis is full: a dead
   * consumer's processing list, whose lease lapses once memory ran out. Before, an idle consumer
   * that fetches ahead (the default) and had found its queue empty retried only its blocking move,
   * which a full Redis refuses ({@code BLMOVE} may grow memory), and took nothing until memory was
   * freed, though the fetch script (first write an {@code LPOP}) would have run.
   */
  @Test
  void anIdleConsumerTakesWhatAReaperReturnsWhileRedisIsOutOfMemory() throws Exception {
    Path dir = Files.createTempDirectory("redis-idle-oom");
    int port = OwnRedisServer.freePort();
    List<String> args = FullRedis.args(port);
    Config config = config(port);
    QueueKeys keys = new QueueKeys(QUEUE);
    byte[] ghost = "ghost".getBytes(StandardCharsets.UTF_8);
    try (OwnRedisServer server = OwnRedisServer.start(dir, port, args);
        RedisSession redis = RedisSession.open(server.url(), config);
        RedisBroker broker = RedisBroker.builder(config).leaseTimeout(LEASE).build()) {
      byte[] task = WireCodec.encode(Signature.builder("orphan").routingKey(QUEUE).build());
      redis.await(redis.commands().rpush(keys.processing("ghost"), task));
      redis.await(redis.commands().sadd(keys.consumers(), ghost));
      redis.await(redis.commands().psetex(keys.lease("ghost"), ORPHAN_LEASE.toMillis(), ghost));
      RecordingHandler handler = new RecordingHandler(1);
      try (Consumption consumer = broker.startConsuming("idle", QUEUE, handler)) {
        FullRedis.fillUntilRefused(redis);
        // well over the limit, so that the few bytes the reap frees do not let a BLMOVE in
        redis.await(redis.commands().configSet("maxmemory", "1mb"));
        assertThat(redis.await(redis.commands().pttl(keys.lease("ghost"))))
            .as("the dead consumer's lease outlasted the filling")
            .isPositive();

        Delivery orphan = handler.next(PATIENCE.toSeconds());
        assertThat(orphan).as("the dead consumer's task, taken while Redis is full").isNotNull();
        assertThat(orphan.body()).isEqualTo(task);
        handler.ack(orphan);
      }
    }
  }

  /**
   * A consumer takes a task from a fairness lane while Redis is full (the lane filled by a script
   * whose first write a full Redis allows, as a reaper's or a requeue's). Before, the fetch script
   * rotated the fairness ring with {@code LMOVE} before it popped the lane: its first write, one
   * that may grow memory, so a full Redis refused every fetch that carried no acknowledgement.
   */
  @Test
  void aConsumerTakesFromAFairnessLaneWhileRedisIsOutOfMemory() throws Exception {
    Path dir = Files.createTempDirectory("redis-fair-oom");
    int port = OwnRedisServer.freePort();
    List<String> args = FullRedis.args(port);
    Config config = config(port);
    QueueKeys keys = new QueueKeys(QUEUE);
    try (OwnRedisServer server = OwnRedisServer.start(dir, port, args);
        RedisSession redis = RedisSession.open(server.url(), config);
        RedisBroker broker = RedisBroker.builder(config).leaseTimeout(LEASE).build()) {
      byte[] task = WireCodec.encode(Signature.builder("keyed").routingKey(QUEUE).build());
      RecordingHandler handler = new RecordingHandler(1);
      try (Consumption consumer = broker.startConsuming("fair", QUEUE, handler)) {
        FullRedis.fillUntilRefused(redis);
        redis.await(redis.commands().configSet("maxmemory", "1mb"));
        redis.await(
            redis
                .commands()
                .<Long>eval(
                    "redis.call('DEL', KEYS[3]) redis.call('RPUSH', KEYS[1], ARGV[1])"
                        + " return redis.call('RPUSH', KEYS[2], ARGV[2])",
                    io.lettuce.core.ScriptOutputType.INTEGER,
                    new String[] {keys.fairLane("tenant"), keys.fairRing(), "nothing"},
                    task,
                    "tenant".getBytes(StandardCharsets.UTF_8)));

        Delivery keyed = handler.next(PATIENCE.toSeconds());
        assertThat(keyed).as("the keyed task, taken while Redis is full").isNotNull();
        assertThat(keyed.body()).isEqualTo(task);
        handler.ack(keyed);
      }
    }
  }

  /**
   * No fetching ahead: a fetch script sets the lease too (its first write, an {@code LPOP}, is one
   * a full Redis allows), which would hide a heartbeat that fails.
   */
  private static RedisBroker broker(Config config) {
    return RedisBroker.builder(config).leaseTimeout(LEASE).prefetch(0).build();
  }

  private static Config config(int port) {
    return Config.builder()
        .broker("redis://127.0.0.1:" + port)
        .defaultQueue(QUEUE)
        .redis(
            RedisConfig.builder()
                .readTimeout(Duration.ofSeconds(2))
                .connectTimeout(Duration.ofSeconds(2))
                .build())
        .build();
  }
}
