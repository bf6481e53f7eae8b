package io.machinery.client.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class SentinelSwitchListenerTest {
  @Test
  void anAnnouncementNamesTheNewPrimaryOfItsMaster() {
    assertThat(
            SentinelSwitchListener.newPrimary("mymaster 10.0.0.1 6379 10.0.0.2 6380", "mymaster"))
        .isEqualTo("10.0.0.2:6380");
    assertThat(SentinelSwitchListener.newPrimary("other 10.0.0.1 6379 10.0.0.2 6380", "mymaster"))
        .isNull();
    assertThat(SentinelSwitchListener.newPrimary("mymaster 10.0.0.2 6380", "mymaster")).isNull();
  }

  @Test
  void everySentinelAnnouncingTheSameSwitchMovesTheSessionOnce() {
    List<String> moves = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    try (SentinelSwitchListener listener =
        new SentinelSwitchListener(
            client,
            List.of(),
            ConcurrentHashMap.newKeySet(),
            new CopyOnWriteArrayList<>(),
            "m",
            () -> null,
            moves::add)) {
      listener.announced("m 10.0.0.1 6379 10.0.0.2 6379");
      listener.announced("m 10.0.0.1 6379 10.0.0.2 6379");
      listener.announced("n 10.0.0.1 6379 10.0.0.3 6379");
      listener.announced("m 10.0.0.2 6379 10.0.0.1 6379");
      listener.close();
      listener.announced("m 10.0.0.1 6379 10.0.0.2 6379");
    } finally {
      client.shutdown();
    }
    assertThat(moves).containsExactly("10.0.0.2:6379", "10.0.0.1:6379");
  }

  @Test
  void aSentinelsReplyNamesTheOtherSentinels() {
    assertThat(
            SentinelSwitchListener.sentinelAddresses(
                List.of(
                    List.of("name", "a", "ip", "10.0.0.5", "port", "26379", "flags", "sentinel"),
                    List.of("ip", "10.0.0.6", "port", "26380"),
                    List.of("ip", "10.0.0.7"),
                    List.of("ip", "10.0.0.8", "port", "x"),
                    "not a list")))
        .containsExactly("10.0.0.5:26379", "10.0.0.6:26380");
  }

  /**
   * A Sentinel's answer to {@code GET-MASTER-ADDR-BY-NAME}, asked when a subscription becomes live,
   * moves the session when it names another server than the one the session is on, once per new
   * address, announcements included; nothing while the session's server is unknown.
   */
  @Test
  void aSentinelNamingAnotherPrimaryThanTheSessionsMovesItOnce() {
    List<String> moves = new CopyOnWriteArrayList<>();
    AtomicReference<String> connected = new AtomicReference<>("10.0.0.1:6379");
    RedisClient client = RedisClient.create();
    try (SentinelSwitchListener listener =
        new SentinelSwitchListener(
            client,
            List.of(),
            ConcurrentHashMap.newKeySet(),
            new CopyOnWriteArrayList<>(),
            "m",
            connected::get,
            moves::add)) {
      listener.reported("10.0.0.1:6379");
      listener.reported("10.0.0.2:6379");
      listener.reported("10.0.0.2:6379");
      listener.announced("m 10.0.0.1 6379 10.0.0.2 6379");
      connected.set("10.0.0.2:6379");
      listener.reported("10.0.0.2:6379");
      listener.reported("10.0.0.1:6379");
      connected.set(null);
      listener.reported("10.0.0.3:6379");
    } finally {
      client.shutdown();
    }
    assertThat(moves).containsExactly("10.0.0.2:6379", "10.0.0.1:6379");
  }

  /**
   * A Sentinel answers with an IP address; the session's connection may name the same server by
   * host name: not a move. Before, compared as text, the session reconnected once needlessly.
   */
  @Test
  void aSentinelNamingTheSessionsServerByItsIpAddressDoesNotMoveIt() {
    List<String> moves = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    try (SentinelSwitchListener listener =
        new SentinelSwitchListener(
            client,
            List.of(),
            ConcurrentHashMap.newKeySet(),
            new CopyOnWriteArrayList<>(),
            "m",
            () -> "localhost:6379",
            moves::add)) {
      listener.reported("127.0.0.1:6379");
      // another server, compared after the same look-up of localhost: the first has been decided
      listener.reported("10.0.0.9:6379");
      await().atMost(Duration.ofSeconds(10)).until(() -> !moves.isEmpty());
    } finally {
      client.shutdown();
    }
    assertThat(moves).containsExactly("10.0.0.9:6379");
  }

  /** {@code ::1}, {@code 0:0:0:0:0:0:0:1} and {@code [::1]} are one server. */
  @Test
  void ipv6SpellingsOfTheSessionsServerDoNotMoveIt() {
    List<String> moves = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    try (SentinelSwitchListener listener =
        new SentinelSwitchListener(
            client,
            List.of(),
            ConcurrentHashMap.newKeySet(),
            new CopyOnWriteArrayList<>(),
            "m",
            () -> "0:0:0:0:0:0:0:1:6379",
            moves::add)) {
      listener.reported("::1:6379");
      listener.reported("[::1]:6379");
      listener.reported("::1:6380");
      await().atMost(Duration.ofSeconds(10)).until(() -> !moves.isEmpty());
    } finally {
      client.shutdown();
    }
    assertThat(moves).containsExactly("::1:6380");
  }

  /**
   * The URL names a Sentinel {@code localhost:P}; {@code SENTINEL SENTINELS} names it {@code
   * 127.0.0.1:P}: one Sentinel, listened to once. Before, compared as text, it got a second
   * subscription (and was asked twice when the URL's did not answer).
   */
  @Test
  void aDiscoveredSentinelAtTheAddressOfOneInTheUrlIsNotSubscribedToTwice() throws IOException {
    int port;
    try (ServerSocket free = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort(); // nothing listens there once closed: attempts are refused
    }
    Set<String> known = ConcurrentHashMap.newKeySet();
    List<RedisURI> discovered = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    RedisURI inUrl = RedisURI.create("localhost", port);
    try (SentinelSwitchListener listener =
        new SentinelSwitchListener(
            client, List.of(inUrl), known, discovered, "m", () -> null, primary -> {})) {
      listener.discovered(
          inUrl,
          List.of(
              List.of("ip", "127.0.0.1", "port", String.valueOf(port)),
              // another Sentinel, compared after the same look-up of localhost
              List.of("ip", "127.0.0.2", "port", String.valueOf(port))));
      await().atMost(Duration.ofSeconds(10)).until(() -> !discovered.isEmpty());
    } finally {
      client.shutdown();
    }
    assertThat(discovered)
        .extracting(uri -> uri.getHost() + ":" + uri.getPort())
        .containsExactly("127.0.0.2:" + port);
    assertThat(known).containsExactlyInAnyOrder("localhost:" + port, "127.0.0.2:" + port);
  }

  /**
   * A "Sentinel" that hangs up on every connection: the listener tries again, waiting longer each
   * time (the client's reconnect delay, here Lettuce's default: 1, 2, 4, ... ms), never in a busy
   * loop, and stops when closed. Before, it gave up after the first attempt.
   */
  @Test
  void aSentinelThatDoesNotAnswerIsTriedAgainWithGrowingWaitsUntilClosed() throws IOException {
    AtomicInteger attempts = new AtomicInteger();
    RedisClient client = RedisClient.create();
    try (ServerSocket hangingUp = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread.ofVirtual()
          .start(
              () -> {
                while (true) {
                  try (Socket ignored = hangingUp.accept()) {
                    attempts.incrementAndGet();
                  } catch (IOException e) {
                    return; // closed
                  }
                }
              });
      long start = System.nanoTime();
      SentinelSwitchListener listener =
          new SentinelSwitchListener(
              client,
              List.of(RedisURI.create("127.0.0.1", hangingUp.getLocalPort())),
              ConcurrentHashMap.newKeySet(),
              new CopyOnWriteArrayList<>(),
              "m",
              () -> null,
              primary -> {});
      await().atMost(Duration.ofSeconds(20)).until(() -> attempts.get() >= 10);
      // the waits before the 10th attempt add up to 1 + 2 + ... + 256 ms
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(400));

      listener.close();
      int atClose = attempts.get();
      await()
          .during(Duration.ofSeconds(1))
          .atMost(Duration.ofSeconds(2))
          .until(() -> attempts.get() <= atClose + 1); // one may have been under way
    } finally {
      client.shutdown();
    }
  }
}
