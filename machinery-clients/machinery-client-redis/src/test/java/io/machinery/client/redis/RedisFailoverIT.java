package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.LMoveArgs;
import io.machinery.MachineryException;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.DroppingTcpProxy;
import io.machinery.testkit.OwnRedisServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A failover behind one address, as a managed Redis does it (ElastiCache's or Azure's primary
 * endpoint, a DNS name in front of Sentinel-managed servers): two redis-server processes of the
 * test's own, A the primary and B its stand-by, behind a {@link DroppingTcpProxy} that stands for
 * the address. The failover promotes B, demotes A to B's replica, and points the address at B for
 * new connections only: a connection made before stays on A, which answers every write {@code
 * READONLY}. Before, the session stayed on A for ever (every write refused until a restart).
 */
class RedisFailoverIT {
  private static final Duration PATIENCE = Duration.ofSeconds(15);

  private OwnRedisServer a;
  private OwnRedisServer b;
  private DroppingTcpProxy address;
  private String addressUrl;
  private RedisSession adminA;
  private RedisSession adminB;

  @BeforeEach
  void startPrimaryAndStandBy() throws Exception {
    int portA = OwnRedisServer.freePort();
    a = OwnRedisServer.start(Files.createTempDirectory("redis-failover-a"), portA, args(portA));
    int portB = OwnRedisServer.freePort();
    b = OwnRedisServer.start(Files.createTempDirectory("redis-failover-b"), portB, args(portB));
    address = DroppingTcpProxy.start("127.0.0.1", a.port());
    addressUrl = "redis://127.0.0.1:" + address.port();
    adminA = RedisSession.open(a.url(), config(a.url()));
    adminB = RedisSession.open(b.url(), config(b.url()));
  }

