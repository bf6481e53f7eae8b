package io.machinery.backend.memcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.GroupMeta;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The items as Go's Memcache backend writes and reads them (spec §4.2), checked with a plain
 * socket; Go's server choice over two memcached servers; and the chord trigger beside a Go worker's
 * Lock.
 */
class MemcacheWireFormatIT {
  private static final Path CAPTURED = Path.of("../../interop/go/captured");

  private InetSocketAddress address;
  private MemcacheBackend backend;
  private RawMemcached raw;

  @BeforeEach
  void connect() throws IOException {
    address = GoMemcacheWire.servers(TestEndpoints.memcacheAddr()).get(0);
    backend = MemcacheBackend.builder(config(120)).build();
    raw = new RawMemcached(address);
  }

  @AfterEach
  void close() throws IOException {
    backend.close();
    raw.close();
  }

  private static Config config(int expireIn) {
    return Config.builder()
        .resultBackend("memcache://" + TestEndpoints.memcacheAddr())
        .resultsExpireIn(expireIn)
        .build();
  }

  /**
   * What remains of an item's absolute expiry by this host's clock, which set it: memcached counts
   * it by its own clock, which lags a host clock stepped since memcached started (seen in CI: 22
   * s).
   */
  private long ttlByThisHostsClock(String key) throws IOException {
    return raw.get(key).ttlSeconds() - raw.hostAheadSeconds();
  }

  private static Signature task(String name) {
    return Signature.builder(name).args(Arg.of(1L)).build();
  }

  @Test
  void aStateIsItsGoJsonWithFlagsZeroReplacedWholeByTheNext() throws IOException {
    Signature add = task("add");
    backend.setStatePending(add);
    RawMemcached.Item pending = raw.get(add.uuid());
    assertThat(pending.flags()).isZero();
    TaskState stored = WireCodec.decodeTaskState(pending.value());
    assertThat(pending.value()).isEqualTo(WireCodec.encode(stored));
    assertThat(stored.taskName()).isEqualTo("add");

    backend.setStateReceived(add);
    // Go's NewReceivedTaskState, stored as it is: no TaskName, zero CreatedAt
    assertThat(raw.get(add.uuid()).value()).isEqualTo(WireCodec.encode(TaskState.received(add)));
    backend.setStateSuccess(add, List.of(TaskResult.of(2L)));
    assertThat(raw.get(add.uuid()).text())
        .isEqualTo(
            "{\"TaskUUID\":\""
                + add.uuid()
                + "\",\"TaskName\":\"\","
                + "\"State\":\"SUCCESS\",\"Results\":[{\"Type\":\"int64\",\"Value\":2}],\"Error\":\"\","
                + "\"CreatedAt\":\"0001-01-01T00:00:00Z\",\"TTL\":0}");
  }

  @Test
  void expiryIsAnAbsoluteTimestampAsGoSendsIt() throws IOException {
    // a clock 1000 s ahead: an absolute expiry of clock + 120 s leaves ~1120 s; a relative 120
    // would leave 120
    Clock ahead = Clock.offset(Clock.systemUTC(), Duration.ofSeconds(1000));
    try (MemcacheBackend later = MemcacheBackend.builder(config(120)).clock(ahead).build()) {
      assertThat(later.expiration())
          .isGreaterThan(30 * 24 * 3600); // memcached's threshold for timestamps
      Signature task = task("add");
      later.setStatePending(task);
      assertThat(ttlByThisHostsClock(task.uuid())).isBetween(1090L, 1121L);
      String group = Uuids.newGroupUuid();
      later.initGroup(group, List.of(task.uuid()));
      assertThat(ttlByThisHostsClock(group)).isBetween(1090L, 1121L);
    }
  }

  @Test
  void aGroupMembersFinalStateRefreshesTheGroupsExpiry() throws IOException {
    Signature member =
        task("add").toBuilder().groupUuid(Uuids.newGroupUuid()).groupTaskCount(1).build();
    backend.initGroup(member.groupUuid(), List.of(member.uuid()));
    assertThat(ttlByThisHostsClock(member.groupUuid())).isBetween(100L, 121L);
    Clock later =
        Clock.offset(Clock.systemUTC(), Duration.ofSeconds(1000)); // the member finishes much later
    try (MemcacheBackend laterBackend = MemcacheBackend.builder(config(120)).clock(later).build()) {
      laterBackend.setStateSuccess(member, List.of(TaskResult.of(1L)));
    }
    assertThat(ttlByThisHostsClock(member.groupUuid())).isBetween(1090L, 1121L);
  }

