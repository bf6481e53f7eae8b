package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.LMoveArgs;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.ArrayOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.machinery.client.redis.testing.OwnSentinelGroup;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.DroppingTcpProxy;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A session on a Sentinel URL moves to the new primary as soon as a Sentinel announces it ({@code
 * +switch-master}): a primary A, its replica B and one Sentinel (or two) of the test's own, and
 * {@code SENTINEL FAILOVER}. The Sentinel promotes B but leaves A a primary for about ten more
 * seconds; before, the session stayed on A all that time, and A acknowledged writes that were lost
 * when it turned replica. The session listens to every Sentinel of its URL, also to one that was
 * down when it opened and to one that restarted.
 */
class RedisSentinelSwitchIT {
  private static final String MASTER = "switch-it";
  private static final Duration PATIENCE = Duration.ofSeconds(15);

  /**
   * Well under the ten seconds for which the Sentinel leaves the old primary a primary after the
   * switch, well over the moment the session needs to reconnect.
   */
  private static final Duration MOVE_WITHIN = Duration.ofSeconds(3);

  /**
   * How soon a session subscribes to a Sentinel that starts answering: its attempts are at most
   * about a second apart ({@link RedisSession#MAX_RECONNECT_DELAY}), as are Lettuce's reconnects.
   */
  private static final Duration SUBSCRIBED_WITHIN = Duration.ofSeconds(5);

  private OwnSentinelGroup group;
  private RedisSession adminA;
  private RedisSession adminB;

  /** Starts A, B and {@code sentinels} Sentinels, and a plain session on each of A and B. */
  private void startGroup(int sentinels) throws Exception {
    group = OwnSentinelGroup.start(MASTER, PATIENCE, sentinels);
    adminA = RedisSession.open(group.primary().url(), config(group.primary().url(), ""));
    adminB = RedisSession.open(group.replica().url(), config(group.replica().url(), ""));
  }