  @AfterEach
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {adminA, adminB, address, a, b}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // the rest still closes
      }
    }
  }

  private static List<String> args(int port) {
    return OwnRedisServer.plainArgs(port, "--appendonly", "no");
  }

  private static Config config(String url) {
    return Config.builder()
        .broker(url)
        .redis(
            RedisConfig.builder()
                .readTimeout(Duration.ofSeconds(2))
                .connectTimeout(Duration.ofSeconds(2))
                .build())
        .build();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** B becomes the primary, A its replica, and the address leads new connections to B. */
  private void failOver() {
    adminB.await(adminB.commands().replicaofNoOne());
    adminA.await(adminA.commands().replicaof("127.0.0.1", b.port()));
    address.switchTo("127.0.0.1", b.port());
  }

  private static boolean writes(RedisSession session, String key, String value) {
    try {
      session.await(session.commands().set(key, bytes(value)));
      return true;
    } catch (MachineryException e) {
      return false;
    }
  }

  @Test
  void writesReachTheNewPrimaryAfterAFailoverBehindTheSameAddress() {
    try (RedisSession session = RedisSession.open(addressUrl, config(addressUrl))) {
      assertThat(writes(session, "before", "1")).isTrue();
      failOver();

      assertThat(writes(session, "first-after", "1"))
          .as("the first write after the failover reaches the demoted A and fails to its caller")
          .isFalse();
      await().atMost(PATIENCE).until(() -> writes(session, "after", "2"));

      assertThat(adminB.await(adminB.commands().get("after"))).isEqualTo(bytes("2"));
      assertThat(address.accepted()).as("connections made through the address").isEqualTo(2);
      // counted by an event listener, on its own thread
      await().atMost(PATIENCE).until(() -> session.reconnects() >= 1);
      assertThat(session.reconnects()).isEqualTo(1);
    }
  }

  @Test
  void manyReadOnlyRepliesAtOnceCauseOneReconnect() throws Exception {
    try (RedisSession session = RedisSession.open(addressUrl, config(addressUrl))) {
      assertThat(writes(session, "before", "1")).isTrue();
      failOver();

      List<CompletableFuture<?>> replies = new ArrayList<>();
      List<Thread> senders = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int sender = t;
        senders.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      for (int i = 0; i < 50; i++) {
                        CompletableFuture<?> reply =
                            session.timed(
                                session.commands().set("k" + sender + "-" + i, bytes("v")));
                        synchronized (replies) {
                          replies.add(reply);
                        }
                      }
                    }));
      }
      for (Thread sender : senders) {
        sender.join();
      }
      long refused =
          replies.stream()
              .filter(
                  r -> {
                    try {
                      r.join();
                      return false;
                    } catch (RuntimeException e) {
                      return String.valueOf(e.getMessage()).contains("READONLY");
                    }
                  })
              .count();
      assertThat(refused).as("writes answered READONLY by the demoted A").isPositive();

      await().atMost(PATIENCE).until(() -> writes(session, "after", "2"));
      assertThat(adminB.await(adminB.commands().get("after"))).isEqualTo(bytes("2"));
      assertThat(address.accepted())
          .as("connections made through the address: the first and one reconnect")
          .isEqualTo(2);
      // counted by an event listener, on its own thread
      await().atMost(PATIENCE).until(() -> session.reconnects() >= 1);
      assertThat(session.reconnects()).isEqualTo(1);
    }
  }

  /**
   * While the address still leads to A (a DNS cache not yet expired), callers that retry their
   * refused writes keep getting {@code READONLY} on each new connection: the session reconnects at
   * most once per {@link ReadOnlyReplicaGuard#DROP_INTERVAL}, not once per refusal.
   */
  @Test
  void refusalsWhileTheAddressStillLeadsToTheOldPrimaryReconnectOncePerInterval() throws Exception {
    try (RedisSession session = RedisSession.open(addressUrl, config(addressUrl))) {
      assertThat(writes(session, "before", "1")).isTrue();
      long start = System.nanoTime();
      adminB.await(adminB.commands().replicaofNoOne());
      adminA.await(adminA.commands().replicaof("127.0.0.1", b.port()));

      AtomicInteger refusals = new AtomicInteger();
      AtomicBoolean stop = new AtomicBoolean();
      List<Thread> writers = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        String key = "retrying-" + t;
        writers.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      while (!stop.get()) {
                        if (!writes(session, key, "v")) {
                          refusals.incrementAndGet();
                        }
                      }
                    }));
      }
      try {
        await().atMost(PATIENCE).until(() -> refusals.get() >= 300);
        long seconds = Duration.ofNanos(System.nanoTime() - start).toSeconds();
        int reconnects = address.accepted() - 1;
        assertThat(reconnects)
            .as("reconnects after %s refusals in %s s", refusals.get(), seconds)
            .isPositive()
            .isLessThanOrEqualTo(
                (int) (seconds / ReadOnlyReplicaGuard.DROP_INTERVAL.toSeconds()) + 2);

        address.switchTo("127.0.0.1", b.port());
        await().atMost(PATIENCE).until(() -> writes(session, "after", "2"));
        assertThat(adminB.await(adminB.commands().get("after"))).isEqualTo(bytes("2"));
      } finally {
        stop.set(true);
        for (Thread writer : writers) {
          writer.join();
        }
      }
    }
  }

  @Test
  void aBlockingConnectionMovesToTheNewPrimaryToo() {
    try (RedisSession session = RedisSession.open(addressUrl, config(addressUrl));
        RedisSession.BlockingConnection blocking = session.openBlocking()) {
      failOver();
      adminB.await(adminB.commands().rpush("source", bytes("task")));

      await()
          .atMost(PATIENCE)
          .until(
              () -> {
                try {
                  byte[] moved =
                      session.await(
                          blocking.block(
                              "source",
                              c ->
                                  c.blmove(
                                      "source", "target", LMoveArgs.Builder.leftRight(), 0.1)));
                  return moved != null;
                } catch (MachineryException e) {
                  return false;
                }
              });
      assertThat(adminB.await(adminB.commands().lrange("target", 0, -1)))
          .containsExactly(bytes("task"));
    }
  }
}
