package io.machinery.client.redis.testing;

import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import io.machinery.testkit.OwnRedisServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A Sentinel group of a test's own, for failover tests: a primary, its replica and one Sentinel
 * that monitors them under a master name (quorum 1), each a {@link OwnRedisServer}.
 *
 * <p>{@link #start} returns once the Sentinel sees the replica in sync, so a {@code SENTINEL
 * FAILOVER} can pick it at once: the Sentinel reads its servers' {@code INFO} every 500 ms instead
 * of every 10 s ({@code SENTINEL DEBUG INFO-PERIOD}), and picks only a replica it read in the last
 * 5 s. The group subscribes to the Sentinel's {@code +switch-master} and records when it first saw
 * the master name's switch ({@link #switchSeenAt()}), about when the sessions under test see it.
 *
 * <p>Not thread-safe to set up and close; {@link #switchSeenAt()} may be read from any thread.
 * {@link #close()} stops the servers and the group's connections.
 */
public final class OwnSentinelGroup implements AutoCloseable {
  private final String masterName;
  private final Duration patience;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final RedisClient lettuce = RedisClient.create();
  private final AtomicLong switchSeenAt = new AtomicLong();
  private OwnRedisServer primary;
  private OwnRedisServer replica;
  private OwnRedisServer sentinel;
  private StatefulRedisSentinelConnection<String, String> admin;

  private OwnSentinelGroup(String masterName, Duration patience) {
    this.masterName = masterName;
    this.patience = patience;
  }

  /**
   * Starts a primary, its replica and a Sentinel monitoring them as {@code masterName}, and waits
   * (at most {@code patience}) until the Sentinel sees the replica in sync.
   *
   * @param patience how long this group waits for the Sentinel, here and in {@link #awaitSwitch()}
   * @throws IOException when a server's directory cannot be made
   */
  public static OwnSentinelGroup start(String masterName, Duration patience) throws IOException {
    OwnSentinelGroup group = new OwnSentinelGroup(masterName, patience);
    try {
      group.startServers();
      return group;
    } catch (IOException | RuntimeException | Error e) {
      group.close();
      throw e;
    }
  }

  private void startServers() throws IOException {
    primary = startServer("primary");
    int primaryPort = primary.port();
    replica = startServer("replica", "--replicaof", "127.0.0.1", Integer.toString(primaryPort));
    int replicaPort = replica.port();
    int sentinelPort = OwnRedisServer.freePort();
    Path directory = Files.createTempDirectory("redis-sentinel-" + masterName + "-sentinel");
    Files.writeString(
        directory.resolve("sentinel.conf"),
        "port "
            + sentinelPort
            + "\nbind 127.0.0.1\nsentinel monitor "
            + masterName
            + " 127.0.0.1 "
            + primaryPort
            + " 1\n");
    sentinel =
        OwnRedisServer.start(directory, sentinelPort, List.of("sentinel.conf", "--sentinel"));
    toClose.add(sentinel);
    admin = lettuce.connectSentinel(RedisURI.create("127.0.0.1", sentinelPort));
    toClose.add(admin);
    // the Sentinel picks only a replica whose INFO it read in the last 5 s (every 10 s by default)
    admin
        .sync()
        .dispatch(
            CommandType.SENTINEL,
            new StatusOutput<>(StringCodec.UTF8),
            new CommandArgs<>(StringCodec.UTF8).add("DEBUG").add("INFO-PERIOD").add(500));
    await()
        .atMost(patience)
        .until(
            () ->
                admin.sync().replicas(masterName).stream()
                    .anyMatch(
                        r ->
                            r.get("port").equals(Integer.toString(replicaPort))
                                && r.get("flags").equals("slave")
                                && "ok".equals(r.get("master-link-status"))));
    StatefulRedisPubSubConnection<String, String> events =
        lettuce.connectPubSub(RedisURI.create("127.0.0.1", sentinelPort));
    toClose.add(events);
    events.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            if (message.startsWith(masterName + " ")) {
              switchSeenAt.compareAndSet(0, System.nanoTime());
            }
          }
        });
    events.sync().subscribe("+switch-master");
  }

  /** A Redis server without persistence, on a free port; closed with the group. */
  private OwnRedisServer startServer(String role, String... more) throws IOException {
    int port = OwnRedisServer.freePort();
    List<String> args = new ArrayList<>(List.of("--appendonly", "no"));
    args.addAll(List.of(more));
    OwnRedisServer server =
        OwnRedisServer.start(
            Files.createTempDirectory("redis-sentinel-" + masterName + "-" + role),
            port,
            OwnRedisServer.plainArgs(port, args.toArray(String[]::new)));
    toClose.add(server);
    return server;
  }

  /** The master name the Sentinel monitors the primary under. */
  public String masterName() {
    return masterName;
  }

  /** The server that was the primary when the group started. */
  public OwnRedisServer primary() {
    return primary;
  }

  /** The server that was the primary's replica when the group started. */
  public OwnRedisServer replica() {
    return replica;
  }

  /** The Sentinel. */
  public OwnRedisServer sentinel() {
    return sentinel;
  }

  /** The Sentinel's URL, {@code redis://127.0.0.1:<port>} (a session adds the master name). */
  public String sentinelUrl() {
    return "redis://127.0.0.1:" + sentinel.port();
  }

  /** The group's connection to the Sentinel, to ask it or change its settings. */
  public StatefulRedisSentinelConnection<String, String> admin() {
    return admin;
  }

  /** A new plain Lettuce connection to one server; the caller closes it. */
  public StatefulRedisConnection<String, String> connect(OwnRedisServer server) {
    return lettuce.connect(RedisURI.create("127.0.0.1", server.port()));
  }

  /**
   * When the group first saw the Sentinel announce a new primary for the master name ({@code
   * +switch-master}), as {@link System#nanoTime()}, or 0 while it saw none.
   */
  public long switchSeenAt() {
    return switchSeenAt.get();
  }

  /** Whether the group saw the Sentinel announce a new primary for the master name. */
  public boolean switched() {
    return switchSeenAt.get() != 0;
  }

  /**
   * Asks the Sentinel for a failover ({@code SENTINEL FAILOVER}) and returns at once.
   *
   * @throws AssertionError when the Sentinel refuses
   */
  public void requestFailover() {
    String reply = admin.sync().failover(masterName);
    if (!"OK".equals(reply)) {
      throw new AssertionError("SENTINEL FAILOVER " + masterName + " answered " + reply);
    }
  }

  /**
   * Waits until the group saw the Sentinel announce a new primary, at most the group's patience.
   *
   * @return {@link #switchSeenAt()}
   */
  public long awaitSwitch() {
    await().atMost(patience).until(this::switched);
    return switchSeenAt.get();
  }

  /** {@link #requestFailover()}, then {@link #awaitSwitch()}. */
  public long failover() {
    requestFailover();
    return awaitSwitch();
  }

  /** Closes the group's connections and stops the Sentinel, the replica and the primary. */
  @Override
  public void close() {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      try {
        toClose.get(i).close();
      } catch (Exception e) {
        // the rest still closes
      }
    }
    toClose.clear();
    lettuce.shutdown();
  }
}