  /**
   * A uniqueness claim's item lives its time in memcached's clock (a relative expiry), so a claimer
   * whose clock is behind does not make it lapse at once; a claim of centuries stops at memcached's
   * largest unix time instead of wrapping around to the past.
   */
  @Test
  void aUniquenessClaimLivesItsTimeWhateverTheClaimersClock() throws IOException {
    Clock behind = Clock.offset(Clock.systemUTC(), Duration.ofSeconds(-1000));
    try (MemcacheBackend claimer = MemcacheBackend.builder(config(120)).clock(behind).build()) {
      String key = "unique-" + Uuids.newTaskUuid();
      assertThat(claimer.claimUnique(key, "task_a", Duration.ofSeconds(60))).isEmpty();
      assertThat(raw.get(MemcacheBackend.uniqueItemKey(key)).ttlSeconds()).isBetween(55L, 62L);
      assertThat(claimer.uniqueExpiration(Duration.ofDays(365L * 300).toMillis()))
          .isEqualTo(Integer.MAX_VALUE);
    }
  }

  @Test
  void zeroResultsExpireInMeansGosHour() throws IOException {
    try (MemcacheBackend zero = MemcacheBackend.builder(config(0)).build()) {
      Signature task = task("add");
      zero.setStatePending(task);
      assertThat(ttlByThisHostsClock(task.uuid())).isBetween(3590L, 3601L);
    }
  }

  @Test
  void readsWhatGoWrote() throws IOException {
    byte[] success = Files.readAllBytes(CAPTURED.resolve("redis-state-add-success.json"));
    String uuid =
        WireCodec.decodeTaskState(success).taskUuid() + "_" + System.nanoTime(); // our own key
    byte[] item =
        new String(success, StandardCharsets.UTF_8)
            .replaceFirst("task_[0-9a-f-]+", uuid)
            .getBytes(StandardCharsets.UTF_8);
    raw.set(uuid, Instant.now().getEpochSecond() + 60, item);
    TaskState state = backend.getState(uuid).orElseThrow();
    assertThat(state.state()).isEqualTo(State.SUCCESS);
    assertThat(state.taskName()).isEqualTo("add");
    assertThat(state.createdAt()).isEqualTo(OffsetDateTime.parse("2026-11-27T11:36:15.369603522Z"));
    assertThat(state.results()).containsExactly(TaskResult.of("int64", 2L));
  }

  @Test
  void aGroupIsGosJson() throws IOException {
    String group = Uuids.newGroupUuid();
    List<String> uuids = List.of(Uuids.newTaskUuid(), Uuids.newTaskUuid());
    backend.initGroup(group, uuids);
    GroupMeta meta = WireCodec.decodeGroupMeta(raw.get(group).value());
    assertThat(raw.get(group).value()).isEqualTo(WireCodec.encode(meta));
    assertThat(meta.taskUuids()).isEqualTo(uuids);
    assertThat(meta.chordTriggered()).isFalse();
    assertThat(backend.triggerChord(group)).isTrue();
    assertThat(WireCodec.decodeGroupMeta(raw.get(group).value()).chordTriggered()).isTrue();
    assertThat(backend.triggerChord(group)).isFalse();
  }

