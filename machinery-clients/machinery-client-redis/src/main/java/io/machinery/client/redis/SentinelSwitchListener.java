package io.machinery.client.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.ArrayOutput;
import io.lettuce.core.output.ValueListOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells a Sentinel-managed session the moment a Sentinel announces a new primary, so that it drops
 * its connections to the old one.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Why.</b> A Sentinel failover ({@code SENTINEL FAILOVER}, or after the primary is seen
 *       down) promotes a replica without stopping the old primary, and demotes the old primary (and
 *       kills its clients) only about ten seconds after it announced the switch, or never while
 *       that primary is cut off from the Sentinels. Lettuce asks the Sentinels for the primary only
 *       when it connects, so a connection made before keeps writing to the old primary meanwhile,
 *       and every write that primary acknowledges then is lost when it resynchronises from the new
 *       one: a {@code sendTask} that returned, a task's SUCCESS, an acknowledgement. go-redis'
 *       failover client (Go Machinery's) listens to {@code +switch-master} and closes its
 *       connections to the old primary; this does the same.
 *   <li><b>How.</b> One Pub/Sub connection per Sentinel of the URL, subscribed to {@code
 *       +switch-master} (from {@link RedisSession}'s {@link AsyncOnlyRedisClient}: without
 *       Lettuce's synchronous view, the costly part of the first such connection in a JVM). A
 *       message {@code <master> <old ip> <old port> <new ip> <new port>} about this session's
 *       master calls the session back once per new primary (every Sentinel announces the same
 *       switch, and one may name by host name the server another names by IP address: they are
 *       compared as {@link ServerAddresses} does, each decision queued behind the one before, a
 *       host name looked up on the client's event executors, never on the I/O thread); the session
 *       drops its connections ({@link ReadOnlyReplicaGuard#primaryMoved}), which reconnect asking
 *       the Sentinels for the primary. Lettuce reconnects these connections and subscribes them
 *       again after a network failure or a restart of the Sentinel ({@code RedisSentinelSwitchIT}).
 *   <li><b>An announcement made while a subscription was down</b> (the Sentinel unreachable,
 *       Lettuce reconnecting, or not yet subscribed when the session opened) is not sent again:
 *       before, it was lost, and the session stayed on the old primary until it turned replica. So
 *       each time a subscription becomes live (the first {@code SUBSCRIBE} and each of Lettuce's
 *       after a reconnect: {@link RedisPubSubAdapter#subscribed}), the listener asks that Sentinel
 *       {@code SENTINEL GET-MASTER-ADDR-BY-NAME} on a short-lived connection of its own (a
 *       subscribed RESP2 connection takes no other command; connecting and asking are asynchronous,
 *       nothing blocks the I/O thread), and when the answer is not the primary the session is
 *       connected to (the address of its latest connection to a server other than a Sentinel) it
 *       calls back as an announcement does, once per new address. Anything announced later reaches
 *       the live subscription. Each question is given up, its connection closed, after {@link
 *       #QUESTION_TIMEOUT}. The answer and the session's server are the same when they share an IP
 *       address and port ({@link ServerAddresses}: a host name against its IP address, IPv6
 *       spellings), not only when written alike; the answer arrives on a Lettuce I/O thread, so a
 *       host name is looked up on the client's event executors, once per name for the session's
 *       life, and the comparison finishes there (a name that does not resolve is compared as text).
 *       An answer that comes before the session recorded its first connection (the session records
 *       them from Lettuce's events, asynchronously) is kept and compared when it does ({@link
 *       #primaryKnown}): the primary may have moved between the session's connecting and the
 *       answer, and before, such an answer was dropped. go-redis does the same: its failover client
 *       asks the Sentinel for the master before it subscribes.
 *   <li><b>Sentinels not in the URL</b> are listened to as well, as go-redis does: on the same
 *       connection, each question also asks {@code SENTINEL SENTINELS <master>}, and a Sentinel
 *       named there that the session does not know yet (by IP address and port: the URL may name by
 *       host name a Sentinel that the others name by IP address; compared as the primary is, off
 *       the I/O thread) is subscribed to like those of the URL (same credentials and TLS as the
 *       Sentinel that named it, same retries), until the session closes; and when no Sentinel of
 *       the URL answers, the client asks the discovered ones for the primary ({@link
 *       AsyncOnlyRedisClient}). So a failover announced while every Sentinel of the URL is down
 *       still moves the session. A Sentinel learns of the others from their hellos (every two
 *       seconds): one asked right after it started may name none yet, and the next subscription
 *       that becomes live asks again. A discovered Sentinel that does not answer and that no
 *       Sentinel's latest answer names any more (its own aside) is forgotten: no more attempts, not
 *       asked for the primary; named again, it is discovered again. While a discovered one does not
 *       answer, the Sentinels subscribed to are asked again every {@link #LISTING_CHECK_INTERVAL}
 *       (else answers come only when a subscription becomes live). One that answers is kept even
 *       when none names it: it still announces. The URL's Sentinels are tried until the session
 *       closes. Before, a discovered one was tried until then as well.
 *   <li><b>A Sentinel that does not answer</b> when the session opens is tried again until it does,
 *       after the waits of the client's reconnect delay (for {@link RedisSession}: doubling from 1
 *       ms up to about a second, as Lettuce waits before reconnecting a lost connection), each
 *       attempt a task scheduled on the client's event executors: no thread per Sentinel, no
 *       attempt while one is under way. Before, such a Sentinel was never listened to, and when it
 *       alone announced a failover (the others down, or not yet aware) the session stayed on the
 *       old primary until that primary turned replica, about ten seconds on. The first failure is
 *       logged as a warning, the later ones at debug level, the subscription at last as info.
 *       go-redis' failover client subscribes to one Sentinel only, the first that answers when it
 *       looks for the primary; one that does not answer is asked again only at the next look-up
 *       after the chosen one failed, never subscribed to on its own.
 *   <li><b>What remains.</b> Writes the old primary acknowledged after the replica's promotion and
 *       before the announcement reached the session (the time the Sentinel takes to see the
 *       promotion: a fraction of a second) are lost, as with go-redis: Redis replicates
 *       asynchronously.
 * </ul>
 *
 * <p>Thread-safe; the callback runs on a Lettuce I/O thread and must not block.
 */
final class SentinelSwitchListener implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SentinelSwitchListener.class);

  /** The channel on which Sentinels announce a new primary. */
  static final String CHANNEL = "+switch-master";

  /** How long a Sentinel has to answer which server is the primary, connection included. */
  static final Duration QUESTION_TIMEOUT = Duration.ofSeconds(5);

  /**
   * How often the Sentinels subscribed to are asked again which others they know while a discovered
   * one does not answer (so that one the group no longer has is forgotten).
   */
  static final Duration LISTING_CHECK_INTERVAL = Duration.ofSeconds(5);

  private final RedisClient client;
  private final String masterName;
  private final Consumer<String> onSwitch;
  private final Supplier<@Nullable String> connectedPrimary;

  /**
   * The canonical {@code host:port} ({@link ServerAddresses#canonical}) of every Sentinel listened
   * to (of the URL or discovered), shared with the session, which tells its connections to the
   * Sentinels from those to the primary by it: a connection's remote address is the one dialled (a
   * host name as written, an IP address in the JDK's spelling), so canonical texts suffice there,
   * with no look-up.
   */
  private final Set<String> sentinels;

  /** The Sentinels discovered, shared with the client, which asks them for the primary. */
  private final List<RedisURI> discovered;

  private final Delay retryDelay;

  /** The URL's Sentinels, by canonical {@code host:port}; listened to until the session closes. */
  private final Map<String, RedisURI> ofTheUrl = new ConcurrentHashMap<>();

  /**
   * Compares a Sentinel's answers with the session's server, and discovered Sentinels with those
   * known, by IP address and port; looks host names up on the client's event executors.
   */
  private final ServerAddresses addresses;

  /** Held while a discovered Sentinel is compared with those known and added to them. */
  private final Object discovering = new Object();

  /**
   * The next attempt to subscribe to a Sentinel that did not answer, by {@code host:port};
   * cancelled on close (an attempt that runs after close does nothing).
   */
  private final Map<String, ScheduledFuture<?>> retries = new ConcurrentHashMap<>();

  private final List<StatefulRedisPubSubConnection<String, String>> connections =
      new CopyOnWriteArrayList<>();

  /** The short-lived connections on which a Sentinel is being asked for the primary. */
  private final List<StatefulRedisConnection<String, String>> questions =
      new CopyOnWriteArrayList<>();

  /**
   * The discovered Sentinels listened to, by canonical {@code ip:port} ({@link
   * ServerAddresses#canonical}); an attempt for a URI no longer here (forgotten) is not made.
   */
  private final Map<String, RedisURI> discoveredByAddress = new ConcurrentHashMap<>();

  /** Each Sentinel's subscription, by canonical {@code host:port}, once connected. */
  private final Map<String, StatefulRedisPubSubConnection<String, String>> subscriptions =
      new ConcurrentHashMap<>();

  /**
   * The canonical {@code ip:port} of the Sentinels each Sentinel named in its latest answer to
   * {@code SENTINEL SENTINELS}, by the canonical {@code host:port} of the one that answered.
   */
  private final Map<String, Set<String>> listedBy = new ConcurrentHashMap<>();

  /** Asks the live Sentinels again while a discovered one is unreachable; cancelled on close. */
  private final @Nullable ScheduledFuture<?> listingCheck;

  /**
   * The end of the chain of decisions whether a new primary is another server than the last one
   * called back for: each waits for the one before, so that they are made in order even when a host
   * name's look-up makes one wait.
   */
  private final AtomicReference<CompletableFuture<@Nullable Void>> decisions =
      new AtomicReference<>(CompletableFuture.completedFuture(null));

  /** The primary last called back for ({@code ""} before any); read and set only by decisions. */
  private volatile String lastPrimary = "";

  /**
   * A Sentinel's answer that arrived before the session's server was known; see {@link
   * #primaryKnown}.
   */
  private final AtomicReference<@Nullable String> unsettled = new AtomicReference<>();

  private final AtomicBoolean closed = new AtomicBoolean();

  /**
   * Subscribes to {@link #CHANNEL} on each of {@code sentinels} (in the background: a Sentinel that
   * does not answer delays nothing, and is tried again until it does); {@code onSwitch} gets the
   * new primary's {@code host:port}. Attempts wait as {@code client}'s reconnect delay says, on its
   * event executors. {@code connectedPrimary} gives the {@code host:port} of the server the session
   * is connected to (null when unknown), compared with a Sentinel's answer each time a subscription
   * becomes live. The canonical {@code host:port} ({@link ServerAddresses#canonical}) of each
   * Sentinel of the URL and each discovered ({@code SENTINEL SENTINELS}) is added to {@code known},
   * a concurrent set, and removed when a discovered one is forgotten; likewise a discovered one's
   * URI in {@code discovered}, a thread-safe list.
   */
  SentinelSwitchListener(
      RedisClient client,
      List<RedisURI> sentinels,
      Set<String> known,
      List<RedisURI> discovered,
      String masterName,
      Supplier<@Nullable String> connectedPrimary,
      Consumer<String> onSwitch) {
    this.client = client;
    this.sentinels = known;
    this.discovered = discovered;
    this.masterName = masterName;
    this.connectedPrimary = connectedPrimary;
    this.onSwitch = onSwitch;
    this.retryDelay = client.getResources().reconnectDelay();
    this.addresses = new ServerAddresses(client.getResources().eventExecutorGroup());
    for (RedisURI sentinel : sentinels) {
      known.add(address(sentinel));
      ofTheUrl.put(address(sentinel), sentinel);
    }
    ScheduledFuture<?> check = null;
    try {
      check =
          client
              .getResources()
              .eventExecutorGroup()
              .scheduleWithFixedDelay(
                  this::askAgainWhileDiscoveredAreDown,
                  LISTING_CHECK_INTERVAL.toNanos(),
                  LISTING_CHECK_INTERVAL.toNanos(),
                  TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // the client's executors are shutting down: nothing to check
    }
    this.listingCheck = check;
    for (RedisURI sentinel : sentinels) {
      subscribe(sentinel, 1);
    }
  }

  /** The canonical {@code host:port} of {@code sentinel} ({@link ServerAddresses#canonical}). */
  static String address(RedisURI sentinel) {
    return ServerAddresses.canonical(sentinel.getHost() + ":" + sentinel.getPort());
  }

  /** Whether {@code sentinel} is still to be listened to: one of the URL's, or not forgotten. */
  private boolean wanted(RedisURI sentinel) {
    String address = address(sentinel);
    RedisURI current = discoveredByAddress.get(address);
    return current == null ? sentinels.contains(address) : current == sentinel;
  }

  /** Attempt number {@code attempt} (from 1) to subscribe to {@code sentinel}. */
  private void subscribe(RedisURI sentinel, int attempt) {
    if (closed.get() || !wanted(sentinel)) {
      return;
    }
    CompletableFuture<StatefulRedisPubSubConnection<String, String>> connecting;
    try {
      connecting = client.connectPubSubAsync(StringCodec.UTF8, sentinel).toCompletableFuture();
    } catch (RuntimeException e) {
      connecting = CompletableFuture.failedFuture(e); // a client shutting down, say
    }
    connecting.whenComplete(
        (connection, error) -> {
          if (error != null) {
            failed(sentinel, attempt, error);
            return;
          }
          if (attempt > 1) {
            log.info(
                "Subscribed to {} on the Sentinel at {}:{} after {} attempts",
                CHANNEL,
                sentinel.getHost(),
                sentinel.getPort(),
                attempt);
          }
          connection.addListener(
              new RedisPubSubAdapter<>() {
                @Override
                public void message(String channel, String message) {
                  announced(message);
                }

                @Override
                public void subscribed(String channel, long count) {
                  // the first subscription and each one after a reconnect: catch up on what was
                  // announced while there was none
                  if (CHANNEL.equals(channel)) {
                    askForPrimary(sentinel);
                  }
                }
              });
          connections.add(connection);
          subscriptions.put(address(sentinel), connection);
          if (closed.get()) {
            close(); // closed while connecting
          } else if (!wanted(sentinel)) {
            unsubscribe(address(sentinel)); // forgotten while connecting
          } else {
            connection.async().subscribe(CHANNEL);
          }
        });
  }

  /** Attempt {@code attempt} to reach {@code sentinel} failed: schedules the next one. */
  private void failed(RedisURI sentinel, int attempt, Throwable error) {
    if (closed.get() || !wanted(sentinel)) {
      return;
    }
    if (attempt == 1) {
      log.warn(
          "Could not subscribe to {} on the Sentinel at {}:{} ({}); trying again in the background"
              + " until it answers. Meanwhile this session learns of failovers from the other"
              + " Sentinels, or when the old primary refuses writes",
          CHANNEL,
          sentinel.getHost(),
          sentinel.getPort(),
          error.toString());
    } else {
      log.debug(
          "Attempt {} to subscribe to {} on the Sentinel at {}:{} failed: {}",
          attempt,
          CHANNEL,
          sentinel.getHost(),
          sentinel.getPort(),
          error.toString());
    }
    Duration wait = retryDelay.createDelay(attempt);
    try {
      ScheduledFuture<?> next =
          client
              .getResources()
              .eventExecutorGroup()
              .schedule(
                  () -> subscribe(sentinel, attempt + 1), wait.toNanos(), TimeUnit.NANOSECONDS);
      // one entry per Sentinel, the latest attempt's (an earlier one may land last: it has run)
      retries.put(address(sentinel), next);
      if (closed.get()) {
        next.cancel(false); // closed while scheduling
      }
    } catch (RejectedExecutionException e) {
      // the client's executors are shutting down: the session is closing
    }
  }

  /**
   * Asks {@code sentinel} which server is the primary, on a connection of its own, and hands the
   * answer to {@link #reported}; a failure is logged at debug level (the subscription is live: the
   * next announcement is heard).
   */
  private void askForPrimary(RedisURI sentinel) {
    if (closed.get()) {
      return;
    }
    CompletableFuture<StatefulRedisConnection<String, String>> connecting;
    try {
      connecting = client.connectAsync(StringCodec.UTF8, sentinel).toCompletableFuture();
    } catch (RuntimeException e) {
      connecting = CompletableFuture.failedFuture(e); // a client shutting down, say
    }
    connecting.whenComplete(
        (connection, error) -> {
          if (error != null) {
            notAnswered(sentinel, error);
            return;
          }
          questions.add(connection);
          if (closed.get()) {
            close(); // closed while connecting
            return;
          }
          ScheduledFuture<?> giveUp;
          try {
            // closing the connection fails the question
            giveUp =
                client
                    .getResources()
                    .eventExecutorGroup()
                    .schedule(
                        () -> closeQuestion(connection),
                        QUESTION_TIMEOUT.toNanos(),
                        TimeUnit.NANOSECONDS);
          } catch (RejectedExecutionException e) {
            closeQuestion(connection); // the session is closing
            return;
          }
          var primaryReply =
              connection
                  .async()
                  .dispatch(
                      CommandType.SENTINEL,
                      new ValueListOutput<>(StringCodec.UTF8),
                      new CommandArgs<>(StringCodec.UTF8)
                          .add("GET-MASTER-ADDR-BY-NAME")
                          .add(masterName))
                  .toCompletableFuture();
          var sentinelsReply =
              connection
                  .async()
                  .dispatch(
                      CommandType.SENTINEL,
                      new ArrayOutput<>(StringCodec.UTF8),
                      new CommandArgs<>(StringCodec.UTF8).add("SENTINELS").add(masterName))
                  .toCompletableFuture();
          CompletableFuture.allOf(primaryReply, sentinelsReply)
              .whenComplete(
                  (ignored, anyFailure) -> {
                    giveUp.cancel(false);
                    closeQuestion(connection);
                  });
          sentinelsReply.whenComplete(
              (reply, failure) -> {
                if (failure == null && reply != null) {
                  discovered(sentinel, reply);
                } else if (failure != null) {
                  notAnswered(sentinel, failure);
                }
              });
          primaryReply.whenComplete(
              (reply, failure) -> {
                if (failure != null) {
                  notAnswered(sentinel, failure);
                } else if (reply == null
                    || reply.size() != 2
                    || reply.get(0) == null
                    || reply.get(1) == null) {
                  log.debug(
                      "The Sentinel at {}:{} knows no master {}: {}",
                      sentinel.getHost(),
                      sentinel.getPort(),
                      masterName,
                      reply);
                } else {
                  reported(reply.get(0) + ":" + reply.get(1));
                }
              });
        });
  }

  /**
   * Subscribes to each Sentinel in {@code reply} (to {@code SENTINEL SENTINELS}, asked of {@code
   * from}) not known yet.
   */
  void discovered(RedisURI from, List<?> reply) {
    List<String> named = sentinelAddresses(reply);
    listedBy.put(
        address(from),
        named.stream().map(ServerAddresses::canonical).collect(Collectors.toUnmodifiableSet()));
    forgetUnlisted();
    for (String hostAndPort : named) {
      considered(from, hostAndPort);
    }
  }

  /**
   * Forgets each discovered Sentinel that is not subscribed to (unreachable, or not reached yet)
   * and that no Sentinel's latest answer names (its own aside): the group no longer has it. A
   * subscription that is live is kept: it still hears what that Sentinel announces.
   */
  private void forgetUnlisted() {
    boolean forgotOne = true;
    while (forgotOne && !closed.get()) {
      forgotOne = false;
      for (Map.Entry<String, RedisURI> entry : discoveredByAddress.entrySet()) {
        String address = entry.getKey();
        StatefulRedisPubSubConnection<String, String> subscription = subscriptions.get(address);
        boolean listed =
            listedBy.entrySet().stream()
                .anyMatch(l -> !l.getKey().equals(address) && l.getValue().contains(address));
        if (listed || (subscription != null && subscription.isOpen())) {
          continue;
        }
        synchronized (discovering) {
          if (!discoveredByAddress.remove(address, entry.getValue())) {
            continue; // forgotten or discovered again meanwhile
          }
          sentinels.remove(address);
          discovered.remove(entry.getValue());
        }
        log.info(
            "No Sentinel of {} names the Sentinel at {} any more, which does not answer:"
                + " forgetting it",
            masterName,
            address);
        ScheduledFuture<?> retry = retries.remove(address);
        if (retry != null) {
          retry.cancel(false);
        }
        unsubscribe(address);
        listedBy.remove(address); // what it named counts no more
        forgotOne = true;
      }
    }
  }

  /**
   * Closes the subscription to the Sentinel at {@code address}, if any (Lettuce reconnects it no
   * more).
   */
  private void unsubscribe(String address) {
    StatefulRedisPubSubConnection<String, String> subscription = subscriptions.remove(address);
    if (subscription != null && connections.remove(subscription)) {
      try {
        subscription.closeAsync();
      } catch (RuntimeException e) {
        log.debug("Closing a Sentinel subscription failed: {}", e.toString());
      }
    }
  }

  /**
   * While a discovered Sentinel is unreachable, asks each Sentinel subscribed to which others it
   * knows (and the primary), so that one the group no longer has is forgotten: the answers come
   * otherwise only when a subscription becomes live.
   */
  private void askAgainWhileDiscoveredAreDown() {
    if (closed.get()) {
      return;
    }
    boolean oneDown =
        discoveredByAddress.keySet().stream()
            .anyMatch(
                address -> {
                  StatefulRedisPubSubConnection<String, String> s = subscriptions.get(address);
                  return s == null || !s.isOpen();
                });
    if (!oneDown) {
      return;
    }
    for (Map.Entry<String, StatefulRedisPubSubConnection<String, String>> entry :
        subscriptions.entrySet()) {
      if (entry.getValue().isOpen()) {
        RedisURI sentinel = sentinelAt(entry.getKey());
        if (sentinel != null) {
          askForPrimary(sentinel);
        }
      }
    }
  }

  /**
   * Subscribes to the Sentinel at {@code hostAndPort}, named by {@code from}, unless it is one
   * known already: written the same, or at the same IP address and port ({@link ServerAddresses};
   * the URL may name by host name a Sentinel that the others name by IP address). Called on a
   * Lettuce I/O thread, it never waits there: a host name is looked up on the event executors, and
   * the rest runs when the answers are in.
   */
  private void considered(RedisURI from, String named) {
    String hostAndPort = ServerAddresses.canonical(named);
    if (closed.get() || sentinels.contains(hostAndPort)) {
      return;
    }
    Set<String> known = Set.copyOf(sentinels);
    List<CompletableFuture<Boolean>> same = new java.util.ArrayList<>();
    for (String sentinel : known) {
      same.add(addresses.same(hostAndPort, sentinel));
    }
    CompletableFuture.allOf(same.toArray(CompletableFuture[]::new))
        .thenRun(
            () -> {
              if (same.stream().anyMatch(CompletableFuture::join)) {
                return;
              }
              RedisURI added = null;
              synchronized (discovering) {
                if (!closed.get() && sentinels.equals(known) && sentinels.add(hostAndPort)) {
                  added = discoveredAt(from, hostAndPort);
                  discoveredByAddress.put(hostAndPort, added);
                  discovered.add(added);
                }
                // else another became known meanwhile, maybe this one under another name: again
              }
              if (added != null) {
                listenToDiscovered(from, added);
              } else if (!closed.get()) {
                considered(from, hostAndPort);
              }
            });
  }

  /**
   * The URI of the Sentinel at {@code hostAndPort}, named by {@code from}: same credentials and
   * TLS.
   */
  private static RedisURI discoveredAt(RedisURI from, String hostAndPort) {
    int colon = hostAndPort.lastIndexOf(':');
    return RedisURI.builder(from)
        .withHost(hostAndPort.substring(0, colon))
        .withPort(Integer.parseInt(hostAndPort.substring(colon + 1)))
        .build();
  }

  /** Subscribes to {@code other}, just discovered from {@code from}. */
  private void listenToDiscovered(RedisURI from, RedisURI other) {
    log.info(
        "The Sentinel at {}:{} names the Sentinel at {} for {}, not in the URL: listening to it"
            + " too",
        from.getHost(),
        from.getPort(),
        address(other),
        masterName);
    forgetUnlisted(); // an answer that came meanwhile may have left it out
    subscribe(other, 1);
  }

  /** The Sentinel listened to at {@code address} (canonical), or null. */
  private @Nullable RedisURI sentinelAt(String address) {
    RedisURI discoveredOne = discoveredByAddress.get(address);
    return discoveredOne != null ? discoveredOne : ofTheUrl.get(address);
  }

  /**
   * The {@code ip:port} of each Sentinel in {@code reply}, a {@code SENTINEL SENTINELS} reply (one
   * list of field names and values per Sentinel); malformed entries are left out.
   */
  static List<String> sentinelAddresses(List<?> reply) {
    List<String> addresses = new java.util.ArrayList<>();
    for (Object entry : reply) {
      if (!(entry instanceof List<?> fields)) {
        continue;
      }
      String ip = null;
      String port = null;
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        Object name = fields.get(i);
        Object value = fields.get(i + 1);
        if ("ip".equals(name) && value instanceof String v) {
          ip = v;
        } else if ("port".equals(name) && value instanceof String v && v.matches("\\d{1,5}")) {
          port = v;
        }
      }
      if (ip != null && port != null) {
        addresses.add(ip + ":" + port);
      }
    }
    return addresses;
  }

  private void notAnswered(RedisURI sentinel, Throwable error) {
    log.debug(
        "Could not ask the Sentinel at {}:{} for the primary of {}: {}",
        sentinel.getHost(),
        sentinel.getPort(),
        masterName,
        error.toString());
  }

  private void closeQuestion(StatefulRedisConnection<String, String> connection) {
    if (questions.remove(connection)) {
      try {
        connection.closeAsync();
      } catch (RuntimeException e) {
        log.debug("Closing a connection to a Sentinel failed: {}", e.toString());
      }
    }
  }

  /**
   * A Sentinel answered that {@code primary} ({@code host:port}) is the primary: calls back, as an
   * announcement does, when the session is connected to another server. An answer that comes before
   * the session recorded its first connection waits for it ({@link #primaryKnown}): the primary may
   * have moved between the session's connection and this answer.
   */
  void reported(String primary) {
    if (closed.get()) {
      return;
    }
    String connected = connectedPrimary.get();
    if (connected != null) {
      comparedWith(primary, connected);
      return;
    }
    // whoever takes the answer back compares it: this thread when the session recorded its
    // connection meanwhile, else primaryKnown; the latest answer stands
    unsettled.set(primary);
    String recordedMeanwhile = connectedPrimary.get();
    if (recordedMeanwhile != null) {
      String taken = unsettled.getAndSet(null);
      if (taken != null) {
        comparedWith(taken, recordedMeanwhile);
      }
    }
  }

  /** Calls back when {@code primary} is another server than {@code connected}. */
  private void comparedWith(String primary, String connected) {
    if (!primary.equals(connected)) {
      switchTo(primary, connected);
    }
  }

  /**
   * The new primary ({@code host:port}) that {@code message}, a {@link #CHANNEL} message, announces
   * for {@code masterName}; null when it is about another master or malformed.
   */
  static @Nullable String newPrimary(String message, String masterName) {
    String[] parts = message.trim().split(" ");
    if (parts.length != 5 || !parts[0].equals(masterName)) {
      return null;
    }
    return parts[3] + ":" + parts[4];
  }

  /** Handles one announcement: calls back once per new primary. */
  void announced(String message) {
    String primary = newPrimary(message, masterName);
    if (primary == null || closed.get()) {
      return;
    }
    switchTo(primary, null);
  }

  /**
   * The session recorded the server it is connected to: a Sentinel's answer that came before is
   * compared with it now. Called by the session after each connection it records (cheap when there
   * is none waiting).
   */
  void primaryKnown() {
    String connected = connectedPrimary.get();
    if (connected == null || closed.get()) {
      return; // still unknown: the answer waits
    }
    String waiting = unsettled.getAndSet(null);
    if (waiting != null) {
      comparedWith(waiting, connected);
    }
  }

  /**
   * Calls back unless {@code primary} is the same server ({@link ServerAddresses}: a Sentinel may
   * name it by host name, another by IP address) as the last call's or, for a Sentinel's answer
   * rather than an announcement, as {@code missedWhileOn}, the server the session is on. Never
   * waits: the decision is queued behind the previous one (decisions are made in the order heard),
   * and made on the event executors when a host name has to be looked up.
   */
  private void switchTo(String primary, @Nullable String missedWhileOn) {
    CompletableFuture<@Nullable Void> mine = new CompletableFuture<>();
    decisions
        .getAndSet(mine)
        .thenCompose(
            previousDone ->
                missedWhileOn == null
                    ? CompletableFuture.completedFuture(false)
                    : addresses.same(primary, missedWhileOn))
        .thenCompose(
            onIt ->
                onIt
                    ? CompletableFuture.completedFuture(true)
                    : addresses.same(primary, lastPrimary))
        .thenAccept(
            same -> {
              if (!same && !closed.get()) {
                lastPrimary = primary;
                calledBack(primary, missedWhileOn);
              }
            })
        .whenComplete(
            (done, error) -> {
              if (error != null) {
                log.warn("Moving the session to {} failed: {}", primary, error.toString());
              }
              mine.complete(null);
            });
  }

  private void calledBack(String primary, @Nullable String missedWhileOn) {
    if (missedWhileOn != null) {
      log.info(
          "A Sentinel names {} as the primary of {} while this session is on {}: an"
              + " announcement was missed",
          primary,
          masterName,
          missedWhileOn);
    }
    onSwitch.accept(primary);
  }

  /** Closes the subscriptions and gives up on the Sentinels not reached yet; idempotent. */
  @Override
  public void close() {
    closed.set(true);
    if (listingCheck != null) {
      listingCheck.cancel(false);
    }
    for (ScheduledFuture<?> retry : retries.values()) {
      retry.cancel(false);
    }
    retries.clear();
    for (StatefulRedisConnection<String, String> question : questions) {
      closeQuestion(question);
    }
    subscriptions.clear();
    for (StatefulRedisPubSubConnection<String, String> connection : connections) {
      if (connections.remove(connection)) {
        try {
          connection.closeAsync();
        } catch (RuntimeException e) {
          log.debug("Closing a Sentinel subscription failed: {}", e.toString());
        }
      }
    }
  }
}
