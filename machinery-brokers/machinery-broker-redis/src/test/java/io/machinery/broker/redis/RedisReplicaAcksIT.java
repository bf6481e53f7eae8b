package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.Group;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.DroppingTcpProxy;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.wire.WireCodec;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RedisBroker.Builder#replicaAcks} on servers of this test's own: a primary and its replica,
 * and a lone primary without one. A send that returns is on the replica; a send short of replicas
 * fails with an error that says the task may or may not have been stored; concurrent sends share
 * one {@code WAIT} at a time; a {@code WAIT} that Lettuce re-sends to another server confirms
 * nothing; without the setting no {@code WAIT} is sent at all; and the config's setting ({@code
 * REDIS_REPLICA_ACKS}) turns it on without a builder call.
 */
class RedisReplicaAcksIT {
  private static final org.slf4j.Logger log =
      org.slf4j.LoggerFactory.getLogger(RedisReplicaAcksIT.class);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(3);

  @TempDir Path directory;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private OwnRedisServer server(String name, String... args) throws Exception {
    int port = OwnRedisServer.freePort();
    Path dir = java.nio.file.Files.createDirectory(directory.resolve(name));
    OwnRedisServer server = OwnRedisServer.start(dir, port, OwnRedisServer.plainArgs(port, args));
    toClose.add(server);
    return server;
  }

  private RedisSession admin(OwnRedisServer server) {
    RedisSession session = RedisSession.open(server.url(), config(server, "admin"));
    toClose.add(session);
    return session;
  }

  private static Config config(OwnRedisServer server, String queue) {
    return config(server.url(), queue);
  }

  private static Config config(String url, String queue) {
    return Config.builder()
        .broker(url)
        .resultBackend(url)
        .defaultQueue(queue)
        .redis(RedisConfig.DEFAULT.withReadTimeout(COMMAND_TIMEOUT))
        .build();
  }

  /** A server (broker and backend on one session) sending to {@code primary}'s queue "tasks". */
  private Server sender(OwnRedisServer primary, int replicas, Duration timeout) {
    return sender(primary.url(), replicas, timeout);
  }

  /** A server (broker and backend on one session) sending to the queue "tasks" at {@code url}. */
  private Server sender(String url, int replicas, Duration timeout) {
    Config config = config(url, "tasks");
    RedisBroker.Builder builder = RedisBroker.builder(config);
    if (replicas > 0) {
      builder.replicaAcks(replicas, timeout);
    }
    return server(config, builder.build());
  }

  /** A server sending through {@code broker}, with a backend of {@code config}. */
  private Server server(Config config, RedisBroker broker) {
    toClose.add(broker);
    RedisBackend backend = RedisBackend.create(config);
    toClose.add(backend);
    Server server = Server.builder().config(config).broker(broker).backend(backend).build();
    toClose.add(server);
    return server;
  }