  @Test
  void aGroupWithAMissingStateIsAnError() {
    String group = Uuids.newGroupUuid();
    String missing = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(missing));
    assertThatThrownBy(() -> backend.groupCompleted(group, 1))
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining("Task not found: " + missing);
    assertThatThrownBy(() -> backend.triggerChord(Uuids.newGroupUuid()))
        .isInstanceOf(MachineryException.class)
        .hasMessageStartingWith("Group not found: ");
  }

  @Test
  void theTriggerWaitsWhileAGoWorkerHoldsTheLockAndThenSeesItsWork() throws IOException {
    String group = Uuids.newGroupUuid();
    GroupMeta meta =
        GroupMeta.create(group, List.of(Uuids.newTaskUuid()), OffsetDateTime.now(ZoneOffset.UTC));
    long expiry = Instant.now().getEpochSecond() + 60;
    raw.set(
        group, expiry, WireCodec.encode(meta.withLock(true))); // a Go worker inside TriggerChord
    CompletableFuture<Boolean> trigger =
        CompletableFuture.supplyAsync(() -> backend.triggerChord(group));
    await()
        .during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(2))
        .until(() -> !trigger.isDone());
    // the Go worker replaces the meta with ChordTriggered, then unlocks
    raw.set(group, expiry, WireCodec.encode(meta.withLock(true).withChordTriggered(true)));
    raw.set(group, expiry, WireCodec.encode(meta.withChordTriggered(true)));
    assertThat(trigger.join()).isFalse();
  }

  /**
   * A released trigger is Go's meta as initGroup wrote it (ChordTriggered false, no winner), which
   * a Go worker's TriggerChord flips again; the release renews the expiry, as the trigger does.
   */
  @Test
  void aReleasedTriggerIsGosUntriggeredMetaWithItsExpiryRenewed() throws IOException {
    String group = Uuids.newGroupUuid();
    String member = Uuids.newTaskUuid();
    backend.initGroup(group, List.of(member));
    byte[] initial = raw.get(group).value();
    assertThat(backend.triggerChord(group, member)).isEqualTo(Backend.Trigger.WON);
    assertThat(ttlByThisHostsClock(group)).isBetween(100L, 121L);
    Clock later = Clock.offset(Clock.systemUTC(), Duration.ofSeconds(1000));
    try (MemcacheBackend laterBackend = MemcacheBackend.builder(config(120)).clock(later).build()) {
      assertThat(laterBackend.releaseChordTrigger(group, member)).isTrue();
    }
    assertThat(raw.get(group).text()).isEqualTo(new String(initial, StandardCharsets.UTF_8));
    assertThat(ttlByThisHostsClock(group)).isBetween(1090L, 1121L);
    assertThat(backend.triggerChord(group)).as("a trigger without a member (Go's)").isTrue();
  }

  /**
   * A Go worker inside TriggerChord (Lock) replaces the meta whole when it unlocks: a release
   * written before would be undone, leaving a trigger nobody holds. So the release waits, as the
   * trigger does, and then decides on what the Go worker left (here its own trigger). The locked
   * meta naming a winner is made by hand: a Go worker's meta never names one.
   */
  @Test
  void theReleaseWaitsWhileAGoWorkerHoldsTheLock() throws IOException {
    String group = Uuids.newGroupUuid();
    String member = Uuids.newTaskUuid();
    GroupMeta triggered =
        GroupMeta.create(group, List.of(member), OffsetDateTime.now(ZoneOffset.UTC))
            .withChordTriggered(true);
    long expiry = Instant.now().getEpochSecond() + 60;
    raw.set(
        group,
        expiry,
        MemcacheBackend.withWinner(WireCodec.encode(triggered.withLock(true)), member));
    CompletableFuture<Boolean> release =
        CompletableFuture.supplyAsync(() -> backend.releaseChordTrigger(group, member));
    await()
        .during(Duration.ofMillis(300))
        .atMost(Duration.ofSeconds(2))
        .until(() -> !release.isDone());
    assertThat(WireCodec.decodeGroupMeta(raw.get(group).value()).chordTriggered()).isTrue();
    raw.set(group, expiry, WireCodec.encode(triggered)); // the Go worker unlocks: its meta
    assertThat(release.join()).isFalse();
    assertThat(raw.get(group).value()).isEqualTo(WireCodec.encode(triggered));
  }

  @Test
  void withTwoServersEachKeyLivesWhereGomemcachePutsIt() throws Exception {
    Path binary = Path.of("/usr/bin/memcached");
    TestEndpoints.requireTool(
        Files.isExecutable(binary), "memcached is not installed (scripts/services.sh installs it)");
    int port;
    try (ServerSocket probe = new ServerSocket(0)) {
      port = probe.getLocalPort();
    }
    List<String> command =
        new ArrayList<>(
            List.of(
                binary.toString(),
                "-l",
                "127.0.0.1",
                "-p",
                String.valueOf(port),
                "-U",
                "0",
                "-m",
                "8"));
    if ("root".equals(System.getProperty("user.name"))) {
      command.addAll(List.of("-u", "root"));
    }
    Process second =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    try {
      InetSocketAddress other = new InetSocketAddress("127.0.0.1", port);
      await()
          .atMost(Duration.ofSeconds(10))
          .ignoreExceptions()
          .until(
              () -> {
                try (Socket s = new Socket(other.getHostString(), port)) {
                  return true;
                }
              });
      List<InetSocketAddress> servers = List.of(address, other);
      String url =
          "memcache://" + address.getHostString() + ":" + address.getPort() + ",127.0.0.1:" + port;
      int[] perServer = new int[2];
      try (MemcacheBackend two = MemcacheBackend.builder(config(120)).url(url).build();
          RawMemcached first = new RawMemcached(servers.get(0));
          RawMemcached secondRaw = new RawMemcached(servers.get(1))) {
        RawMemcached[] raws = {first, secondRaw};
        for (int i = 0; i < 40; i++) {
          Signature task = task("add");
          two.setStatePending(task);
          CRC32 crc = new CRC32();
          crc.update(task.uuid().getBytes(StandardCharsets.UTF_8));
          int expected =
              (int) (crc.getValue() % 2); // gomemcache: crc32.ChecksumIEEE(key) % len(servers)
          perServer[expected]++;
          assertThat(raws[expected].get(task.uuid())).as("on server %d", expected).isNotNull();
          assertThat(raws[1 - expected].get(task.uuid()))
              .as("not on server %d", 1 - expected)
              .isNull();
          assertThat(two.getState(task.uuid())).isPresent();
        }
      }
      assertThat(perServer[0]).isPositive();
      assertThat(perServer[1]).isPositive();
    } finally {
      second.destroy();
      second.waitFor();
    }
  }

  @Test
  void aBadServerListIsRefusedWithWhatToWrite() {
    assertThatThrownBy(() -> GoMemcacheWire.servers("memcache://a:1,,b:2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("memcache://host:port");
    assertThatThrownBy(() -> GoMemcacheWire.servers("memcache://a:port"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a port");
    assertThat(GoMemcacheWire.servers("memcache://h1:1,h2"))
        .extracting(InetSocketAddress::getPort)
        .containsExactly(1, 11211);
  }
}
