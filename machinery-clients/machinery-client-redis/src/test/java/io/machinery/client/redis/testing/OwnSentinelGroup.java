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
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * A Sentinel group of a test's own, for failover tests: a primary, its replica and one Sentinel or
 * more that monitor them under a master name (quorum 1), each a {@link OwnRedisServer}. A test may
 * stop a Sentinel and start it again ({@link #stopSentinel}, {@link #startSentinel}), on the same
 * port and with the state it saved.
 *
 * <p>{@link #start} returns once every Sentinel sees the replica in sync, so a {@code SENTINEL
 * FAILOVER} can pick it at once: a Sentinel reads its servers' {@code INFO} every 500 ms instead of
 * every 10 s ({@code SENTINEL DEBUG INFO-PERIOD}), and picks only a replica it read in the last 5
 * s. The group subscribes to every running Sentinel's {@code +switch-master} and records when it
 * first saw the master name's switch ({@link #switchSeenAt()}), about when the sessions under test
 * see it. The group's own connections to the Sentinels are named {@value #CLIENT_NAME}, so that a
 * test can tell its sessions' subscriptions from them ({@link #othersSubscribedTo}).
 *
 * <p>Not thread-safe to set up, stop or start Sentinels and close; {@link #switchSeenAt()} may be
 * read from any thread. {@link #close()} stops the servers and the group's connections.
 */
public final class OwnSentinelGroup implements AutoCloseable {
  /** The client name of the group's own connections to its Sentinels. */
  public static final String CLIENT_NAME = "own-sentinel-group";

  private final String masterName;
  private final Duration patience;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final RedisClient lettuce = RedisClient.create();
  private final AtomicLong switchSeenAt = new AtomicLong();
  private final List<Sentinel> sentinels = new ArrayList<>();
  private OwnRedisServer primary;
  private OwnRedisServer replica;

  /** One Sentinel: its port and directory outlive its process, so it can start again. */
  private static final class Sentinel {
    final int port;
    final Path directory;
    OwnRedisServer server;
    boolean running;
    StatefulRedisSentinelConnection<String, String> admin;
    StatefulRedisPubSubConnection<String, String> events;

    Sentinel(int port, Path directory) {
      this.port = port;
      this.directory = directory;
    }
  }

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
    return start(masterName, patience, 1);
  }

  /**
   * {@link #start(String, Duration)} with {@code sentinels} Sentinels (each of quorum 1, so each
   * may fail the primary over alone); {@link #sentinel()} and {@link #admin()} are the first's.
   *
   * @throws IOException when a server's directory cannot be made
   * @throws IllegalArgumentException when {@code sentinels} is not positive
   */
  public static OwnSentinelGroup start(String masterName, Duration patience, int sentinels)
      throws IOException {
    if (sentinels < 1) {
      throw new IllegalArgumentException("a Sentinel group needs a Sentinel; got " + sentinels);
    }
    OwnSentinelGroup group = new OwnSentinelGroup(masterName, patience);
    try {
      group.startServers(sentinels);
      return group;
    } catch (IOException | RuntimeException | Error e) {
      group.close();
      throw e;
    }
  }

  private void startServers(int count) throws IOException {
    primary = startServer("primary");
    int primaryPort = primary.port();
    replica = startServer("replica", "--replicaof", "127.0.0.1", Integer.toString(primaryPort));
    for (int i = 0; i < count; i++) {
      int port = OwnRedisServer.freePort();
      Path directory = Files.createTempDirectory("redis-sentinel-" + masterName + "-sentinel");
      Files.writeString(
          directory.resolve("sentinel.conf"),
          "port "
              + port
              // IPv6 loopback as well where there is one (the "-": not an error where not)
              + "\nbind 127.0.0.1 -::1\nsentinel monitor "
              + masterName
              + " 127.0.0.1 "
              + primaryPort
              + " 1\n");
      sentinels.add(new Sentinel(port, directory));
      startSentinel(i);
    }
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

  /**
   * Starts Sentinel {@code index} (0 for the first), again after {@link #stopSentinel}: on its
   * port, with the configuration and state it saved. Returns once it sees a replica of the master
   * name in sync (at most the group's patience).
   *
   * @throws IOException when the Sentinel cannot be started
   * @throws IllegalStateException when it is running
   */
  public void startSentinel(int index) throws IOException {
    Sentinel sentinel = sentinels.get(index);
    if (sentinel.running) {
      throw new IllegalStateException("Sentinel " + index + " is running");
    }
    sentinel.server =
        OwnRedisServer.start(
            sentinel.directory, sentinel.port, List.of("sentinel.conf", "--sentinel"));
    sentinel.running = true;
    RedisURI uri =
        RedisURI.builder()
            .withHost("127.0.0.1")
            .withPort(sentinel.port)
            .withClientName(CLIENT_NAME)
            .build();
    sentinel.admin = lettuce.connectSentinel(uri);
    // the Sentinel picks only a replica whose INFO it read in the last 5 s (every 10 s by default)
    sentinel
        .admin
        .sync()
        .dispatch(
            CommandType.SENTINEL,
            new StatusOutput<>(StringCodec.UTF8),
            new CommandArgs<>(StringCodec.UTF8).add("DEBUG").add("INFO-PERIOD").add(500));
    await()
        .atMost(patience)
        .until(
            () ->
                sentinel.admin.sync().replicas(masterName).stream()
                    .anyMatch(
                        r ->
                            r.get("flags").equals("slave")
                                && "ok".equals(r.get("master-link-status"))));
    sentinel.events = lettuce.connectPubSub(uri);
    sentinel.events.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            if (message.startsWith(masterName + " ")) {
              switchSeenAt.compareAndSet(0, System.nanoTime());
            }
          }
        });
    sentinel.events.sync().subscribe("+switch-master");
  }

  /**
   * Stops Sentinel {@code index} (0 for the first) and the group's connections to it; {@link
   * #startSentinel} starts it again. Does nothing when it is stopped.
   */
  public void stopSentinel(int index) {
    Sentinel sentinel = sentinels.get(index);
    if (!sentinel.running) {
      return;
    }
    sentinel.running = false;
    for (AutoCloseable c : new AutoCloseable[] {sentinel.events, sentinel.admin, sentinel.server}) {
      closeQuietly(c);
    }
    sentinel.events = null;
    sentinel.admin = null;
  }

  /** The master name the Sentinels monitor the primary under. */
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

  /** The first Sentinel (its latest process: a stopped one's is stopped). */
  public OwnRedisServer sentinel() {
    return sentinel(0);
  }

  /** Sentinel {@code index} (its latest process: a stopped one's is stopped). */
  public OwnRedisServer sentinel(int index) {
    return sentinels.get(index).server;
  }

  /**
   * The Sentinels' URL, {@code redis://127.0.0.1:<port>[,127.0.0.1:<port>...]}, every Sentinel of
   * the group, running or not, in order (a session adds the master name).
   */
  public String sentinelUrl() {
    return "redis://"
        + sentinels.stream().map(s -> "127.0.0.1:" + s.port).collect(Collectors.joining(","));
  }

  /** The group's connection to the first Sentinel, to ask it or change its settings. */
  public StatefulRedisSentinelConnection<String, String> admin() {
    return admin(0);
  }

  /**
   * The group's connection to Sentinel {@code index}.
   *
   * @throws IllegalStateException when that Sentinel is stopped
   */
  public StatefulRedisSentinelConnection<String, String> admin(int index) {
    Sentinel sentinel = sentinels.get(index);
    if (!sentinel.running) {
      throw new IllegalStateException("Sentinel " + index + " is stopped");
    }
    return sentinel.admin;
  }

  /**
   * The clients of Sentinel {@code index} other than the group's own that are subscribed to a
   * channel, one {@code CLIENT LIST} line each: the subscriptions of the sessions under test.
   *
   * @throws IllegalStateException when that Sentinel is stopped
   */
  public List<String> othersSubscribedTo(int index) {
    return admin(index)
        .sync()
        .clientList()
        .lines()
        .filter(line -> !Arrays.asList(line.split(" ")).contains("name=" + CLIENT_NAME))
        .filter(line -> Arrays.stream(line.split(" ")).anyMatch(f -> f.matches("sub=[1-9]\\d*")))
        .toList();
  }

  /** A new plain Lettuce connection to one server; the caller closes it. */
  public StatefulRedisConnection<String, String> connect(OwnRedisServer server) {
    return lettuce.connect(RedisURI.create("127.0.0.1", server.port()));
  }

  /**
   * When the group first saw a Sentinel announce a new primary for the master name ({@code
   * +switch-master}), as {@link System#nanoTime()}, or 0 while it saw none.
   */
  public long switchSeenAt() {
    return switchSeenAt.get();
  }

  /** Whether the group saw a Sentinel announce a new primary for the master name. */
  public boolean switched() {
    return switchSeenAt.get() != 0;
  }

  /**
   * Asks the first Sentinel for a failover ({@code SENTINEL FAILOVER}) and returns at once.
   *
   * @throws AssertionError when the Sentinel refuses
   */
  public void requestFailover() {
    requestFailover(0);
  }

  /**
   * Asks Sentinel {@code index} for a failover ({@code SENTINEL FAILOVER}, which needs no other
   * Sentinel's agreement) and returns at once.
   *
   * @throws AssertionError when the Sentinel refuses
   * @throws IllegalStateException when that Sentinel is stopped
   */
  public void requestFailover(int index) {
    String reply = admin(index).sync().failover(masterName);
    if (!"OK".equals(reply)) {
      throw new AssertionError("SENTINEL FAILOVER " + masterName + " answered " + reply);
    }
  }

  /**
   * Waits until the group saw a Sentinel announce a new primary, at most the group's patience.
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

  /** Closes the group's connections and stops the Sentinels, the replica and the primary. */
  @Override
  public void close() {
    for (int i = sentinels.size() - 1; i >= 0; i--) {
      stopSentinel(i);
    }
    for (int i = toClose.size() - 1; i >= 0; i--) {
      closeQuietly(toClose.get(i));
    }
    toClose.clear();
    lettuce.shutdown();
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      if (c != null) {
        c.close();
      }
    } catch (Exception e) {
      // the rest still closes
    }
  }
}
