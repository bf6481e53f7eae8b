package io.machinery.client.redis;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisAsyncCommandsImpl;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.UnblockType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.event.connection.ConnectionActivatedEvent;
import io.lettuce.core.event.connection.ReconnectAttemptEvent;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.protocol.RedisCommand;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.NettyCustomizer;
import io.lettuce.core.resource.Transports;
import io.machinery.MachineryException;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Lettuce client and one shared, multiplexed asynchronous connection to a Redis deployment,
 * plus dedicated connections for blocking commands on request.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Topology</b> follows Go's rules: a Sentinel master name ({@link
 *       RedisConfig#masterName()}) makes the URL's hosts Sentinels; {@link
 *       RedisConfig#clusterEnabled()} or several hosts make them cluster seeds; otherwise one
 *       server (TCP or unix socket). TLS comes from {@code rediss://} or {@link Config#tls()}.
 *   <li><b>One shared connection.</b> Every thread sends through {@link #commands()}; Lettuce
 *       pipelines the commands of concurrent callers on one socket (per cluster node), and commands
 *       sent by one thread run in the order sent. Blocking commands ({@code BLMOVE}) would stall
 *       it, so they get a dedicated connection from {@link #openBlocking()}.
 *   <li><b>Failures.</b> A caller waits for a reply at most {@link RedisConfig#readTimeout()}
 *       ({@link #await}); Lettuce keeps no timer per command (that costs a timer task per command
 *       on a busy connection). A lost connection is re-established by Lettuce in the background;
 *       commands sent meanwhile are sent then, except those whose caller gave up: {@link #await}
 *       cancels a command on its timeout, so a {@code sendTask} reported as failed is not enqueued
 *       after the reconnect (a caller's retry would duplicate it). Commands nobody waits for
 *       (heartbeats, settlements) may still be sent late; they are idempotent. The request queue is
 *       bounded ({@value #REQUEST_QUEUE_SIZE} commands): during a long outage further commands fail
 *       at once instead of filling the heap. Connection losses and recoveries are logged once each,
 *       without credentials.
 *   <li><b>Batches</b> ({@link #batch()}, single node only): the commands one thread issues through
 *       {@link #commands()} while its batch is open are handed to Lettuce together when it closes,
 *       in one write to the socket. A send's PENDING {@code SET} and its {@code RPUSH} then cost
 *       one hand-off to the I/O thread, one packet each way and one read for Redis, instead of two
 *       of each. A thread that waits for a reply ({@link #await}) while its batch holds commands
 *       sends them first, so a wait inside a batch cannot stall until the timeout.
 *   <li><b>Failover behind one address.</b> A {@code READONLY} reply on a single-node connection
 *       (the shared one or a blocking one) means the server was demoted to a replica while the
 *       address (a DNS name, a proxy, Sentinel's master) moved on: {@link ReadOnlyReplicaGuard}
 *       drops that connection so that Lettuce reconnects to the new primary, once per interval
 *       however many replies say so; the command so answered fails to its caller. With Sentinel,
 *       the reconnect asks the Sentinels for the master again. A cluster needs none of it: a
 *       demoted node answers commands on keys with {@code MOVED}, which Lettuce follows and which
 *       triggers its topology refresh. Lettuce does neither for a blocking connection, which sends
 *       straight to the node owning the key: a failover ends its command there ({@code MOVED}, or
 *       {@code UNBLOCKED} when a blocked primary turns replica) before it ran, so the connection
 *       sends the command again to the new owner (the node {@code MOVED} names, else the owner
 *       after a topology refresh) and refreshes the topology ({@link BlockingConnection#block}).
 *   <li><b>Sentinel failover.</b> A Sentinel promotes a replica without stopping the old primary,
 *       which goes on taking (and later loses) writes for about ten seconds: the session listens to
 *       the Sentinels' {@code +switch-master} ({@link SentinelSwitchListener}) and drops its
 *       connections the moment one announces the new primary, as go-redis' failover client does.
 *       Each time a subscription becomes live it asks that Sentinel for the primary, so that an
 *       announcement made while it was down is not lost; it also listens to the Sentinels that
 *       those of the URL name ({@code SENTINEL SENTINELS}), and asks them for the primary when
 *       those of the URL do not answer.
 * </ul>
 *
 * <p>Thread-safe. Whoever opens a session closes it; {@link #close()} also closes its blocking
 * connections.
 *
 * <p>Size: the one place every Redis module's commands pass through (a connection shared per URL,
 * command timeouts after which nothing is sent late, pipelining, single node and cluster);
 * splitting it would split those invariants.
 */
public final class RedisSession implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisSession.class);

  /**
   * How many times a blocking command on a cluster is sent again after a failover ended it: once to
   * the new owner, and once more should that node answer {@code MOVED} (its view of the topology
   * was behind).
   */
  private static final int RESENDS_AFTER_FAILOVER = 2;

  /**
   * The longest wait between two attempts to reconnect a lost connection. Lettuce's default doubles
   * the wait from 1 ms up to 30 s, so after an outage of half a minute a worker went on up to 30 s
   * after Redis was back; go-redis (Go Machinery's client) dials again on the next command.
   * Attempts here wait 1 ms, 2 ms, ... doubling, then half to all of a second (equal jitter, so
   * that many workers do not all come back in the same instant): a worker goes on within about a
   * second of Redis's return, at the cost of one refused connect a second per connection during an
   * outage.
   */
  static final Duration MAX_RECONNECT_DELAY = Duration.ofSeconds(1);

  /**
   * Callers bound their waits themselves ({@link #await}); a timer task per command costs too much.
   */
  private static final TimeoutOptions NO_COMMAND_TIMERS =
      TimeoutOptions.builder().timeoutCommands(false).build();

  /**
   * Many threads share one connection, each command flushed on its own; Netty's flush consolidation
   * turns the flushes of one event-loop turn into one write to the socket (fewer system calls for
   * us and for Redis).
   */
  private static final NettyCustomizer FLUSH_CONSOLIDATION =
      new NettyCustomizer() {
        @Override
        public void afterChannelInitialized(io.netty.channel.Channel channel) {
          channel.pipeline().addFirst(new FlushConsolidationHandler(256, true));
        }
      };

  /**
   * The most commands one connection buffers (in flight or waiting for a reconnect); more fail at
   * once.
   */
  static final int REQUEST_QUEUE_SIZE = 100_000;

  private static final RedisCodec<String, byte[]> CODEC =
      RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  private final RedisAddress address;
  private final ClientResources resources;
  private final AbstractRedisClient client;
  private final @Nullable RedisURI standaloneUri;

  /** The shared single-node connection's guard; null on a cluster. */
  private final @Nullable ReadOnlyReplicaGuard sharedGuard;

  /**
   * Listens to the Sentinels' announcements of a new primary; null without Sentinels (and until the
   * constructor made it: connections are recorded before).
   */
  private volatile @Nullable SentinelSwitchListener sentinelSwitches;

  private final StatefulConnection<String, byte[]> connection;
  private final RedisClusterAsyncCommands<String, byte[]> commands;
  private final boolean cluster;
  private final Duration timeout;
  private final List<BlockingConnection> blocking = new CopyOnWriteArrayList<>();
  private final reactor.core.Disposable eventSubscription;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Set<String> reconnecting = ConcurrentHashMap.newKeySet();

  /**
   * The {@code host:port} of the server this session connected to last (a Sentinel's excepted): the
   * primary it writes to, which {@link SentinelSwitchListener} compares with what the Sentinels
   * answer; null before the first connection is seen.
   */
  private final java.util.concurrent.atomic.AtomicReference<@Nullable String> connectedTo =
      new java.util.concurrent.atomic.AtomicReference<>();

  private final java.util.concurrent.atomic.AtomicLong reconnects =
      new java.util.concurrent.atomic.AtomicLong();

  /** Sessions handed out by {@link #shared}, by URL and settings; guarded by itself. */
  private static final java.util.Map<String, RedisSession> SHARED = new java.util.HashMap<>();

  /** This session's key in {@link #SHARED}, or null for one of its own ({@link #open}). */
  private final @Nullable String sharedKey;

  /** How many owners share this session and have not closed it yet; guarded by {@link #SHARED}. */
  private int owners = 1;

  private RedisSession(RedisAddress address, RedisConfig redis, boolean forceTls) {
    this(address, redis, forceTls, null);
  }

  private RedisSession(
      RedisAddress address, RedisConfig redis, boolean forceTls, @Nullable String sharedKey) {
    this.sharedKey = sharedKey;
    this.address = address;
    this.timeout =
        redis.readTimeout().isZero() || redis.readTimeout().isNegative()
            ? RedisConfig.DEFAULT.readTimeout()
            : redis.readTimeout();
    this.cluster =
        redis.masterName().isEmpty() && (redis.clusterEnabled() || address.hasSeveralHosts());
    boolean tls = address.tls() || forceTls;
    if (address.socketPath() != null && !Transports.NativeTransports.isDomainSocketSupported()) {
      throw new IllegalArgumentException(
          "redis+socket:// needs Netty's native transport on the class path"
              + " (io.netty:netty-transport-native-epoll, classifier linux-x86_64 or linux-aarch_64)");
    }
    this.resources =
        DefaultClientResources.builder()
            .nettyCustomizer(FLUSH_CONSOLIDATION)
            .reconnectDelay(
                () ->
                    Delay.equalJitter(
                        Duration.ZERO,
                        MAX_RECONNECT_DELAY,
                        1,
                        java.util.concurrent.TimeUnit.MILLISECONDS))
            .build();
    // the Sentinels' host:port, those the listener discovers included
    Set<String> sentinels = ConcurrentHashMap.newKeySet();
    if (!redis.masterName().isEmpty()) {
      for (RedisAddress.Host host : address.hosts()) {
        sentinels.add(ServerAddresses.canonical(host.host() + ":" + host.port()));
      }
    }
    this.eventSubscription =
        resources
            .eventBus()
            .get()
            .subscribe(
                event -> {
                  if (event instanceof ReconnectAttemptEvent e) {
                    String remote = hostAndPort(e.remoteAddress());
                    if (reconnecting.add(remote)) {
                      log.warn(
                          "Lost the Redis connection to {}; reconnecting in the background",
                          remote);
                    }
                  } else if (event instanceof ConnectionActivatedEvent e) {
                    String remote = hostAndPort(e.remoteAddress());
                    // the remote address is the one dialled: a host name as the URL or a
                    // Sentinel wrote it, an IP address in any spelling (canonical makes them one)
                    if (sentinels.contains(ServerAddresses.canonical(remote))) {
                      // a Sentinel asked for the primary, or a subscription to the Sentinels
                      if (reconnecting.remove(remote)) {
                        log.info("Reconnected to the Sentinel at {}", remote);
                      }
                      return;
                    }
                    connectedTo.set(remote);
                    SentinelSwitchListener listener = sentinelSwitches;
                    if (listener != null) {
                      listener.primaryKnown(); // an answer that came before this is compared now
                    }
                    if (!reconnecting.isEmpty()) {
                      // after a failover the connection comes back at another address (the new
                      // primary a Sentinel names): any activation while a reconnect is under way
                      // counts, at the risk of counting a new connection as one (an extra stray
                      // sweep for a broker), never of missing one
                      reconnecting.clear();
                      reconnects.incrementAndGet();
                      log.info("Reconnected to Redis at {}", remote);
                    }
                  }
                });
    SocketOptions socket =
        SocketOptions.builder()
            .connectTimeout(
                redis.connectTimeout().isZero()
                    ? RedisConfig.DEFAULT.connectTimeout()
                    : redis.connectTimeout())
            .keepAlive(true)
            .tcpNoDelay(true)
            .build();
    try {
      if (cluster) {
        if (address.database() != 0) {
          throw new IllegalArgumentException(
              "Redis Cluster has only database 0; the URL asks for " + address.database());
        }
        List<RedisURI> seeds = new ArrayList<>();
        for (RedisAddress.Host host : address.hosts()) {
          seeds.add(uri(RedisURI.Builder.redis(host.host(), host.port()), address, redis, tls));
        }
        RedisClusterClient clusterClient = RedisClusterClient.create(resources, seeds);
        clusterClient.setOptions(
            ClusterClientOptions.builder()
                .protocolVersion(ProtocolVersion.RESP2)
                .socketOptions(socket)
                .timeoutOptions(NO_COMMAND_TIMERS)
                .requestQueueSize(REQUEST_QUEUE_SIZE)
                .autoReconnect(true)
                // Lettuce 7 refreshes on every adaptive trigger (MOVED, ASK, reconnects, ...) by
                // default; add a
                // periodic refresh for changes no command runs into (a replica promoted while idle)
                .topologyRefreshOptions(
                    ClusterTopologyRefreshOptions.builder()
                        .enablePeriodicRefresh(Duration.ofSeconds(30))
                        .build())
                .build());
        this.client = clusterClient;
        this.standaloneUri = null;
        this.sharedGuard = null;
        this.sentinelSwitches = null;
        StatefulRedisClusterConnection<String, byte[]> c = clusterClient.connect(CODEC);
        this.connection = c;
        this.commands = c.async();
      } else {
        RedisURI uri = standaloneUri(address, redis, tls);
        List<RedisURI> discoveredSentinels = new CopyOnWriteArrayList<>();
        RedisClient redisClient = new AsyncOnlyRedisClient(resources, uri, discoveredSentinels);
        redisClient.setOptions(
            ClientOptions.builder()
                .protocolVersion(ProtocolVersion.RESP2)
                .socketOptions(socket)
                .timeoutOptions(NO_COMMAND_TIMERS)
                .requestQueueSize(REQUEST_QUEUE_SIZE)
                .autoReconnect(true)
                .build());
        this.client = redisClient;
        this.standaloneUri = uri;
        StatefulRedisConnection<String, byte[]> c = redisClient.connect(CODEC, uri);
        this.connection = c;
        this.sharedGuard =
            new ReadOnlyReplicaGuard(c, address.toString(), resources.eventExecutorGroup());
        this.commands = new BatchingCommands(c, sharedGuard);
        SentinelSwitchListener listener =
            uri.getSentinels().isEmpty()
                ? null
                : new SentinelSwitchListener(
                    redisClient,
                    uri.getSentinels(),
                    sentinels,
                    discoveredSentinels,
                    redis.masterName(),
                    connectedTo::get,
                    this::primaryMoved);
        this.sentinelSwitches = listener;
        if (listener != null) {
          listener.primaryKnown(); // a connection recorded before the listener was set
        }
      }
    } catch (RuntimeException e) {
      shutdownClientQuietly();
      if (e instanceof IllegalArgumentException) {
        throw e;
      }
      throw new MachineryException(
          "could not connect to Redis at " + address + ": " + message(e), e);
    }
  }

  /**
   * Connects to the Redis deployment at {@code url} (one of {@code config}'s broker, result backend
   * or lock URLs) with {@code config}'s Redis settings.
   *
   * @throws IllegalArgumentException when the URL is not a Redis URL or asks for something
   *     impossible
   * @throws MachineryException when Redis cannot be reached
   */
  public static RedisSession open(String url, Config config) {
    return new RedisSession(RedisAddress.parse(url), config.redis(), config.tls());
  }

  /**
   * The session of this JVM for {@code url} and {@code config}'s Redis and TLS settings: the first
   * call connects, later ones with the same URL and settings share that connection (a broker and a
   * backend on the same Redis: one connection and one set of I/O threads, and commands issued in
   * order by one thread are applied in that order, which lets a send pipeline its PENDING write
   * with its push). Each caller closes it once; the connection closes when the last one did.
   *
   * @throws IllegalArgumentException when the URL is not a Redis URL or asks for something
   *     impossible
   * @throws MachineryException when Redis cannot be reached
   */
  public static RedisSession shared(String url, Config config) {
    String key = url + '\u0000' + config.redis() + '\u0000' + config.tls();
    synchronized (SHARED) {
      RedisSession session = SHARED.get(key);
      if (session != null && !session.closed.get()) {
        session.owners++;
        return session;
      }
      session = new RedisSession(RedisAddress.parse(url), config.redis(), config.tls(), key);
      SHARED.put(key, session);
      return session;
    }
  }

  /**
   * A Sentinel announced {@code newPrimary}: drops the shared and the blocking connections, which
   * may still be on the old primary, so that they reconnect to the new one (see {@link
   * SentinelSwitchListener}).
   */
  private void primaryMoved(String newPrimary) {
    if (closed.get()) {
      return;
    }
    log.warn(
        "A Sentinel announced {} as the new primary of {}; moving this session's connections there",
        newPrimary,
        address);
    if (sharedGuard != null) {
      sharedGuard.primaryMoved(newPrimary);
    }
    for (BlockingConnection c : blocking) {
      if (c.readOnlyGuard != null) {
        c.readOnlyGuard.primaryMoved(newPrimary);
      }
    }
  }

  /** Connects to {@code address} with {@code redis}'s settings; TLS when the address says so. */
  public static RedisSession open(RedisAddress address, RedisConfig redis) {
    return new RedisSession(Objects.requireNonNull(address), Objects.requireNonNull(redis), false);
  }

  /** The Lettuce URI of a single node, a unix socket or, given a master name, the Sentinels. */
  static RedisURI standaloneUri(RedisAddress address, RedisConfig redis, boolean tls) {
    String socketPath = address.socketPath();
    if (socketPath != null) {
      return uri(RedisURI.Builder.socket(socketPath), address, redis, false);
    }
    if (!redis.masterName().isEmpty()) {
      if (address.hosts().isEmpty()) {
        throw new IllegalArgumentException(
            "a Sentinel setup needs at least one Sentinel host in the URL");
      }
      // not RedisURI.Builder.sentinel(host, port, master): that adds its host as a Sentinel of its
      // own, without the Sentinel password, so the first Sentinel came twice (asked twice for the
      // primary, subscribed to twice, and once in vain where the Sentinels want a password)
      RedisURI.Builder builder = RedisURI.builder().withSentinelMasterId(redis.masterName());
      for (RedisAddress.Host host : address.hosts()) {
        RedisURI.Builder sentinel = RedisURI.Builder.redis(host.host(), host.port());
        if (!redis.sentinelPassword().isEmpty()) {
          sentinel.withPassword(redis.sentinelPassword().toCharArray());
        }
        if (tls) {
          sentinel.withSsl(true);
        }
        builder.withSentinel(sentinel.build());
      }
      return uri(builder, address, redis, tls);
    }
    RedisAddress.Host host = address.hosts().get(0);
    return uri(RedisURI.Builder.redis(host.host(), host.port()), address, redis, tls);
  }

  private static RedisURI uri(
      RedisURI.Builder builder, RedisAddress address, RedisConfig redis, boolean tls) {
    builder
        .withDatabase(address.database())
        .withTimeout(
            redis.readTimeout().isZero() ? RedisConfig.DEFAULT.readTimeout() : redis.readTimeout());
    if (address.hasPassword()) {
      if (address.username().isEmpty()) {
        builder.withPassword(address.password().toCharArray());
      } else {
        builder.withAuthentication(address.username(), address.password().toCharArray());
      }
    }
    if (tls) {
      builder.withSsl(true);
    }
    if (!redis.clientName().isEmpty()) {
      builder.withClientName(redis.clientName());
    }
    return builder.build();
  }

  /** The shared asynchronous commands; safe to use from any thread. */
  public RedisClusterAsyncCommands<String, byte[]> commands() {
    return commands;
  }

  /**
   * What stands for this session's ordering of writes: commands issued one after the other by one
   * thread are applied by Redis in that order, so a broker and a backend sharing this session may
   * pipeline dependent writes (see {@code Broker.writeOrder()}). Empty on a cluster: commands to
   * keys in different slots travel on different node connections, in no order.
   */
  public java.util.Optional<Object> writeOrder() {
    return cluster ? java.util.Optional.empty() : java.util.Optional.of(this);
  }

  /**
   * Whether this session talks to a Redis Cluster (multi-key commands must then stay in one slot).
   */
  public boolean isCluster() {
    return cluster;
  }

  /** Where this session connects to, without credentials. */
  public RedisAddress address() {
    return address;
  }

  /** The command timeout ({@link RedisConfig#readTimeout()}). */
  public Duration commandTimeout() {
    return timeout;
  }

  /** The session's event bus (connections lost, reconnect attempts): for tests. */
  io.lettuce.core.event.EventBus eventBus() {
    return resources.eventBus();
  }

  /**
   * How many times a lost connection of this session was re-established so far (also after this
   * session dropped a connection to a server that turned replica, or to the old primary when a
   * Sentinel announced a new one). After a reconnect Lettuce sends again the commands that were in
   * flight, so a command whose reply was lost may have run twice; callers that must notice that
   * compare this count.
   */
  public long reconnects() {
    return reconnects.get();
  }

  /** Whether the shared connection is currently up. */
  public boolean isConnected() {
    return connection.isOpen();
  }

  /**
   * A new connection of its own, for blocking commands; closed with this session at the latest.
   *
   * @throws MachineryException when Redis cannot be reached
   */
  public BlockingConnection openBlocking() {
    checkOpen();
    try {
      StatefulConnection<String, byte[]> c =
          client instanceof RedisClusterClient clusterClient
              ? clusterClient.connect(CODEC)
              : ((RedisClient) client).connect(CODEC, Objects.requireNonNull(standaloneUri));
      BlockingConnection result =
          new BlockingConnection(
              c,
              cluster
                  ? null
                  : new ReadOnlyReplicaGuard(
                      c, address + " (blocking)", resources.eventExecutorGroup()));
      blocking.add(result);
      return result;
    } catch (RedisConnectionException e) {
      throw new MachineryException(
          "could not connect to Redis at " + address + ": " + message(e), e);
    }
  }

  /**
   * A dedicated connection for blocking commands, one at a time, that another thread can cut short.
   * Thread-safe; closing it twice is harmless.
   */
  public final class BlockingConnection implements AutoCloseable {
    private final StatefulConnection<String, byte[]> connection;
    private volatile long clientId = -1;
    private volatile @Nullable String nodeId;
    private volatile boolean blocked;
    private final @Nullable ReadOnlyReplicaGuard readOnlyGuard;

    private BlockingConnection(
        StatefulConnection<String, byte[]> connection,
        @Nullable ReadOnlyReplicaGuard readOnlyGuard) {
      this.connection = connection;
      this.readOnlyGuard = readOnlyGuard;
    }

    /**
     * Sends the blocking {@code command} about {@code key} on this connection (on a cluster,
     * straight to the node owning the key's slot), preceded by {@code CLIENT ID} so that {@link
     * #interrupt()} can find it.
     *
     * <p>On a cluster, a failover of that node ends the command there: the node answers {@code
     * MOVED} (it no longer holds the slot) or {@code UNBLOCKED} (it turned replica), and the
     * command did not run. The connection then sends the command again to the slot's new primary
     * (the node a {@code MOVED} names, else the owner in the refreshed topology), so the caller
     * sees a routine failover as a longer wait (about the time to the failover), not as an error.
     * {@code command} may therefore be applied more than once, then on one of Lettuce's threads;
     * the returned future completes with the last application's reply, and cancelling it cancels
     * the command in flight.
     */
    public <T> CompletableFuture<T> block(
        String key, Function<RedisClusterAsyncCommands<String, byte[]>, RedisFuture<T>> command) {
      if (connection instanceof StatefulRedisClusterConnection<String, byte[]> cc) {
        CompletableFuture<T> result = new CompletableFuture<>();
        RedisClusterNode owner = cc.getPartitions().getPartitionBySlot(RedisKeys.slot(key));
        if (owner == null) {
          blockOnNode(cc.async(), null, key, command, result, 0);
        } else {
          blockOnNode(
              cc.getConnection(owner.getNodeId()).async(),
              owner.getNodeId(),
              key,
              command,
              result,
              RESENDS_AFTER_FAILOVER);
        }
        return result;
      }
      CompletableFuture<T> reply =
          send(((StatefulRedisConnection<String, byte[]>) connection).async(), null, command);
      reply.whenComplete(
          (value, error) -> {
            blocked = false;
            if (error != null && readOnlyGuard != null) {
              readOnlyGuard.failure(error);
            }
          });
      return reply;
    }

    /** Sends {@code command} to {@code target} ({@code node} on a cluster) behind a CLIENT ID. */
    private <T> CompletableFuture<T> send(
        RedisClusterAsyncCommands<String, byte[]> target,
        @Nullable String node,
        Function<RedisClusterAsyncCommands<String, byte[]>, RedisFuture<T>> command) {
      nodeId = node;
      blocked = true;
      target.clientId().thenAccept(id -> clientId = id);
      return command.apply(target).toCompletableFuture();
    }

    /**
     * Sends {@code command} on a cluster node's connection ({@code node} null: routed by Lettuce)
     * and completes {@code result} with its reply; when a failover of the node ended it, sends it
     * again to the slot's owner ({@link #resend}), at most {@code resends} more times. Cancelling
     * {@code result} (a caller that gave up) cancels the command in flight.
     */
    private <T> void blockOnNode(
        RedisClusterAsyncCommands<String, byte[]> target,
        @Nullable String node,
        String key,
        Function<RedisClusterAsyncCommands<String, byte[]>, RedisFuture<T>> command,
        CompletableFuture<T> result,
        int resends) {
      CompletableFuture<T> reply = send(target, node, command);
      result.whenComplete(
          (value, error) -> {
            if (result.isCancelled()) {
              reply.cancel(false);
            }
          });
      reply.whenComplete(
          (value, error) -> {
            if (error == null) {
              blocked = false;
              result.complete(value);
            } else if (resends > 0 && endedByFailover(error) && !closed.get()) {
              log.debug(
                  "A failover of Redis Cluster node {} ended a blocking command ({}); sending it to"
                      + " the new owner of its slot",
                  node,
                  message(error));
              resend(key, command, result, error, resends - 1);
            } else {
              blocked = false;
              result.completeExceptionally(error);
            }
          });
    }

    /**
     * Sends {@code command} to the new owner of {@code key}'s slot: the node a {@code MOVED} reply
     * names, else (an {@code UNBLOCKED} reply) the owner in the refreshed topology; on Lettuce's
     * event executors, never blocking an I/O thread. The topology is refreshed either way, for the
     * commands after. {@code result} fails with {@code ended} when no owner can be reached.
     */
    private <T> void resend(
        String key,
        Function<RedisClusterAsyncCommands<String, byte[]>, RedisFuture<T>> command,
        CompletableFuture<T> result,
        Throwable ended,
        int resends) {
      StatefulRedisClusterConnection<String, byte[]> cc =
          (StatefulRedisClusterConnection<String, byte[]>) connection;
      clientId = -1; // the next node's connection has another id
      CompletableFuture<Void> refreshed =
          ((RedisClusterClient) client).refreshPartitionsAsync().toCompletableFuture();
      RedisClusterNode named = movedTo(ended, cc);
      CompletableFuture<@Nullable RedisClusterNode> owner =
          named != null
              ? CompletableFuture.completedFuture(named)
              : refreshed.thenApply(
                  done -> cc.getPartitions().getPartitionBySlot(RedisKeys.slot(key)));
      owner
          .thenComposeAsync(
              node -> {
                if (node == null) {
                  return CompletableFuture.failedFuture(ended);
                }
                return cc.getConnectionAsync(node.getNodeId())
                    .thenAccept(
                        c -> {
                          if (result.isDone()) {
                            blocked = false; // the caller gave up meanwhile
                          } else {
                            blockOnNode(c.async(), node.getNodeId(), key, command, result, resends);
                          }
                        });
              },
              resources.eventExecutorGroup())
          .whenComplete(
              (sent, failed) -> {
                if (failed != null && !result.isDone()) {
                  blocked = false;
                  log.debug("Resending a blocking command failed: {}", message(failed));
                  result.completeExceptionally(ended);
                }
              });
    }

    /**
     * Ends the blocking command in flight as if its timeout had passed ({@code CLIENT UNBLOCK <id>
     * TIMEOUT}, sent on the shared connection); does nothing when none is known to be in flight.
     * The command may not have reached the server yet: callers repeat this until it returns.
     */
    public void interrupt() {
      long id = clientId;
      if (id < 0 || !blocked || closed.get()) {
        return;
      }
      try {
        String node = nodeId;
        RedisClusterAsyncCommands<String, byte[]> via =
            node != null
                    && RedisSession.this.connection
                        instanceof StatefulRedisClusterConnection<String, byte[]> cc
                ? cc.getConnection(node).async()
                : commands;
        via.clientUnblock(id, UnblockType.TIMEOUT);
      } catch (RuntimeException e) {
        log.debug("CLIENT UNBLOCK failed: {}", e.toString());
      }
    }

    @Override
    public void close() {
      if (blocking.remove(this)) {
        try {
          connection.close();
        } catch (RuntimeException e) {
          log.debug("Closing a blocking Redis connection failed: {}", e.toString());
        }
      }
    }
  }

  /**
   * The known cluster node a {@code MOVED host:port} reply names, or null (another reply, or a node
   * the topology does not list yet).
   */
  private static @Nullable RedisClusterNode movedTo(
      Throwable reply, StatefulRedisClusterConnection<String, byte[]> cc) {
    String text = unwrapCompletion(reply).getMessage();
    if (text == null || !text.startsWith("MOVED ")) {
      return null;
    }
    String[] parts = text.split(" ");
    int colon = parts.length == 3 ? parts[2].lastIndexOf(':') : -1;
    if (colon < 0) {
      return null;
    }
    try {
      return cc.getPartitions()
          .getPartition(
              parts[2].substring(0, colon), Integer.parseInt(parts[2].substring(colon + 1)));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static Throwable unwrapCompletion(Throwable error) {
    return error instanceof CompletionException && error.getCause() != null
        ? error.getCause()
        : error;
  }

  /**
   * Whether a cluster node's reply says that a failover ended a command there before it ran: {@code
   * MOVED} (the node no longer holds the key's slot) or {@code UNBLOCKED ... master -> replica} (a
   * blocked command on a primary that turned replica).
   */
  static boolean endedByFailover(Throwable error) {
    Throwable cause = unwrapCompletion(error);
    String text = cause.getMessage();
    return cause instanceof RedisCommandExecutionException
        && text != null
        && (text.startsWith("MOVED ")
            || (text.startsWith("UNBLOCKED") && text.contains("master -> replica")));
  }

  /**
   * Waits for a command's reply, at most the command timeout.
   *
   * @throws MachineryException when the command failed or timed out, or the thread was interrupted
   *     (the interrupt flag is restored)
   */
  public <T> T await(CompletionStage<T> reply) {
    CompletableFuture<T> future = reply.toCompletableFuture();
    if (!future.isDone() && batches.get() != null) {
      flushBatch(); // the reply may wait in this thread's batch
    }
    try {
      // the deadline comes from the sweep of timed(): a timed wait would cost a timer per command
      // (on a
      // virtual thread, a task of the JDK's delay scheduler), several per task a worker runs
      return (future.isDone() ? future : timed(future)).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MachineryException("interrupted while waiting for Redis at " + address, e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw cause instanceof MachineryException m ? m : failure(cause);
    }
  }

  /**
   * A command's reply without waiting for it: {@link #await}'s rules, in a future. It fails with
   * the same {@link MachineryException} when the command failed or did not answer within the
   * command timeout, and a command still in Lettuce's buffer at the timeout is cancelled, so one
   * reported as failed is not sent later. No timer per command (that would cost more than the
   * command): every timeout has the same length, so the commands wait in one queue in deadline
   * order, which a sweep every {@value #SWEEP_MILLIS} ms walks from the head.
   */
  public <T> CompletableFuture<T> timed(CompletionStage<T> reply) {
    CompletableFuture<T> command = reply.toCompletableFuture();
    CompletableFuture<T> result = new CompletableFuture<>();
    command.whenComplete(
        (value, error) -> {
          if (error == null) {
            result.complete(value);
          } else {
            result.completeExceptionally(failure(error));
          }
        });
    return withDeadline(command, result);
  }

  /** Queues the deadline of a command whose caller holds {@code result}, unless it is answered. */
  private <R> CompletableFuture<R> withDeadline(
      CompletableFuture<?> command, CompletableFuture<R> result) {
    if (!result.isDone()) {
      deadlines.add(new Deadline(System.nanoTime() + timeout.toNanos(), command, result));
      if (sweeper == null) {
        startSweeper();
      }
    }
    return result;
  }

  static final long SWEEP_MILLIS = 50;

  /**
   * {@link #timed} for a write whose reply nobody reads: the future completes with null, without a
   * further stage to drop the reply.
   */
  public CompletableFuture<Void> timedDone(CompletionStage<?> reply) {
    CompletableFuture<?> command = reply.toCompletableFuture();
    CompletableFuture<Void> result = new CompletableFuture<>();
    command.whenComplete(
        (value, error) -> {
          if (error == null) {
            result.complete(null);
          } else {
            result.completeExceptionally(failure(error));
          }
        });
    return withDeadline(command, result);
  }

  /**
   * {@link #timedDone} for many writes at once (a batch's PENDING states): one future for all, done
   * when every reply is in, failed with the first failure; one deadline for all, at which the
   * commands still unanswered are cancelled as {@link #timed} cancels one. A future and a deadline
   * per command cost more than the command's own bookkeeping.
   */
  public CompletableFuture<Void> timedAll(List<? extends CompletionStage<?>> replies) {
    if (replies.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    if (replies.size() == 1) {
      return timedDone(replies.get(0));
    }
    return timedDone(new AllReplies(replies));
  }

  /** Completes when all its commands have; cancelling it cancels them. */
  private static final class AllReplies extends CompletableFuture<Void>
      implements java.util.function.BiConsumer<Object, @Nullable Throwable> {
    private final CompletableFuture<?>[] commands;
    private final java.util.concurrent.atomic.AtomicInteger remaining;

    AllReplies(List<? extends CompletionStage<?>> replies) {
      commands = new CompletableFuture<?>[replies.size()];
      remaining = new java.util.concurrent.atomic.AtomicInteger(commands.length);
      for (int i = 0; i < commands.length; i++) {
        commands[i] = replies.get(i).toCompletableFuture();
      }
      for (CompletableFuture<?> command : commands) {
        command.whenComplete(this);
      }
    }

    @Override
    public void accept(Object value, @Nullable Throwable error) {
      if (error != null) {
        completeExceptionally(error);
      } else if (remaining.decrementAndGet() == 0) {
        complete(null);
      }
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      for (CompletableFuture<?> command : commands) {
        command.cancel(false);
      }
      return super.cancel(mayInterruptIfRunning);
    }
  }

  // ----------------------------------------------------------------------------------------------
  // batches

  /** The commands this thread has issued in its open batch; none while no batch is open. */
  private final ThreadLocal<@Nullable List<RedisCommand<String, byte[], ?>>> batches =
      new ThreadLocal<>();

  /** A batch of this thread's commands, sent in one write when closed (see the class notes). */
  public interface Batch extends AutoCloseable {
    /** Sends the commands issued since the batch opened; idempotent. */
    @Override
    void close();
  }

  private static final Batch NO_BATCH = () -> {};

  /**
   * Opens a batch on this thread (see the class notes): until it is closed, the commands this
   * thread issues through {@link #commands()} wait and then leave together, in the order issued. On
   * a cluster, or while this thread already has a batch open, the batch does nothing. The caller
   * must not wait for a reply with anything but {@link #await} before closing it.
   *
   * @return the batch, to close (try-with-resources)
   */
  public Batch batch() {
    if (cluster || batches.get() != null) {
      return NO_BATCH;
    }
    batches.set(new ArrayList<>(4));
    return () -> {
      if (batches.get() != null) {
        flushBatch();
        batches.remove();
      }
    };
  }

  /** Hands the commands collected in this thread's batch to Lettuce, in one write. */
  private void flushBatch() {
    List<RedisCommand<String, byte[], ?>> batch = batches.get();
    if (batch == null || batch.isEmpty()) {
      return;
    }
    List<RedisCommand<String, byte[], ?>> out = new ArrayList<>(batch);
    batch.clear();
    try {
      if (connection instanceof StatefulRedisConnection<String, byte[]> single) {
        single.dispatch(out); // batches are opened on single nodes only
      }
    } catch (RuntimeException e) {
      for (RedisCommand<String, byte[], ?> command : out) {
        command.completeExceptionally(e); // as Lettuce fails a single command it cannot take
      }
    }
  }

  /**
   * The single-node commands: one issued while this thread has a batch open joins the batch instead
   * of being written at once.
   */
  private final class BatchingCommands extends RedisAsyncCommandsImpl<String, byte[]> {
    private final StatefulRedisConnection<String, byte[]> connection;
    private final ReadOnlyReplicaGuard readOnlyGuard;

    BatchingCommands(
        StatefulRedisConnection<String, byte[]> connection, ReadOnlyReplicaGuard readOnlyGuard) {
      super(connection, CODEC);
      this.connection = connection;
      this.readOnlyGuard = readOnlyGuard;
    }

    @Override
    public <T> AsyncCommand<String, byte[], T> dispatch(RedisCommand<String, byte[], T> command) {
      AsyncCommand<String, byte[], T> async = new GuardedCommand<>(command, readOnlyGuard);
      List<RedisCommand<String, byte[], ?>> batch = batches.get();
      if (batch == null) {
        // as RedisAsyncCommandsImpl dispatches, with our command type
        return connection.dispatch(async) instanceof AsyncCommand<String, byte[], T> dispatched
            ? dispatched
            : async;
      }
      batch.add(async);
      return async;
    }
  }

  /**
   * A command of the shared single-node connection that shows its error reply to the connection's
   * {@link ReadOnlyReplicaGuard} before its caller sees it; nothing more on the way of a reply.
   */
  private static final class GuardedCommand<T> extends AsyncCommand<String, byte[], T> {
    private final ReadOnlyReplicaGuard readOnlyGuard;

    GuardedCommand(RedisCommand<String, byte[], T> command, ReadOnlyReplicaGuard readOnlyGuard) {
      super(command);
      this.readOnlyGuard = readOnlyGuard;
    }

    @Override
    protected void completeResult() {
      io.lettuce.core.output.CommandOutput<String, byte[], T> output = getOutput();
      if (output != null && output.hasError()) {
        readOnlyGuard.errorReply(output.getError());
      }
      super.completeResult();
    }
  }

  /** A command of {@link #timed} and the future its caller holds. */
  private record Deadline(long at, CompletableFuture<?> command, CompletableFuture<?> result) {}

  private final java.util.concurrent.ConcurrentLinkedQueue<Deadline> deadlines =
      new java.util.concurrent.ConcurrentLinkedQueue<>();
  private volatile java.util.concurrent.@Nullable ScheduledFuture<?> sweeper;

  private synchronized void startSweeper() {
    if (sweeper == null && !closed.get()) {
      sweeper =
          resources
              .eventExecutorGroup()
              .scheduleAtFixedRate(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  private void sweep() {
    long now = System.nanoTime();
    for (Deadline d; (d = deadlines.peek()) != null; ) {
      if (!d.result().isDone() && d.at() - now > 0) {
        return; // the rest are younger
      }
      deadlines.poll();
      if (!d.result().isDone()) {
        // the caller's answer first: cancelling completes the command, whose callback must then
        // find it done
        d.result()
            .completeExceptionally(
                new MachineryException(
                    "Redis at " + address + " did not answer within " + timeout,
                    new TimeoutException()));
        d.command().cancel(false);
      }
    }
  }

  /** A {@link MachineryException} for a failed Redis command, its message free of credentials. */
  public MachineryException failure(Throwable error) {
    Throwable cause =
        error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    if (cause instanceof MachineryException m) {
      return m;
    }
    String what = cause instanceof RedisCommandTimeoutException ? "timed out" : "failed";
    return new MachineryException(
        "Redis command " + what + " (" + address + "): " + message(cause), cause);
  }

  private static String hostAndPort(java.net.SocketAddress address) {
    return address instanceof java.net.InetSocketAddress inet
        ? inet.getHostString() + ":" + inet.getPort()
        : String.valueOf(address);
  }

  private static String message(Throwable e) {
    String m = e.getMessage();
    return m == null ? e.getClass().getSimpleName() : m;
  }

  private void checkOpen() {
    if (closed.get()) {
      throw new MachineryException("the Redis session to " + address + " is closed");
    }
  }

  /**
   * Closes every connection and the client; idempotent. A {@linkplain #shared shared} session
   * closes when its last owner closes it (each owner closes it once).
   */
  @Override
  public void close() {
    if (sharedKey != null) {
      synchronized (SHARED) {
        if (closed.get() || --owners > 0) {
          return;
        }
        SHARED.remove(sharedKey, this);
      }
    }
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    java.util.concurrent.ScheduledFuture<?> sweeping = sweeper;
    if (sweeping != null) {
      sweeping.cancel(false);
    }
    SentinelSwitchListener listener = sentinelSwitches;
    if (listener != null) {
      listener.close();
    }
    for (BlockingConnection c : blocking) {
      c.close();
    }
    try {
      if (connection.isOpen()) {
        connection.close();
      }
    } catch (RuntimeException e) {
      log.debug("Closing the Redis connection failed: {}", e.toString());
    }
    shutdownClientQuietly();
  }

  private void shutdownClientQuietly() {
    try {
      if (client != null) {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    } catch (RuntimeException e) {
      log.debug("Shutting down the Redis client failed: {}", e.toString());
    }
    eventSubscription.dispose();
    try {
      resources.shutdown(0, 2, TimeUnit.SECONDS).get(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.debug("Shutting down the Redis client resources failed: {}", e.toString());
    }
  }

  @Override
  public String toString() {
    return "RedisSession{" + address + (cluster ? " cluster" : "") + "}";
  }
}
