package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.LMoveArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.OwnRedisServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A session on a Sentinel URL moves to the new primary as soon as a Sentinel announces it ({@code
 * +switch-master}): a primary A, its replica B and one Sentinel of the test's own, and {@code
 * SENTINEL FAILOVER}. The Sentinel promotes B but leaves A a primary for about ten more seconds;
 * before, the session stayed on A all that time, and A acknowledged writes that were lost when it
 * turned replica.
 */
class RedisSentinelSwitchIT {
  private static final String MASTER = "switch-it";
  private static final Duration PATIENCE = Duration.ofSeconds(15);

  /**
   * Well under the ten seconds for which the Sentinel leaves the old primary a primary after the
   * switch, well over the moment the session needs to reconnect.
   */
  private static final Duration MOVE_WITHIN = Duration.ofSeconds(3);

  private OwnRedisServer a;
  private OwnRedisServer b;
  private OwnRedisServer sentinel;
  private RedisClient lettuce;
  private StatefulRedisSentinelConnection<String, String> sentinelAdmin;
  private StatefulRedisPubSubConnection<String, String> announcements;
  private final AtomicBoolean switched = new AtomicBoolean();
  private RedisSession adminA;
  private RedisSession adminB;

  @BeforeEach
  void startPrimaryReplicaAndSentinel() throws Exception {
    int portA = OwnRedisServer.freePort();
    a =
        OwnRedisServer.start(
            Files.createTempDirectory("redis-switch-a"),
            portA,
            OwnRedisServer.plainArgs(portA, "--appendonly", "no"));
    int portB = OwnRedisServer.freePort();
    b =
        OwnRedisServer.start(
            Files.createTempDirectory("redis-switch-b"),
            portB,
            OwnRedisServer.plainArgs(
                portB, "--appendonly", "no", "--replicaof", "127.0.0.1", "" + portA));
    int portS = OwnRedisServer.freePort();
    Path directory = Files.createTempDirectory("redis-switch-sentinel");
    Files.writeString(
        directory.resolve("sentinel.conf"),
        "port "
            + portS
            + "\nbind 127.0.0.1\nsentinel monitor "
            + MASTER
            + " 127.0.0.1 "
            + portA
            + " 1\n");
    sentinel = OwnRedisServer.start(directory, portS, List.of("sentinel.conf", "--sentinel"));
    lettuce = RedisClient.create();
    sentinelAdmin = lettuce.connectSentinel(RedisURI.create("127.0.0.1", portS));
    // the Sentinel picks only a replica whose INFO it read in the last 5 s (every 10 s by default)
    sentinelAdmin
        .sync()
        .dispatch(
            io.lettuce.core.protocol.CommandType.SENTINEL,
            new io.lettuce.core.output.StatusOutput<>(io.lettuce.core.codec.StringCodec.UTF8),
            new io.lettuce.core.protocol.CommandArgs<>(io.lettuce.core.codec.StringCodec.UTF8)
                .add("DEBUG")
                .add("INFO-PERIOD")
                .add(500));
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                sentinelAdmin.sync().replicas(MASTER).stream()
                    .anyMatch(
                        r ->
                            r.get("port").equals("" + portB)
                                && r.get("flags").equals("slave")
                                && "ok".equals(r.get("master-link-status"))));
    announcements = lettuce.connectPubSub(RedisURI.create("127.0.0.1", portS));
    announcements.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            if (message.startsWith(MASTER + " ")) {
              switched.set(true);
            }
          }
        });
    announcements.sync().subscribe("+switch-master");
    adminA = RedisSession.open(a.url(), config(a.url(), ""));
    adminB = RedisSession.open(b.url(), config(b.url(), ""));
  }

  @AfterEach
  void stop() {
    for (AutoCloseable c :
        new AutoCloseable[] {adminA, adminB, announcements, sentinelAdmin, sentinel, b, a}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // the rest still closes
      }
    }
    if (lettuce != null) {
      lettuce.shutdown();
    }
  }

  private String sentinelUrl() {
    return "redis://127.0.0.1:" + sentinel.port();
  }

  private static Config config(String url, String masterName) {
    return Config.builder()
        .broker(url)
        .redis(
            RedisConfig.DEFAULT
                .withMasterName(masterName)
                .withReadTimeout(Duration.ofSeconds(2))
                .withConnectTimeout(Duration.ofSeconds(2)))
        .build();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String role(RedisSession session) {
    Object role = session.await(session.commands().role()).get(0);
    return role instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(role);
  }

  /** Asks the Sentinel for a failover and waits until it announced B. */
  private void failOver() {
    assertThat(sentinelAdmin.sync().failover(MASTER)).isEqualTo("OK");
    await().atMost(PATIENCE).untilTrue(switched);
  }

  @Test
  void writesReachTheNewPrimaryAsSoonAsTheSentinelAnnouncesIt() {
    try (RedisSession session = RedisSession.open(sentinelUrl(), config(sentinelUrl(), MASTER))) {
      session.await(session.commands().set("before", bytes("1")));
      long reconnectsBefore = session.reconnects();
      failOver();
      long announcedAt = System.nanoTime();

      // a write that A took would be lost when it resynchronises from B
      await()
          .atMost(MOVE_WITHIN)
          .ignoreExceptions()
          .until(
              () -> {
                session.await(session.commands().set("after", bytes("2")));
                return adminB.await(adminB.commands().get("after")) != null;
              });
      assertThat(Duration.ofNanos(System.nanoTime() - announcedAt)).isLessThan(MOVE_WITHIN);
      assertThat(role(adminA))
          .as("A is still a primary: only the announcement moved the session")
          .isEqualTo("master");
      // counted by an event listener, on its own thread
      await().atMost(PATIENCE).until(() -> session.reconnects() > reconnectsBefore);
    }
  }

  @Test
  void aBlockingConnectionMovesToTheNewPrimaryToo() {
    try (RedisSession session = RedisSession.open(sentinelUrl(), config(sentinelUrl(), MASTER));
        RedisSession.BlockingConnection blocking = session.openBlocking()) {
      // blocked on A while the failover happens
      CompletableFuture<byte[]> onA =
          blocking.block(
              "source", c -> c.blmove("source", "target", LMoveArgs.Builder.leftRight(), 1.0));
      failOver();
      onA.handle((v, e) -> null).join();
      adminB.await(adminB.commands().rpush("source", bytes("task")));

      await()
          .atMost(MOVE_WITHIN)
          .ignoreExceptions()
          .until(
              () ->
                  session.await(
                          blocking.block(
                              "source",
                              c ->
                                  c.blmove("source", "target", LMoveArgs.Builder.leftRight(), 0.1)))
                      != null);
      assertThat(adminB.await(adminB.commands().lrange("target", 0, -1)))
          .containsExactly(bytes("task"));
    }
  }
}