  @AfterEach
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {adminA, adminB, group}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // the rest still closes
      }
    }
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

  /**
   * Asserts that {@code session}'s writes reach B within {@link #MOVE_WITHIN} of the announcement
   * at {@code announcedAt} ({@link System#nanoTime()}), while A is still a primary: a write A took
   * would be lost when it resynchronises from B.
   */
  private void assertWritesReachBPromptly(RedisSession session, long announcedAt) {
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
  }

  @Test
  void writesReachTheNewPrimaryAsSoonAsTheSentinelAnnouncesIt() throws Exception {
    startGroup(1);
    try (RedisSession session =
        RedisSession.open(group.sentinelUrl(), config(group.sentinelUrl(), MASTER))) {
      session.await(session.commands().set("before", bytes("1")));
      long reconnectsBefore = session.reconnects();
      group.failover();
      assertWritesReachBPromptly(session, System.nanoTime());
      // counted by an event listener, on its own thread
      await().atMost(PATIENCE).until(() -> session.reconnects() > reconnectsBefore);
    }
  }

  /**
   * Two Sentinels, the second down when the session opens. Before, the session never listened to
   * it: once it was back and the first one gone, its announcement of B went unheard and the session
   * wrote to A until A turned replica.
   */
  @Test
  void aSentinelDownWhenTheSessionOpensIsListenedToOnceItAnswers() throws Exception {
    startGroup(2);
    group.stopSentinel(1);
    try (RedisSession session =
        RedisSession.open(group.sentinelUrl(), config(group.sentinelUrl(), MASTER))) {
      session.await(session.commands().set("before", bytes("1")));
      group.startSentinel(1);
      await()
          .atMost(SUBSCRIBED_WITHIN)
          .untilAsserted(
              () ->
                  assertThat(group.othersSubscribedTo(1))
                      .as("the session's subscriptions on the Sentinel that came back")
                      .hasSize(1));
      group.stopSentinel(0);
      group.requestFailover(1);
      assertWritesReachBPromptly(session, group.awaitSwitch());
    }
  }

  /** Lettuce subscribes a Pub/Sub connection again when it reconnects: a restart loses nothing. */
  @Test
  void aRestartedSentinelIsListenedToAgain() throws Exception {
    startGroup(1);
    try (RedisSession session =
        RedisSession.open(group.sentinelUrl(), config(group.sentinelUrl(), MASTER))) {
      session.await(session.commands().set("before", bytes("1")));
      group.stopSentinel(0);
      group.startSentinel(0);
      await()
          .atMost(SUBSCRIBED_WITHIN)
          .untilAsserted(
              () ->
                  assertThat(group.othersSubscribedTo(0))
                      .as("the session's subscriptions on the restarted Sentinel")
                      .hasSize(1));
      assertWritesReachBPromptly(session, group.failover());
    }
  }

  /**
   * The session's only Sentinel announces B while the session's subscription to it is cut (a
   * network failure between them: a proxy that refuses connections), and A stays a primary. Before,
   * the announcement was lost and the session wrote to A until A turned replica, about ten seconds
   * on; now the session asks the Sentinel for the primary each time its subscription comes back,
   * and moves to B at once.
   */
  @Test
  void aSwitchAnnouncedWhileTheSubscriptionWasDownMovesTheSessionWhenItComesBack()
      throws Exception {
    startGroup(1);
    try (DroppingTcpProxy toSentinel =
        DroppingTcpProxy.start("127.0.0.1", group.sentinel().port())) {
      String url = "redis://127.0.0.1:" + toSentinel.port();
      try (RedisSession session = RedisSession.open(url, config(url, MASTER))) {
        session.await(session.commands().set("before", bytes("1")));
        await()
            .atMost(SUBSCRIBED_WITHIN)
            .untilAsserted(() -> assertThat(group.othersSubscribedTo(0)).hasSize(1));
        toSentinel.cut();
        await()
            .atMost(SUBSCRIBED_WITHIN)
            .untilAsserted(() -> assertThat(group.othersSubscribedTo(0)).isEmpty());
        group.failover(); // announced to nobody of the session
        toSentinel.resume();
        await()
            .atMost(SUBSCRIBED_WITHIN)
            .untilAsserted(
                () ->
                    assertThat(group.othersSubscribedTo(0))
                        .as("the session's subscription, back")
                        .hasSize(1));
        assertWritesReachBPromptly(session, System.nanoTime());
      }
    }
  }

  /**
   * A URL naming the first of three Sentinels: the session also listens to the two others, which
   * the first names ({@code SENTINEL SENTINELS}), as go-redis does. Before, once the first was
   * down, a failover the others announced went unheard and the session wrote to A until A turned
   * replica.
   */
  @Test
  void theSentinelsTheUrlDoesNotNameAreListenedToAsWell() throws Exception {
    startGroup(3);
    awaitOthersKnownTo(0, 2);
    String url = "redis://127.0.0.1:" + group.sentinel(0).port();
    try (RedisSession session = RedisSession.open(url, config(url, MASTER))) {
      session.await(session.commands().set("before", bytes("1")));
      await()
          .atMost(SUBSCRIBED_WITHIN)
          .untilAsserted(
              () -> {
                assertThat(group.othersSubscribedTo(1)).as("on the second Sentinel").hasSize(1);
                assertThat(group.othersSubscribedTo(2)).as("on the third Sentinel").hasSize(1);
              });
      group.stopSentinel(0);
      group.requestFailover(1);
      assertWritesReachBPromptly(session, group.awaitSwitch());
    }
  }

  /**
   * Waits until Sentinel {@code index} names {@code count} others ({@code SENTINEL SENTINELS}): a
   * Sentinel learns of the others from their hellos, every two seconds.
   */
  private void awaitOthersKnownTo(int index, int count) {
    await().atMost(PATIENCE).until(() -> othersKnownTo(index).size() == count);
  }

  private List<Object> othersKnownTo(int index) {
    return group
        .admin(index)
        .sync()
        .dispatch(
            CommandType.SENTINEL,
            new ArrayOutput<>(StringCodec.UTF8),
            new CommandArgs<>(StringCodec.UTF8).add("SENTINELS").add(MASTER));
  }

  /**
   * A URL naming its Sentinel by the IPv6 loopback, {@code [::1]}: the session's connections to
   * that Sentinel come from {@code 0:0:0:0:0:0:0:1}, and are still told from its connection to the
   * primary. Before, compared as text, the session took the Sentinel for its primary, and each
   * Sentinel's answer naming the real primary moved it there needlessly (a reconnect).
   */
  @Test
  void aSentinelNamedByAnotherSpellingOfItsAddressIsNotTakenForThePrimary() throws Exception {
    startGroup(1);
    String url = "redis://[::1]:" + group.sentinel().port();
    try (RedisSession session = RedisSession.open(url, config(url, MASTER))) {
      session.await(session.commands().set("before", bytes("1")));
      await()
          .atMost(SUBSCRIBED_WITHIN)
          .untilAsserted(() -> assertThat(group.othersSubscribedTo(0)).hasSize(1));
      // the subscription asks its Sentinel for the primary as soon as it is live: an answer taken
      // for a move reconnects the session within a few milliseconds
      await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(3))
          .until(() -> session.reconnects() == 0);
      assertThat(adminA.await(adminA.commands().get("before"))).isEqualTo(bytes("1"));
    }
  }

  /**
   * A discovered Sentinel stopped and removed from the group ({@code SENTINEL RESET} on the one
   * left): the session stops trying to reach it. Its port, taken over by a socket that hangs up on
   * every connection, counts the attempts, which stop within a few seconds. Before, they went on
   * (about one a second) until the session closed.
   */
  @Test
  void aDiscoveredSentinelRemovedFromTheGroupIsForgotten() throws Exception {
    startGroup(2);
    awaitOthersKnownTo(0, 1);
    String url = "redis://127.0.0.1:" + group.sentinel(0).port();
    try (RedisSession session = RedisSession.open(url, config(url, MASTER))) {
      await()
          .atMost(SUBSCRIBED_WITHIN)
          .untilAsserted(() -> assertThat(group.othersSubscribedTo(1)).hasSize(1));
      int port = group.sentinel(1).port();
      group.stopSentinel(1);
      try (HangingUpPort attempts = new HangingUpPort(port)) {
        await().atMost(PATIENCE).until(() -> attempts.count() > 0); // it is being tried
        group.admin(0).sync().reset(MASTER);
        awaitOthersKnownTo(0, 0);
        await()
            .atMost(PATIENCE)
            .until(() -> attempts.quietFor().compareTo(Duration.ofSeconds(3)) > 0);
      }
      session.await(session.commands().set("after", bytes("2")));
    }
  }

  /** A loopback port that accepts each connection and closes it at once, counting them. */
  private static final class HangingUpPort implements AutoCloseable {
    private final ServerSocket socket;
    private final AtomicInteger count = new AtomicInteger();
    private final AtomicLong lastAt = new AtomicLong(System.nanoTime());

    HangingUpPort(int port) throws IOException {
      socket = new ServerSocket(port, 50, InetAddress.getByName("127.0.0.1"));
      Thread.ofVirtual()
          .start(
              () -> {
                while (true) {
                  try (Socket ignored = socket.accept()) {
                    lastAt.set(System.nanoTime());
                    count.incrementAndGet();
                  } catch (IOException e) {
                    return; // closed
                  }
                }
              });
    }

    int count() {
      return count.get();
    }

    /** How long since the last connection. */
    Duration quietFor() {
      return Duration.ofNanos(System.nanoTime() - lastAt.get());
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  @Test
  void aBlockingConnectionMovesToTheNewPrimaryToo() throws Exception {
    startGroup(1);
    try (RedisSession session =
            RedisSession.open(group.sentinelUrl(), config(group.sentinelUrl(), MASTER));
        RedisSession.BlockingConnection blocking = session.openBlocking()) {
      // blocked on A while the failover happens
      CompletableFuture<byte[]> onA =
          blocking.block(
              "source", c -> c.blmove("source", "target", LMoveArgs.Builder.leftRight(), 1.0));
      group.failover();
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
