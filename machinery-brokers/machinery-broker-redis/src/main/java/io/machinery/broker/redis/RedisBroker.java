package io.machinery.broker.redis;

import io.lettuce.core.RedisCommandExecutionException;
import io.machinery.ConsumerRefusedException;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.client.redis.RedisArgs;
import io.machinery.client.redis.RedisControlPlane;
import io.machinery.client.redis.RedisKeys;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.internal.Causes;
import io.machinery.spi.Broker;
import io.machinery.spi.Consumption;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeliveryHandler;
import io.machinery.spi.FairShares;
import io.machinery.spi.Inspector;
import io.machinery.spi.PriorityBands;
import io.machinery.wire.WireCodec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go Machinery's Redis broker, wire-compatible with Go producers and Go workers on the same queues,
 * with at-least-once delivery (spec §3.2, §8 "Redis broker has no ack").
 *
 * <pre>{@code
 * Config config = Config.builder().broker("redis://127.0.0.1:6379").build();
 * try (RedisBroker broker = RedisBroker.create(config)) {
 *   // hand it to Server.builder().broker(broker), or use the Broker SPI directly
 * }
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Go's keys, unchanged.</b> A task is its JSON in a LIST named by its routing key ({@code
 *       RPUSH} to the tail, taken from the head); a task with a future ETA is a member of the
 *       shared ZSET {@code delayed_tasks} ({@link
 *       io.machinery.config.RedisConfig#delayedTasksKey()}) scored with its ETA in Unix
 *       nanoseconds. Go producers and Go workers ({@code BLPOP}) keep working on the same queues.
 *   <li><b>Taking a task</b> moves it atomically from the head of the queue into the consumer's
 *       processing list {@code {queue}:processing:<consumer-id>} (a Lua script running {@code
 *       LMOVE} up to the number of free execution slots the worker reserved, or one {@code BLMOVE}
 *       on a dedicated connection while the queue is empty). It stays there until the worker
 *       settles it: {@code ack} removes it ({@code LREM}, sent asynchronously, batched while one
 *       batch is in flight); {@code requeue(0)} moves it to the tail of the queue; {@code
 *       requeue(d)} moves it to {@code delayed_tasks} with score now+d (Go workers promote it too);
 *       a requeue with a replacement puts the worker's replacement back instead, in the same
 *       script; {@code deadLetter} moves it, wrapped in a {@link DeadLetter} envelope, to {@code
 *       {queue}:dead_letters}. Each of these is one atomic script (on a cluster the delayed requeue
 *       is ZADD then LREM: a crash in between duplicates, never loses) and does nothing if the
 *       message is no longer in the processing list.
 *   <li><b>Leases and the reaper.</b> Each consumer holds a lease {@code
 *       {queue}:lease:<consumer-id>} (a key with a {@link Builder#leaseTimeout(Duration) timeout},
 *       refreshed every third of it) and is registered in {@code {queue}:consumers}. Every broker
 *       with a consumer of a queue periodically (every half lease) returns the processing lists of
 *       that queue's consumers whose lease expired to the <em>head</em> of the queue, in order. So
 *       a task taken by a worker that died (kill -9, lost host) runs again, once the lease has
 *       expired; a task may run twice, never zero times. A consumer that closes returns its
 *       unsettled tasks itself; {@link Consumption#stopFetching} returns those fetched but not
 *       handed over. Each reap counts in {@code {queue}:redeliveries} (SHA-1 of the message to
 *       count, kept a day after the last reap), which is the {@link
 *       io.machinery.spi.Delivery#deliveryCount()} of the message's next delivery (1 + reaps), so a
 *       worker can dead-letter a message that kills or stalls every worker taking it. Equal bytes
 *       share a count. A consumer re-registers before each blocking move (whose wait is shorter
 *       than what remains of the lease), so one that was reaped during a pause and then takes a
 *       message is reaped again if it dies.
 *   <li><b>Delayed tasks.</b> While the broker has a consumer, every {@link
 *       io.machinery.config.RedisConfig#delayedTasksPollPeriod()} it moves the due members of
 *       {@code delayed_tasks} to the tail of the queue named by their {@code RoutingKey}, each
 *       exactly once (one Lua script that finds the RoutingKey in Go's layout without parsing the
 *       message, moves a bounded number of bytes per run, and dead-letters a message whose
 *       RoutingKey names a key that is not a list). On a cluster, where the set and the queues live
 *       in different slots, members are moved into a claim set in the set's slot, pushed, and only
 *       then dropped from the claim set; claims older than a lease go back (duplicates, never
 *       losses).
 *   <li><b>Maintenance threads.</b> Heartbeats, settlement retries, the reaper and the promotion
 *       run on two platform threads of the broker (one never blocks: heartbeats; one waits for
 *       Redis: reaper, promotion, sweeps), so CPU-bound tasks on virtual threads cannot starve them
 *       and get a live worker reaped. Both survive any {@link Throwable} (logged at ERROR, reported
 *       to each consumer's {@link DeliveryHandler#brokerError}).
 *   <li><b>Bounded memory.</b> A fetch takes at most {@link Builder#fetchByteBudget(long)} bytes
 *       (plus one message); a message over {@link Config#maxMessageBytes()} never leaves Redis: the
 *       fetch script dead-letters it as a preview with its size and SHA-1. Each dead-letter list
 *       keeps its newest {@link Builder#deadLetterLimit(int)} envelopes.
 *   <li><b>Round trips.</b> One shared asynchronous connection carries every command of the broker
 *       (Lettuce pipelines concurrent callers); each consumer adds one connection for its blocking
 *       {@code BLMOVE}.
 *   <li><b>Replica acknowledgement</b> (opt-in, {@link Builder#replicaAcks}, else {@link
 *       io.machinery.config.RedisConfig#replicaAcks()}): every send's writes are followed, in the
 *       same pipeline, by {@code WAIT}, and the send fails when too few replicas acknowledged them
 *       ({@link ReplicaAcks}), so a failover cannot lose a task whose send returned. The consumers'
 *       own writes (fetches, acks, requeues, leases, promotions) do without: a failover that loses
 *       one brings a message back (the task runs again, as at-least-once allows) and never loses
 *       one the new primary has. What remains: a task that ran on the old primary between the
 *       promotion and the switch may leave its result state there while its acknowledgement, which
 *       Lettuce sends again on the new connection when the switch cut its reply, removes its
 *       message from the new primary; it ran once, and its state on the new primary stays what had
 *       been replicated.
 *   <li><b>Failures.</b> One bad message never stops a consumer (the worker dead-letters it). When
 *       Redis is unreachable the consumer reports each failure to {@link
 *       DeliveryHandler#brokerError} and retries with back-off (up to 5 s) while Lettuce
 *       reconnects; settlements that failed are retried in the background; messages a lost fetch
 *       reply left in a processing list go back to the queue. A Redis at its {@code maxmemory}
 *       ({@code noeviction}) refuses publishes, but refuses a script only when its first write may
 *       grow memory: so the consumers' scripts write first with a command that cannot ({@code
 *       LPOP}, {@code LREM}, {@code PEXPIRE}, {@code ZREM}), and on a single server leases,
 *       fetches, settlements, reaping and promotion go on while Redis is full (RedisOutOfMemoryIT);
 *       a cluster's delayed requeues and promotions ({@code ZADD}, {@code RPUSH}) wait for memory.
 *   <li><b>Not Go.</b> A delayed requeue lands in the queue named by the message's RoutingKey (as
 *       every promotion does, Go's included), which differs from the consumed queue only for a
 *       message routed elsewhere; Go requeues unknown tasks at once to the consumed queue. Priority
 *       is ignored, as in Go, unless {@link Builder#priorities} is on: then prioritized tasks wait
 *       in band lists {@code {queue}:priority:<1-9>} beside the queue, fetched by weight into the
 *       same processing list (so acknowledgements, reaping and the stray sweep are unchanged; a
 *       message returned by them, or requeued, goes back to the plain queue, at its head when
 *       returned, and the fetch's sorting of the queue's head puts it back in its band). Likewise
 *       with {@link Builder#fairness}: tasks with a fairness key wait in lanes {@code
 *       {queue}:fair:<key>}, taken in turn ({@link io.machinery.spi.FairShares}) into the same
 *       processing list.
 * </ul>
 *
 * <p>Thread-safe. Whoever builds a broker closes it; {@link #close()} closes its consumers.
 *
 * <p>Size: Go's broker interface on Redis with its builder (the one-round-trip publish, delayed
 * tasks, priority bands, fairness lanes, the inspector's and control plane's wiring); the fetch
 * loop, the delayed-task promotion and the Lua are classes of their own.
 */
public final class RedisBroker implements Broker {
  private static final Logger log = LoggerFactory.getLogger(RedisBroker.class);

  /**
   * How long a consumer's lease lasts without a heartbeat: after that its tasks go back to the
   * queue.
   */
  public static final Duration DEFAULT_LEASE_TIMEOUT = Duration.ofSeconds(15);

  /**
   * The most messages one fetch takes (no more than the worker's free slots plus what it may fetch
   * ahead, {@link Builder#prefetch}).
   */
  public static final int DEFAULT_FETCH_BATCH_SIZE = 100;

  /**
   * How many messages a consumer fetches ahead per slot of its worker unless {@link
   * Builder#prefetch} says otherwise (at most {@link Builder#fetchBatchSize}). Celery's default
   * prefetch multiplier. With as many ahead as slots, a worker of 10 slots ran at most 10 tasks per
   * fetch round trip (31,000/s at concurrency 10 against 45,000/s at 40, outside in); four per slot
   * took concurrency 10 from 26,000-31,000 to 35,000/s (docs/benchmarks.md, "Fetching ahead,
   * session 6"); eight per slot was no faster. The fetch loop sends the next fetch when half are
   * handed over and hands over the rest meanwhile (RedisConsumer), so four also covers a round trip
   * at 39,000/s.
   */
  static final int DEFAULT_PREFETCH_PER_SLOT = 4;

  /** The most bytes one fetch takes, unless its first message alone is larger. */
  public static final long DEFAULT_FETCH_BYTE_BUDGET = 4L << 20;

  /** How many envelopes each dead-letter list keeps (the newest). */
  public static final int DEFAULT_DEAD_LETTER_LIMIT = 10_000;

  /**
   * With {@link Builder#priorities}, how many messages at the head of a plain queue each fetch
   * looks at for a {@code Priority} above 0 (a Go producer's, which Go pushes to the plain list):
   * such a message is honoured once it is among the first this many.
   */
  public static final int PRIORITY_WINDOW = 32;

  /** At most this many due delayed tasks are moved per script run. */
  static final int PROMOTE_BATCH = 200;

  /**
   * At most about this many bytes of due delayed tasks are moved per script run (Redis is busy
   * meanwhile).
   */
  static final long PROMOTE_BYTES = 4L << 20;

  /** How long a reaper's delivery counts are kept after its last reap of a queue. */
  static final Duration REDELIVERY_RETENTION = Duration.ofDays(1);

  private final Config config;
  private final Clock clock;
  private final RedisSession session;
  private final boolean ownsSession;
  private final Duration leaseTimeout;
  private final int fetchBatchSize;
  private final long fetchByteBudget;
  private final int deadLetterLimit;
  private final String delayedKey;
  private final boolean priorities;
  private final boolean fairness;
  private final int prefetch;
  private final Duration prefetchHold;

  /** The replica acknowledgement of sends; null when off (the default). */
  private final @Nullable ReplicaAcks replicaAcks;

  private final List<RedisConsumer> consumers = new CopyOnWriteArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final Maintenance maintenance;
  private final RedisInspector inspector;
  private final RedisControlPlane controlPlane;

  private RedisBroker(Builder b) {
    this.config = b.config;
    this.clock = b.clock;
    this.leaseTimeout = b.leaseTimeout;
    this.fetchBatchSize = b.fetchBatchSize;
    this.fetchByteBudget = b.fetchByteBudget;
    this.deadLetterLimit = b.deadLetterLimit;
    this.delayedKey = config.redis().delayedTasksKey();
    this.priorities = b.priorities;
    this.fairness = b.fairness;
    this.prefetch = b.prefetch;
    this.prefetchHold = b.prefetchHold;
    this.ownsSession = b.session == null;
    this.session =
        b.session != null
            ? b.session
            : RedisSession.shared(b.url != null ? b.url : config.broker(), config);
    try {
      this.replicaAcks = b.ackReplicas == 0 ? null : replicaAcks(session, b);
    } catch (IllegalArgumentException e) {
      if (ownsSession) {
        session.close();
      }
      throw e;
    }
    this.maintenance = new Maintenance(this, consumers);
    this.inspector = new RedisInspector(this, RedisKeys.tagged(b.controlKeyPrefix, "queues"));
    this.controlPlane = RedisControlPlane.create(session, b.controlKeyPrefix);
  }

  /**
   * The {@link Builder#replicaAcks} of {@code b} on {@code session}.
   *
   * @throws IllegalArgumentException on a cluster, or when the timeout is not below the command
   *     timeout
   */
  private static ReplicaAcks replicaAcks(RedisSession session, Builder b) {
    if (session.isCluster()) {
      // WAIT counts the writes of its own connection: on a cluster it would have to go to the
      // node connection of each slot a send wrote to, which the shared cluster connection does not
      // expose in order
      throw new IllegalArgumentException(
          "replicaAcks is not supported on a Redis Cluster (yet): turn it off for "
              + session.address()
              + " (REDIS_REPLICA_ACKS=0, or RedisBroker.Builder.replicaAcks(0, ...))");
    }
    if (b.ackTimeout.compareTo(session.commandTimeout()) >= 0) {
      throw new IllegalArgumentException(
          "replicaAcks' timeout ("
              + b.ackTimeout
              + ", REDIS_REPLICA_ACK_TIMEOUT) must be below the Redis command timeout ("
              + session.commandTimeout()
              + ", RedisConfig.readTimeout, REDIS_READ_TIMEOUT), or sends would time out before"
              + " WAIT answers");
    }
    return new ReplicaAcks(session, b.ackReplicas, b.ackTimeout);
  }

  /** A broker for {@link Config#broker()} with the defaults. */
  public static RedisBroker create(Config config) {
    return builder(config).build();
  }

  public static Builder builder(Config config) {
    return new Builder(config);
  }

  // --------------------------------------------------------------------------------------------
  // publishing

  @Override
  public String routingKeyFor(Signature signature) {
    return config.defaultQueue();
  }

  /**
   * {@code ZADD delayed_tasks <eta ns> <message>} when the ETA is in the future, else {@code RPUSH
   * <routing key> <message>}; returns when Redis has answered (and with {@link
   * Builder#replicaAcks}, when enough replicas have acknowledged it).
   *
   * @throws MachineryException when Redis fails or cannot be reached within the command timeout, or
   *     with {@link Builder#replicaAcks} when too few replicas acknowledged the send (the task may
   *     or may not have been stored)
   */
  @Override
  public void publish(Signature signature, byte[] message) {
    checkOpen();
    if (replicaAcks != null) {
      session.await(publishAsync(signature, message));
      return;
    }
    String queue = queueOf(signature);
    OffsetDateTime eta = signature.eta();
    Instant now = clock.instant();
    if (eta != null && eta.toInstant().isAfter(now)) {
      session.await(session.commands().zadd(delayedKey, (double) nanos(eta.toInstant()), message));
    } else {
      session.await(push(queue, fairKey(signature), List.of(message)));
    }
  }

  /**
   * Pushes messages to the tail of {@code list}: the plain queue or a band ({@code RPUSH}), or with
   * a fairness key that key's lane of {@code list}'s queue ({@link BrokerScripts#FAIR_PUSH}).
   */
  private CompletableFuture<?> push(String list, @Nullable String fairKey, List<byte[]> messages) {
    if (fairKey == null) {
      return session.commands().rpush(list, messages.toArray(byte[][]::new)).toCompletableFuture();
    }
    QueueKeys keys = new QueueKeys(list);
    byte[][] args = new byte[1 + messages.size()][];
    args[0] = bytes(fairKey);
    for (int i = 0; i < messages.size(); i++) {
      args[1 + i] = messages.get(i);
    }
    return BrokerScripts.FAIR_PUSH.run(
        session.commands(),
        new String[] {keys.fairLane(fairKey), keys.fairRing(), list, keys.fairDirect()},
        args);
  }

  /** The fairness key a task is published with: its key when {@link Builder#fairness} is on. */
  private @Nullable String fairKey(Signature signature) {
    return fairness ? FairShares.keyOf(signature) : null;
  }

  /**
   * The connection publishes travel on: a backend on the same {@link RedisSession} orders its
   * writes with them.
   */
  @Override
  public java.util.Optional<Object> writeOrder() {
    return session.writeOrder();
  }

  /** This thread's commands on the shared session, sent in one write when closed. */
  @Override
  public WriteBatch batchWrites() {
    RedisSession.Batch batch = session.batch();
    return batch::close;
  }

  /** {@link #publish} without waiting for Redis's answer. */
  @Override
  public CompletableFuture<Void> publishAsync(Signature signature, byte[] message) {
    return publishAllAsync(List.of(signature), List.of(message)).get(0);
  }

  /**
   * Every message in one pipeline: each run of consecutive messages to the same queue is one {@code
   * RPUSH} with many values (at most {@value #PUSH_CHUNK} a command), each delayed task a {@code
   * ZADD}; with {@link Builder#replicaAcks}, {@code CLIENT INFO} before them and one {@code WAIT}
   * for all ({@link ReplicaAcks}).
   */
  @Override
  public List<CompletableFuture<Void>> publishAllAsync(
      List<Signature> signatures, List<byte[]> messages) {
    checkOpen();
    @Nullable CompletableFuture<String> clientBefore =
        replicaAcks == null ? null : replicaAcks.before();
    Instant now = clock.instant();
    List<CompletableFuture<Void>> futures = new ArrayList<>(signatures.size());
    int i = 0;
    while (i < signatures.size()) {
      Signature signature = signatures.get(i);
      java.time.OffsetDateTime eta = signature.eta();
      if (eta != null && delayed(signature, now)) {
        futures.add(
            done(
                session
                    .commands()
                    .zadd(delayedKey, (double) nanos(eta.toInstant()), messages.get(i))));
        i++;
        continue;
      }
      String queue = queueOf(signature);
      String fairKey = fairKey(signature);
      int end = i + 1;
      while (end < signatures.size()
          && end - i < PUSH_CHUNK
          && queueOf(signatures.get(end)).equals(queue)
          && Objects.equals(fairKey(signatures.get(end)), fairKey)
          && !delayed(signatures.get(end), now)) {
        end++;
      }
      CompletableFuture<Void> push =
          session.timedDone(push(queue, fairKey, messages.subList(i, end)));
      for (; i < end; i++) {
        futures.add(push);
      }
    }
    if (replicaAcks != null && clientBefore != null) {
      CompletableFuture<Void> confirmed =
          replicaAcks.after(
              clientBefore, CompletableFuture.allOf(futures.toArray(CompletableFuture<?>[]::new)));
      futures.replaceAll(written -> written.thenCompose(ignored -> confirmed));
    }
    return futures;
  }

  /** The most messages one {@code RPUSH} of {@link #publishAllAsync} carries. */
  static final int PUSH_CHUNK = 1_000;

  /**
   * The list a task goes to now: its queue, or with {@link Builder#priorities} and a {@code
   * Priority} above 0 the queue's band.
   */
  private String queueOf(Signature signature) {
    String queue =
        signature.routingKey().isEmpty() ? config.defaultQueue() : signature.routingKey();
    if (fairKey(signature) != null) {
      return queue; // the lane is the queue's, whatever the priority (push)
    }
    return priorities && signature.priority() > 0
        ? new QueueKeys(queue).band(PriorityBands.band(signature.priority()))
        : queue;
  }

  /** Whether this broker publishes to fairness lanes and sorts Go producers' keyed tasks. */
  boolean fairness() {
    return fairness;
  }

  /** A script argument: "1" when {@code fairness}, else "0". */
  static byte[] fairnessFlag(boolean fairness) {
    return bytes(fairness ? "1" : "0");
  }

  /** Whether this broker publishes to priority bands and sorts Go producers' priorities. */
  boolean priorities() {
    return priorities;
  }

  /**
   * How many messages a consumer with {@code capacity} slots may hold ahead of its free slots (see
   * {@link Builder#prefetch}).
   */
  int prefetch(int capacity) {
    return prefetch >= 0
        ? prefetch
        : (int) Math.min((long) capacity * DEFAULT_PREFETCH_PER_SLOT, fetchBatchSize);
  }

  /** How long messages fetched ahead wait for a free slot before they go back to the queue. */
  Duration prefetchHold() {
    return prefetchHold;
  }

  private static boolean delayed(Signature signature, Instant now) {
    OffsetDateTime eta = signature.eta();
    return eta != null && eta.toInstant().isAfter(now);
  }

  private CompletableFuture<Void> done(io.lettuce.core.RedisFuture<?> reply) {
    return session.timedDone(reply);
  }

  // --------------------------------------------------------------------------------------------
  // consuming

  /**
   * Starts a consumer of {@code queue} (the default queue when empty): registers its lease, then
   * fetches on a virtual thread of its own.
   *
   * @throws MachineryException when Redis cannot be reached
   */
  @Override
  public Consumption startConsuming(String consumerTag, String queue, DeliveryHandler handler) {
    if (closed.get()) {
      // not a MachineryException: a worker tries those again, and a closed broker never reopens
      throw new IllegalStateException("the Redis broker is closed");
    }
    String name = queue.isEmpty() ? config.defaultQueue() : queue;
    String id =
        (consumerTag.isEmpty() ? "consumer" : consumerTag)
            + "-"
            + UUID.randomUUID().toString().substring(0, 8);
    RedisConsumer consumer = new RedisConsumer(this, consumerTag, id, new QueueKeys(name), handler);
    consumers.add(consumer);
    try {
      consumer.start();
    } catch (MachineryException e) {
      consumers.remove(consumer);
      throw refusedForGood(e) ? new ConsumerRefusedException(String.valueOf(e.getMessage()), e) : e;
    } catch (RuntimeException e) {
      consumers.remove(consumer);
      throw e;
    }
    maintenance.start();
    inspector.remember(name);
    return consumer;
  }

  /**
   * Whether Redis refused the consumer's commands for a reason that stays until someone changes the
   * user: an ACL user without them ({@code NOPERM}); out of memory, loading, a lost connection and
   * the rest may mend.
   */
  static boolean refusedForGood(MachineryException e) {
    for (Throwable t : Causes.of(e)) {
      if (t instanceof RedisCommandExecutionException refused) {
        String reply = String.valueOf(refused.getMessage());
        return reply.startsWith("NOPERM");
      }
    }
    return false;
  }

  void removed(RedisConsumer consumer) {
    consumers.remove(consumer);
  }

  // -------------------------------------------------------------------------------------------
  // inspection

  /**
   * {@code LRANGE queue 0 -1} (after its priority bands, highest first), decoded; messages that are
   * not tasks are skipped (and logged).
   */
  @Override
  public List<Signature> pendingTasks(String queue) {
    checkOpen();
    String name = queue.isEmpty() ? config.defaultQueue() : queue;
    return decodeAll(RedisInspector.pendingPage(session, new QueueKeys(name), 0, Long.MAX_VALUE));
  }

  /** {@code ZRANGE delayed_tasks 0 -1} (every queue's delayed tasks, earliest first), decoded. */
  @Override
  public List<Signature> delayedTasks() {
    checkOpen();
    return decodeAll(session.await(session.commands().zrange(delayedKey, 0, -1)));
  }

  /** The dead letters of {@code queue} (the default queue when empty), oldest first. */
  public List<DeadLetter> deadLetters(String queue) {
    checkOpen();
    String name = queue.isEmpty() ? config.defaultQueue() : queue;
    List<byte[]> elements =
        session.await(session.commands().lrange(new QueueKeys(name).deadLetters(), 0, -1));
    List<DeadLetter> out = new ArrayList<>(elements.size());
    for (byte[] element : elements) {
      out.add(DeadLetter.fromJson(name, element));
    }
    return out;
  }

  /**
   * Queue sizes, pages of waiting, delayed and dead-lettered tasks, dead-letter repair and purge
   * ({@link RedisInspector}).
   */
  @Override
  public Optional<Inspector> inspector() {
    return Optional.of(inspector);
  }

  /**
   * Live workers and paused queues in this broker's Redis, under {@link Builder#controlKeyPrefix}
   * (the same keys a {@code RedisBackend} on that Redis uses).
   */
  @Override
  public Optional<ControlPlane> controlPlane() {
    return Optional.of(controlPlane);
  }

  /**
   * Decodes listed messages; those that are not tasks are skipped and logged (a worker dead-letters
   * them).
   */
  static List<Signature> decodeAll(List<byte[]> messages) {
    List<Signature> out = new ArrayList<>(messages.size());
    for (byte[] message : messages) {
      try {
        out.add(WireCodec.decodeSignature(message));
      } catch (MalformedMessageException e) {
        log.warn("Skipping a malformed message while listing tasks: {}", e.getMessage());
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // internals

  RedisSession session() {
    return session;
  }

  Config config() {
    return config;
  }

  Clock clock() {
    return clock;
  }

  Duration leaseTimeout() {
    return leaseTimeout;
  }

  int fetchBatchSize() {
    return fetchBatchSize;
  }

  long fetchByteBudget() {
    return fetchByteBudget;
  }

  int deadLetterLimit() {
    return deadLetterLimit;
  }

  String delayedKey() {
    return delayedKey;
  }

  Duration heartbeatInterval() {
    return leaseTimeout.dividedBy(3);
  }

  /**
   * How often a consumer looks for messages a lost fetch reply left in its processing list: at
   * least 1 s.
   */
  Duration sweepInterval() {
    Duration reap = reapInterval();
    return reap.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : reap;
  }

  Duration reapInterval() {
    Duration half = leaseTimeout.dividedBy(2);
    return half.compareTo(Duration.ofMillis(100)) < 0 ? Duration.ofMillis(100) : half;
  }

  static long nanos(Instant instant) {
    return RedisArgs.unixNanos(instant);
  }

  static byte[] bytes(String text) {
    return RedisArgs.bytes(text);
  }

  void checkOpen() {
    if (closed.get()) {
      throw new MachineryException("the Redis broker is closed");
    }
  }

  /**
   * Closes every consumer (their unsettled tasks go back to their queues), stops the maintenance
   * threads, then closes the connections (unless the session was {@linkplain
   * Builder#session(RedisSession) passed in}: its owner closes it). Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    for (RedisConsumer consumer : consumers) {
      consumer.brokerClosed();
    }
    maintenance.close();
    if (ownsSession) {
      session.close();
    }
  }

  @Override
  public String toString() {
    return "RedisBroker{" + session.address() + "}";
  }

  /** Builds a {@link RedisBroker}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Clock clock = Clock.systemUTC();
    private Duration leaseTimeout = DEFAULT_LEASE_TIMEOUT;
    private int fetchBatchSize = DEFAULT_FETCH_BATCH_SIZE;
    private long fetchByteBudget = DEFAULT_FETCH_BYTE_BUDGET;
    private int deadLetterLimit = DEFAULT_DEAD_LETTER_LIMIT;
    private @Nullable String url;
    private @Nullable RedisSession session;
    private String controlKeyPrefix = RedisControlPlane.DEFAULT_KEY_PREFIX;
    private boolean priorities;
    private boolean fairness;
    private int prefetch = -1;
    private Duration prefetchHold = Duration.ofMillis(RedisConsumer.PREFETCH_HOLD_MILLIS);
    private int ackReplicas;
    private Duration ackTimeout;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
      // the config's setting (REDIS_REPLICA_ACKS), checked by its record, until replicaAcks is
      // called
      this.ackReplicas = config.redis().replicaAcks();
      this.ackTimeout = config.redis().replicaAckTimeout();
    }

    /**
     * The clock for ETAs, delayed-task scores and dead-letter times; default the system UTC clock.
     */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * How long a consumer's tasks stay reserved for it without a heartbeat (default {@link
     * #DEFAULT_LEASE_TIMEOUT}); after a consumer dies its tasks run again this much later at the
     * latest. It must exceed the longest pause a live worker may have (GC, a stalled host).
     */
    public Builder leaseTimeout(Duration value) {
      if (value.compareTo(Duration.ofMillis(300)) < 0) {
        throw new IllegalArgumentException("leaseTimeout must be at least 300 ms, was " + value);
      }
      leaseTimeout = value;
      return this;
    }

    /** The most messages one fetch takes, 1..10000 (default {@value #DEFAULT_FETCH_BATCH_SIZE}). */
    public Builder fetchBatchSize(int value) {
      if (value < 1 || value > 10_000) {
        throw new IllegalArgumentException("fetchBatchSize must be 1..10000, was " + value);
      }
      fetchBatchSize = value;
      return this;
    }

    /**
     * The most bytes one fetch takes from a queue, at least 1 KiB (default {@value
     * #DEFAULT_FETCH_BYTE_BUDGET}); the first message is always taken, so a reply is at most this
     * plus one message.
     */
    public Builder fetchByteBudget(long value) {
      if (value < 1024) {
        throw new IllegalArgumentException("fetchByteBudget must be at least 1024, was " + value);
      }
      fetchByteBudget = value;
      return this;
    }

    /**
     * How many envelopes each dead-letter list keeps, the newest (default {@value
     * #DEFAULT_DEAD_LETTER_LIMIT}): older ones are dropped as new ones arrive, so a flood of bad
     * messages cannot fill Redis.
     */
    public Builder deadLetterLimit(int value) {
      if (value < 1) {
        throw new IllegalArgumentException("deadLetterLimit must be at least 1, was " + value);
      }
      deadLetterLimit = value;
      return this;
    }

    /**
     * Uses {@code value} instead of opening a session of its own (so a broker, a backend and a lock
     * can share one Lettuce client and its threads); the caller owns it and closes it after the
     * broker. Its settings (timeouts) then come from whoever opened it; {@link #url} is ignored.
     */
    public Builder session(RedisSession value) {
      session = Objects.requireNonNull(value, "session");
      return this;
    }

    /**
     * The prefix of the keys of the {@linkplain RedisBroker#controlPlane() control plane} and of
     * the inspector's registry of queues (default {@value RedisControlPlane#DEFAULT_KEY_PREFIX});
     * processes that are operated together use the same one.
     */
    public Builder controlKeyPrefix(String value) {
      controlKeyPrefix = RedisControlPlane.checkPrefix(value);
      return this;
    }

    /**
     * Honours Go's {@code Priority} (0-255) as AMQP does; default false (Go's Redis broker ignores
     * it). A task with a priority above 0 is then pushed to its queue's priority band {@code
     * {queue}:priority:<1-9>} (priorities above 9 count as 9, as with RabbitMQ's {@code
     * x-max-priority: 9}), and each fetch also moves prioritized messages a Go producer pushed to
     * the plain queue, among its first {@link #PRIORITY_WINDOW}, to their bands. Consumers take by
     * the weighted fetch of {@link io.machinery.spi.PriorityBands}: strict priority, except that
     * one take in ten goes to a lower band that waits, so nothing starves. Go workers on the same
     * queue keep taking priority-0 tasks from the plain list, and never see the bands: turn this on
     * only for queues that Java workers consume.
     *
     * @param value true to honour priorities
     * @return this builder
     */
    public Builder priorities(boolean value) {
      priorities = value;
      return this;
    }

    /**
     * Shares each queue's turns between fairness keys ({@link Signature.Builder#fairnessKey},
     * header {@value Signature#FAIRNESS_KEY_HEADER}); default false (Go's Redis broker has no such
     * thing). A task with a key is then pushed to its key's lane {@code {queue}:fair:<key>}, and
     * each fetch also moves tasks with a key among the first {@link #PRIORITY_WINDOW} of the plain
     * queue (a Go producer's, a retry, a delayed task that fell due) to their lanes. Consumers take
     * one task of each waiting key in turn, and every (keys + 1)th take goes to the tasks without a
     * key ({@link io.machinery.spi.FairShares}): a tenant with a backlog of 100,000 tasks gets the
     * same share as one with 3. A key's tasks ignore {@code Priority}. Every consumer takes from
     * the lanes, with or without this setting; Go workers never see them: turn this on only for
     * queues that Java workers consume. A task with a key published while nothing waits (the queue
     * and every lane empty) goes to the plain queue, so that an idle consumer's blocking move,
     * which watches only that list, takes it at once; a fetch that finds it there puts it at the
     * head of its lane, so its key's order holds.
     *
     * @param value true to share turns between fairness keys
     * @return this builder
     */
    public Builder fairness(boolean value) {
      fairness = value;
      return this;
    }

    /**
     * How many messages a consumer may fetch ahead of its free slots while its tasks are short, so
     * that a slot that frees up gets its next task without waiting for Redis (default: four times
     * the worker's concurrency, Celery's default multiplier, at most {@link #fetchBatchSize}; 0
     * fetches only for free slots). The messages fetched ahead are in the consumer's processing
     * list under its lease, so a worker that dies loses none of them. When no slot frees up within
     * {@value RedisConsumer#PREFETCH_HOLD_MILLIS} ms (the tasks are long), they go back to the head
     * of the queue for other workers and the consumer stops fetching ahead for a second: long tasks
     * never wait behind one busy worker (as they do with Celery's prefetch multiplier).
     *
     * @param messages 0..10000
     * @return this builder
     */
    public Builder prefetch(int messages) {
      if (messages < 0 || messages > 10_000) {
        throw new IllegalArgumentException("prefetch must be 0..10000, was " + messages);
      }
      prefetch = messages;
      return this;
    }

    /**
     * Makes every send wait until at least {@code replicas} replicas have its writes (Redis {@code
     * WAIT replicas timeout} after them, on the same connection); default the config's {@link
     * io.machinery.config.RedisConfig#replicaAcks()} and {@link
     * io.machinery.config.RedisConfig#replicaAckTimeout()} ({@code REDIS_REPLICA_ACKS} and {@code
     * REDIS_REPLICA_ACK_TIMEOUT}), which are off unless set. Called, it wins over them: {@code
     * replicaAcks(0, Duration.ZERO)} turns off what the config turned on. Redis replicates
     * asynchronously, so without it a task whose send returned may still be lost when a replica is
     * promoted (a Sentinel failover: the writes the old primary acknowledged in the fraction of a
     * second before the switch). With it, a send that returns normally is on {@code replicas}
     * replicas; one that finds fewer within {@code timeout} fails with a {@link MachineryException}
     * saying that the task may or may not have been stored (at-least-once: send it again if it must
     * run). It covers every send through this broker: {@code sendTask}, groups and batches (one
     * {@code WAIT} per batch), delayed tasks, and what workers send (a chain's next task, chord
     * callbacks, retries); and on a session shared with the Redis backend the send's PENDING state
     * too.
     *
     * <p>Cost: two small commands and one {@code WAIT} in the send's pipeline (no extra waited
     * round trip), and the time the replicas take to acknowledge. At most one {@code WAIT} per
     * broker is in flight; it holds the broker's connection (and a backend's on the same session)
     * until it answers, at most {@code timeout}: keep it short. With one replica, a failover leaves
     * none until the old primary rejoins as a replica, and sends fail meanwhile. A replica that is
     * promoted without having acknowledged (more replicas than {@code replicas}, and a Sentinel
     * that picks a lagging one) can still lose a task: ask for as many replicas as may be promoted.
     * Not supported on a Redis Cluster.
     *
     * @param replicas how many replicas must acknowledge each send, 0 for off
     * @param timeout how long a send waits for them: when on, at least 1 ms and below the command
     *     timeout ({@link io.machinery.config.RedisConfig#readTimeout()}; checked by {@link
     *     #build()})
     * @return this builder
     * @throws IllegalArgumentException when the values break {@link
     *     io.machinery.config.RedisConfig#checkReplicaAcks} ({@code replicas} negative, or on with
     *     {@code timeout} below 1 ms)
     */
    public Builder replicaAcks(int replicas, Duration timeout) {
      ReplicaAcks.check(replicas, Objects.requireNonNull(timeout, "timeout"));
      ackReplicas = replicas;
      ackTimeout = timeout;
      return this;
    }

    /** How long messages fetched ahead wait for a free slot (tests). */
    Builder prefetchHold(Duration value) {
      prefetchHold = Objects.requireNonNull(value, "value");
      return this;
    }

    /** The Redis URL; default {@link Config#broker()}. */
    public Builder url(String value) {
      url = Objects.requireNonNull(value, "url");
      return this;
    }

    /**
     * Connects and builds the broker.
     *
     * @throws IllegalArgumentException when the URL is not a Redis URL, or {@link #replicaAcks} is
     *     on for a Redis Cluster or with a timeout not below the command timeout
     * @throws MachineryException when Redis cannot be reached
     */
    public RedisBroker build() {
      return new RedisBroker(this);
    }
  }

  /**
   * The provider that lets {@link io.machinery.Machinery#connect(io.machinery.config.Config,
   * io.machinery.spi.ComponentProvider...)} build this component from a config's URL (schemes
   * chosen by URL only, never by a class name).
   *
   * @return the provider, stateless and shared
   */
  public static io.machinery.spi.ComponentProvider provider() {
    return RedisBrokerProvider.INSTANCE;
  }
}
