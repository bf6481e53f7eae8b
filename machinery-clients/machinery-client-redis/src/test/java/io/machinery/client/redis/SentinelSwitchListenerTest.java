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
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

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
        listener(client, List.of(), ConcurrentHashMap.newKeySet(), () -> null, moves::add)) {
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
        listener(client, List.of(), ConcurrentHashMap.newKeySet(), connected::get, moves::add)) {
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
   * Each Sentinel's announcements and answers are compared as servers, not as text: with the
   * session's server (a Sentinel answers with an IP address, the session's connection may name the
   * server by host name), and with the primary last moved to (one Sentinel may announce by host
   * name what another announces by IP address). Before, compared as text, the session reconnected
   * needlessly: once per answer, and once per spelling of the new primary.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("spellingsOfOneServer")
  void spellingsOfOneServerMoveTheSessionOnce(
      String situation, @Nullable String connected, List<String> heard, List<String> moves) {
    assertThat(movesAfter(connected, heard)).containsExactlyElementsOf(moves);
  }

  static Stream<Arguments> spellingsOfOneServer() {
    return Stream.of(
        Arguments.of(
            "an answer by IP address, the session's server by host name",
            "localhost:6379",
            List.of("127.0.0.1:6379", "10.0.0.9:6379"),
            List.of("10.0.0.9:6379")),
        Arguments.of(
            "IPv6 spellings of the session's server ([::1], ::1, 0:0:0:0:0:0:0:1)",
            "0:0:0:0:0:0:0:1:6379",
            List.of("::1:6379", "[::1]:6379", "::1:6380"),
            List.of("::1:6380")),
        Arguments.of(
            "one new primary announced by IP address and by host name",
            null,
            List.of("m 10.0.0.1 6379 127.0.0.1 6379", "m 10.0.0.1 6379 localhost 6379"),
            List.of("127.0.0.1:6379")),
        Arguments.of(
            "one new primary announced in two IPv6 spellings",
            null,
            List.of("m 10.0.0.1 6379 ::1 6379", "m 10.0.0.1 6379 0:0:0:0:0:0:0:1 6379"),
            List.of("::1:6379")),
        Arguments.of(
            "an announcement by IP address, then an answer by host name",
            "10.0.0.1:6379",
            List.of("m 10.0.0.1 6379 127.0.0.1 6379", "LOCALHOST:6379"),
            List.of("127.0.0.1:6379")));
  }

  /**
   * The moves of a listener on a session connected to {@code connected} that hears {@code heard}
   * (announcements, {@code "m ..."}, and answers, {@code host:port}) and then an announcement of
   * another server, {@code 10.9.9.9:6379}, whose move (left out of the result) marks the end:
   * decisions are made in order, so every one before has been made by then.
   */
  private static List<String> movesAfter(@Nullable String connected, List<String> heard) {
    List<String> moves = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    try (SentinelSwitchListener listener =
        listener(client, List.of(), ConcurrentHashMap.newKeySet(), () -> connected, moves::add)) {
      for (String message : heard) {
        if (message.startsWith("m ")) {
          listener.announced(message);
        } else {
          listener.reported(message);
        }
      }
      listener.announced("m 10.0.0.1 6379 10.9.9.9 6379");
      await().atMost(Duration.ofSeconds(10)).until(() -> moves.contains("10.9.9.9:6379"));
    } finally {
      client.shutdown();
    }
    return moves.subList(0, moves.size() - 1);
  }

  private static SentinelSwitchListener listener(
      RedisClient client,
      List<RedisURI> sentinels,
      Set<String> known,
      Supplier<@Nullable String> connected,
      Consumer<String> onSwitch) {
    return listener(client, sentinels, known, new CopyOnWriteArrayList<>(), connected, onSwitch);
  }

  private static SentinelSwitchListener listener(
      RedisClient client,
      List<RedisURI> sentinels,
      Set<String> known,
      List<RedisURI> discovered,
      Supplier<@Nullable String> connected,
      Consumer<String> onSwitch) {
    return new SentinelSwitchListener(
        client, sentinels, known, discovered, "m", connected, onSwitch);
  }

  /**
   * A Sentinel's answer that comes before the session recorded its connection (it records them from
   * Lettuce's events, asynchronously) is compared once it has: when the session records it while
   * the answer is handled, and when later ({@link SentinelSwitchListener#primaryKnown}). Before,
   * such an answer was dropped, and the session stayed on the old primary.
   */
  @Test
  void anAnswerBeforeTheSessionsFirstConnectionCountsOnceItIsKnown() {
    List<String> moves = new CopyOnWriteArrayList<>();
    AtomicReference<@Nullable String> connected = new AtomicReference<>();
    AtomicInteger asked = new AtomicInteger();
    RedisClient client = RedisClient.create();
    try (SentinelSwitchListener later =
            listener(client, List.of(), ConcurrentHashMap.newKeySet(), connected::get, moves::add);
        SentinelSwitchListener meanwhile =
            listener(
                client,
                List.of(),
                ConcurrentHashMap.newKeySet(),
                // recorded between the listener's first look and its second
                () -> asked.getAndIncrement() == 0 ? null : "10.0.0.1:6379",
                moves::add)) {
      meanwhile.reported("10.0.0.2:6379");
      await().atMost(Duration.ofSeconds(10)).until(() -> moves.contains("10.0.0.2:6379"));

      later.reported("10.0.0.3:6379");
      later.primaryKnown(); // nothing recorded yet: the answer waits
      connected.set("10.0.0.1:6379");
      later.primaryKnown();
      await().atMost(Duration.ofSeconds(10)).until(() -> moves.contains("10.0.0.3:6379"));
      later.primaryKnown(); // taken: not again
    } finally {
      client.shutdown();
    }
    assertThat(moves).containsExactly("10.0.0.2:6379", "10.0.0.3:6379");
  }

  /**
   * The URL names a Sentinel {@code localhost:P}; {@code SENTINEL SENTINELS} names it {@code
   * 127.0.0.1:P}: one Sentinel, listened to once. Before, compared as text, it got a second
   * subscription (and was asked twice when the URL's did not answer).
   */
  @Test
  void aDiscoveredSentinelAtTheAddressOfOneInTheUrlIsNotSubscribedToTwice() throws IOException {
    int port = refusingPort();
    Set<String> known = ConcurrentHashMap.newKeySet();
    List<RedisURI> discovered = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    RedisURI inUrl = RedisURI.create("localhost", port);
    try (SentinelSwitchListener listener =
        listener(client, List.of(inUrl), known, discovered, () -> null, primary -> {})) {
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
   * Discovered Sentinels that do not answer are forgotten once no Sentinel's latest answer names
   * them (what one names of itself aside), one named by another that was forgotten too; the URL's
   * are kept. Before, they were tried again until the session closed.
   */
  @Test
  void aDiscoveredSentinelThatNoSentinelNamesAnyMoreIsForgotten() throws IOException {
    int port = refusingPort();
    String d1 = "127.0.0.2:" + port;
    String d2 = "127.0.0.3:" + port;
    Set<String> known = ConcurrentHashMap.newKeySet();
    List<RedisURI> discovered = new CopyOnWriteArrayList<>();
    RedisClient client = RedisClient.create();
    RedisURI inUrl = RedisURI.create("127.0.0.1", port);
    try (SentinelSwitchListener listener =
        listener(client, List.of(inUrl), known, discovered, () -> null, primary -> {})) {
      listener.discovered(inUrl, sentinelsReply(d1, d2));
      await().atMost(Duration.ofSeconds(10)).until(() -> discovered.size() == 2);
      RedisURI first =
          discovered.getFirst().getHost().equals("127.0.0.2")
              ? discovered.getFirst()
              : discovered.getLast();

      listener.discovered(first, sentinelsReply(d2)); // D1 names D2, and D1 only counts for D2
      listener.discovered(inUrl, sentinelsReply(d1));
      assertThat(known).containsExactlyInAnyOrder("127.0.0.1:" + port, d1, d2);

      listener.discovered(inUrl, sentinelsReply()); // D1 goes, and with it what it named
      assertThat(discovered).isEmpty();
      assertThat(known).containsExactly("127.0.0.1:" + port);

      listener.discovered(inUrl, sentinelsReply(d2)); // named again: discovered again
      await().atMost(Duration.ofSeconds(10)).until(() -> discovered.size() == 1);
      assertThat(known).containsExactlyInAnyOrder("127.0.0.1:" + port, d2);
    } finally {
      client.shutdown();
    }
  }

  /**
   * A {@code SENTINEL SENTINELS} reply naming the Sentinels at {@code addresses} ({@code ip:port}).
   */
  private static List<List<String>> sentinelsReply(String... addresses) {
    return Stream.of(addresses)
        .map(
            a ->
                List.of(
                    "ip",
                    a.substring(0, a.lastIndexOf(':')),
                    "port",
                    a.substring(a.lastIndexOf(':') + 1)))
        .toList();
  }

  /** A loopback port nothing listens on: connections to it (at any 127.x address) are refused. */
  private static int refusingPort() throws IOException {
    try (ServerSocket free = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      return free.getLocalPort(); // nothing listens there once closed
    }
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
          listener(
              client,
              List.of(RedisURI.create("127.0.0.1", hangingUp.getLocalPort())),
              ConcurrentHashMap.newKeySet(),
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