  /** A primary and its replica, in sync. */
  private OwnRedisServer[] primaryAndReplica() throws Exception {
    OwnRedisServer primary = server("primary");
    OwnRedisServer replica =
        server("replica", "--replicaof", "127.0.0.1", Integer.toString(primary.port()));
    RedisSession onPrimary = admin(primary);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                onPrimary.await(onPrimary.commands().info("replication")).contains("state=online"));
    return new OwnRedisServer[] {primary, replica};
  }

  @Test
  void aSendThatReturnedIsOnTheReplicaAndStillOneReadForRedis() throws Exception {
    OwnRedisServer[] servers = primaryAndReplica();
    RedisSession onPrimary = admin(servers[0]);
    RedisSession onReplica = admin(servers[1]);
    Server sender = sender(servers[0], 1, Duration.ofSeconds(1));
    sender.sendTask(Signature.create("noop")); // connected
    long readsBefore = reads(onPrimary);
    List<AsyncResult> sent = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      AsyncResult result = sender.sendTask(Signature.create("noop"));
      sent.add(result);
      // no waiting: the replica has it the moment the send returned
      assertThat(onReplica.await(onReplica.commands().exists(result.signature().uuid())))
          .as("the PENDING state on the replica")
          .isEqualTo(1L);
    }
    // the PENDING SET, CLIENT INFO, RPUSH, WAIT and CLIENT INFO of a send leave in one write: one
    // read, and one more of the replica's acknowledgement (REPLCONF ACK) that WAIT asks for; in two
    // writes it would be three a send. Halfway between, for the replica's own acknowledgement once
    // a second and what else a slow machine makes Redis read
    assertThat(reads(onPrimary) - readsBefore).isLessThan(250);
    List<byte[]> onB = onReplica.await(onReplica.commands().lrange("tasks", 0, -1));
    assertThat(onB.stream().map(m -> WireCodec.decodeSignature(m).uuid()))
        .containsSubsequence(sent.stream().map(r -> r.signature().uuid()).toList());
    assertThat(commandCalls(onPrimary, "wait")).isGreaterThanOrEqualTo(100);

    // a group, a batch and a delayed task too
    sender.sendGroup(Group.of(Signature.create("a"), Signature.create("b")), 0);
    sender.sendTasks(List.of(Signature.create("c"), Signature.create("d")));
    Signature later =
        sender
            .sendTask(
                Signature.create("e").toBuilder().eta(Instant.now().plusSeconds(3600)).build())
            .signature();
    assertThat(onReplica.await(onReplica.commands().llen("tasks"))).isEqualTo(101 + 4);
    assertThat(
            onReplica.await(onReplica.commands().zrange("delayed_tasks", 0, -1)).stream()
                .map(m -> WireCodec.decodeSignature(m).uuid()))
        .containsExactly(later.uuid());

    // what the setting costs a send here (the replica on the same host), measured on one
    // connection: sends with and without it, taking turns
    Server plain = sender(servers[0], 0, Duration.ZERO);
    long[] with = new long[300];
    long[] without = new long[300];
    for (int i = 0; i < with.length; i++) {
      long start = System.nanoTime();
      sender.sendTask(Signature.create("noop"));
      long between = System.nanoTime();
      plain.sendTask(Signature.create("noop"));
      with[i] = between - start;
      without[i] = System.nanoTime() - between;
    }
    log.info(
        "Send latency with replicaAcks(1): {}; without: {}", latencies(with), latencies(without));
  }

  /** The median, 90th and 99th percentiles and the longest of {@code nanos}, in ms. */
  private static String latencies(long[] nanos) {
    long[] sorted = nanos.clone();
    java.util.Arrays.sort(sorted);
    return String.format(
        java.util.Locale.ROOT,
        "median %.3f ms, p90 %.3f ms, p99 %.3f ms, longest %.3f ms",
        sorted[sorted.length / 2] / 1e6,
        sorted[(int) (sorted.length * 0.9)] / 1e6,
        sorted[(int) (sorted.length * 0.99)] / 1e6,
        sorted[sorted.length - 1] / 1e6);
  }

  @Test
  void withoutTheSettingNoWaitIsSent() throws Exception {
    OwnRedisServer primary = server("lone");
    RedisSession onPrimary = admin(primary);
    Server sender = sender(primary, 0, Duration.ZERO);
    for (int i = 0; i < 20; i++) {
      sender.sendTask(Signature.create("noop"));
    }
    sender.sendTasks(List.of(Signature.create("a"), Signature.create("b")));
    assertThat(onPrimary.await(onPrimary.commands().llen("tasks"))).isEqualTo(22);
    assertThat(commandCalls(onPrimary, "wait")).isZero();
    assertThat(commandCalls(onPrimary, "client|info")).isZero();
  }

  @Test
  void aSendShortOfReplicasFailsSayingTheTaskMayHaveBeenStored() throws Exception {
    OwnRedisServer primary = server("lone");
    RedisSession onPrimary = admin(primary);
    Server sender = sender(primary, 1, Duration.ofMillis(100));

    long start = System.nanoTime();
    assertThatThrownBy(() -> sender.sendTask(Signature.create("noop")))
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining(
            "only 0 of the 1 replicas asked for acknowledged the send within 100 ms")
        .hasMessageContaining("may or may not have been stored");
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .as("the send waited for WAIT's timeout, not for the command timeout")
        .isGreaterThanOrEqualTo(Duration.ofMillis(100))
        .isLessThan(COMMAND_TIMEOUT);
    // "may": here it was stored
    assertThat(onPrimary.await(onPrimary.commands().llen("tasks"))).isEqualTo(1);
    assertThatThrownBy(
            () ->
                RedisBroker.builder(config(primary, "tasks"))
                    .replicaAcks(1, COMMAND_TIMEOUT)
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be below the Redis command timeout");

    assertThatThrownBy(
            () ->
                sender.sendTask(
                    Signature.create("later").toBuilder()
                        .eta(Instant.now().plusSeconds(3600))
                        .build()))
        .hasMessageContaining("may or may not have been stored");
    assertThatThrownBy(
            () -> sender.sendTasks(List.of(Signature.create("a"), Signature.create("b"))))
        .hasMessageContaining("may or may not have been stored");
    assertThatThrownBy(
            () -> sender.sendGroup(Group.of(Signature.create("a"), Signature.create("b")), 0))
        .hasMessageContaining("may or may not have been stored");
  }

  /**
   * {@code REDIS_REPLICA_ACKS} and {@code REDIS_REPLICA_ACK_TIMEOUT} (ms) turn it on for a broker
   * built from the config alone; a builder call wins over them.
   */
  @Test
  void theEnvironmentSettingTurnsItOnAndABuilderCallWins() throws Exception {
    OwnRedisServer primary = server("lone");
    RedisSession onPrimary = admin(primary);
    Map<String, String> env =
        Map.of(
            "BROKER",
            primary.url(),
            "RESULT_BACKEND",
            primary.url(),
            "DEFAULT_QUEUE",
            "tasks",
            "REDIS_READ_TIMEOUT",
            Long.toString(COMMAND_TIMEOUT.toSeconds()),
            "REDIS_REPLICA_ACKS",
            "1",
            "REDIS_REPLICA_ACK_TIMEOUT",
            "100");
    Config config = Config.fromEnvironment(env);

    Server fromConfig = server(config, RedisBroker.create(config));
    assertThatThrownBy(() -> fromConfig.sendTask(Signature.create("noop")))
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining(
            "only 0 of the 1 replicas asked for acknowledged the send within 100 ms")
        .hasMessageContaining("may or may not have been stored");

    Server turnedOff =
        server(config, RedisBroker.builder(config).replicaAcks(0, Duration.ZERO).build());
    turnedOff.sendTask(Signature.create("noop"));
    assertThat(commandCalls(onPrimary, "wait")).as("only the config's broker sent WAIT").isOne();

    Map<String, String> tooLong = new java.util.HashMap<>(env);
    tooLong.put("REDIS_REPLICA_ACK_TIMEOUT", Long.toString(COMMAND_TIMEOUT.toMillis()));
    assertThatThrownBy(() -> RedisBroker.create(Config.fromEnvironment(tooLong)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("REDIS_REPLICA_ACK_TIMEOUT) must be below the Redis command timeout");
  }

  @Test
  void concurrentSendsShortOfReplicasShareOneWaitAtATime() throws Exception {
    OwnRedisServer primary = server("lone");
    RedisSession onPrimary = admin(primary);
    Server sender = sender(primary, 1, Duration.ofMillis(200));

    List<CompletableFuture<AsyncResult>> sends = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      sends.add(sender.sendTaskAsync(Signature.create("noop")));
    }
    for (CompletableFuture<AsyncResult> send : sends) {
      assertThatThrownBy(send::join).hasMessageContaining("may or may not have been stored");
    }
    // one WAIT per send would be 100, each blocking the connection for its timeout in turn; sends
    // that join the next WAIT share it (a few, however slow the machine)
    assertThat(commandCalls(onPrimary, "wait")).isBetween(1L, 10L);
  }

  @Test
  void aWaitResentToAnotherServerConfirmsNothing() throws Exception {
    OwnRedisServer oldPrimary = server("old-primary"); // no replica: its WAIT blocks
    OwnRedisServer newPrimary = primaryAndReplica()[0]; // a replica in sync: its WAIT answers 1
    RedisSession onOld = admin(oldPrimary);
    RedisSession onNew = admin(newPrimary);
    DroppingTcpProxy proxy = DroppingTcpProxy.start("127.0.0.1", oldPrimary.port());
    toClose.add(proxy);
    Server sender = sender("redis://127.0.0.1:" + proxy.port(), 1, Duration.ofMillis(2000));

    CompletableFuture<AsyncResult> send = sender.sendTaskAsync(Signature.create("noop"));
    await()
        .atMost(Duration.ofSeconds(2))
        .pollInterval(Duration.ofMillis(5))
        .until(() -> clientIn(onOld, "wait"), id -> id > 0);
    // the address moves to the new primary under the WAIT: Lettuce reconnects and sends the WAIT
    // again, to the new primary, whose replica has all of its writes
    proxy.switchTo("127.0.0.1", newPrimary.port());
    proxy.dropConnections();
    assertThatThrownBy(send::join)
        .hasMessageContaining("may or may not have been stored")
        .hasMessageContaining("connection was replaced");
    // a confirmation would have been false: the task is only on the old primary
    assertThat(onOld.await(onOld.commands().llen("tasks"))).isEqualTo(1);
    assertThat(onNew.await(onNew.commands().llen("tasks"))).isZero();
  }

  /** The id of a client whose current command is {@code command}, or 0. */
  private static long clientIn(RedisSession redis, String command) {
    String clients = redis.await(redis.commands().clientList());
    Matcher m = Pattern.compile("id=(\\d+) .* cmd=" + command + " ").matcher(clients);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  /** How many times Redis ran {@code command} ({@code INFO commandstats}; "client|info"). */
  private static long commandCalls(RedisSession redis, String command) {
    String stats = redis.await(redis.commands().info("commandstats"));
    Matcher m =
        Pattern.compile("cmdstat_" + Pattern.quote(command) + ":calls=(\\d+)").matcher(stats);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  /** Redis's count of reads from client sockets. */
  private static long reads(RedisSession redis) {
    String stats = redis.await(redis.commands().info("stats"));
    Matcher m = Pattern.compile("total_reads_processed:(\\d+)").matcher(stats);
    assertThat(m.find()).as("total_reads_processed in INFO stats").isTrue();
    return Long.parseLong(m.group(1));
  }
}
